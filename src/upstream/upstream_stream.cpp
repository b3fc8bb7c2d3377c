#include "upstream/upstream_stream.h"

#include <openssl/ssl.h>

namespace mg::upstream {

size_t UpstreamStream::buffered() const {
  if (!tls_) return 0;
  SSL* ssl = tls_->native_handle();
  // Decrypted bytes not read yet; else whether OpenSSL read ahead bytes it has not opened yet (it reads
  // the socket itself, read-ahead on: net/tls_socket.h), which it does not count.
  const int pending = SSL_pending(ssl);
  if (pending > 0) return static_cast<size_t>(pending);
  return SSL_has_pending(ssl) ? 1 : 0;
}

}  // namespace mg::upstream
