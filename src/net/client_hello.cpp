#include "net/client_hello.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <utility>

namespace mg::net {
namespace {

// ALPN's protocol_name_list (RFC 7301 section 3.1): a 2-byte length, then 1-byte-length-prefixed names.
std::vector<std::string> alpn_names(const unsigned char* p, size_t len) {
  std::vector<std::string> names;
  if (len < 2 || ((size_t{p[0]} << 8) | p[1]) + 2 != len) return names;
  for (size_t at = 2; at < len;) {
    const size_t n = p[at];
    if (n == 0 || at + 1 + n > len) return {};
    names.emplace_back(reinterpret_cast<const char*>(p + at + 1), n);
    at += 1 + n;
  }
  return names;
}

}  // namespace

std::string_view client_hello_server_name(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return {};
  const size_t list = (size_t{p[0]} << 8) | p[1];
  if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  const size_t name = (size_t{p[3]} << 8) | p[4];
  if (name + 5 > len) return {};
  return std::string_view(reinterpret_cast<const char*>(p + 5), name);
}

// It only parses: no certificate is needed, as the handshake never gets past the ClientHello callback,
// and every version is let in, for the backend to judge.
SSL_CTX* ClientHelloInspector::context() {
  static SSL_CTX* const context = [] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return ctx;
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_max_proto_version(ctx, 0);
    SSL_CTX_set_client_hello_cb(ctx, &ClientHelloInspector::on_client_hello, nullptr);
    return ctx;
  }();
  return context;
}

ClientHelloInspector::ClientHelloInspector() {
  SSL_CTX* ctx = context();
  ssl_ = ctx ? SSL_new(ctx) : nullptr;
  if (!ssl_) {
    reject("cannot create an OpenSSL object to read the ClientHello");
    return;
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());  // the alerts OpenSSL might write: never sent anywhere
  SSL_set_bio(ssl_, in, out);
  SSL_set_accept_state(ssl_);
  SSL_set_ex_data(ssl_, 0, this);
}

ClientHelloInspector::~ClientHelloInspector() {
  if (ssl_) SSL_free(ssl_);
}

void ClientHelloInspector::reject(std::string why) {
  result_ = Result::kRejected;
  error_ = std::move(why);
}

int ClientHelloInspector::on_client_hello(SSL* ssl, int*, void*) {
  auto* self = static_cast<ClientHelloInspector*>(SSL_get_ex_data(ssl, 0));
  self->server_name_ = client_hello_server_name(ssl);
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) == 1)
    self->alpn_ = alpn_names(p, len);
  self->result_ = Result::kDone;
  return SSL_CLIENT_HELLO_RETRY;  // pauses the handshake here: nothing is answered
}

ClientHelloInspector::Result ClientHelloInspector::feed(std::string_view bytes) {
  if (result_ != Result::kNeedMore || bytes.empty()) return result_;
  if (bytes_.size() + bytes.size() > kMaxBytes) {
    reject("no complete ClientHello within " + std::to_string(kMaxBytes) + " bytes");
    return result_;
  }
  bytes_.append(bytes);
  BIO_write(SSL_get_rbio(ssl_), bytes.data(), static_cast<int>(bytes.size()));
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (result_ == Result::kDone) return result_;
  const int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ) return result_;
  const unsigned long code = ERR_peek_error();
  char reason[256] = "";
  if (code) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  reject(std::string("not a TLS ClientHello") + (code ? std::string(": ") + reason : std::string()));
  return result_;
}

}  // namespace mg::net
