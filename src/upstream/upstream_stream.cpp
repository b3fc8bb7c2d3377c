#include "upstream/upstream_stream.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

namespace mg::upstream {

size_t UpstreamStream::buffered() const {
  if (!tls_) return 0;
  SSL* ssl = tls_->native_handle();
  // Decrypted bytes not read yet, and records in the read BIO that OpenSSL has not opened yet.
  return static_cast<size_t>(SSL_pending(ssl)) + BIO_ctrl_pending(SSL_get_rbio(ssl));
}

}  // namespace mg::upstream
