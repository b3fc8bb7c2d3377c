#pragma once
// TLS termination for one HTTPS port: the certificates of the Gateway listener sections sharing it,
// and the OpenSSL server context a connection starts with, which switches to the section's own
// context by SNI. Built once per RouteTable (immutable afterwards); SSL_CTX is safe for concurrent
// handshakes once configured, so every worker shares it.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;  // NOLINT: OpenSSL's own spelling, to keep <openssl/ssl.h> out of this header

namespace asio::ssl {
class context;
}

namespace mg::net {

// The application protocols (ALPN) a TLS listener offers when its policy names none, in the server's
// order of preference. h2 joins, in front, when the HTTP/2 session lands.
inline constexpr std::string_view kDefaultAlpnProtocols[] = {"http/1.1"};

struct TlsCertificate {
  std::string section;   // the Gateway listener name
  std::string hostname;  // the listener's hostname: "" = any, "*.example.com" = wildcard
  std::string cert_pem;  // the chain, leaf first
  std::string key_pem;
  // ALPN protocols the section selects from, in preference order; empty: kDefaultAlpnProtocols.
  std::vector<std::string> alpn_protocols;
};

// The protocol ALPN selected on a connection after its handshake; "" when the client offered none.
std::string_view negotiated_protocol(const SSL* ssl);

// The server's ALPN choice (RFC 7301 section 3.2): the first of `server` (in preference order) that the
// client offers in `client_wire` (its ProtocolNameList, length-prefixed names). nullopt when none is, or the
// list is malformed: the handshake then ends with a no_application_protocol alert.
std::optional<std::string_view> select_alpn(std::span<const std::string> server, std::string_view client_wire);

// Standard base64 (as Kubernetes writes Secret data); whitespace is ignored. nullopt when invalid.
std::optional<std::string> decode_base64(std::string_view text);

// The certificate for a ClientHello's server name: the listener with that exact hostname, then the
// longest wildcard covering it, then the listener without hostname, then the first. `certs` is not
// empty; an empty `server_name` (no SNI) skips the first two steps.
size_t select_certificate(std::span<const TlsCertificate> certs, std::string_view server_name);

// Empty when the PEM certificate chain and private key load and belong together, else why not.
std::string check_certificate(std::string_view cert_pem, std::string_view key_pem);

class TlsServerContext {
 public:
  // Throws std::runtime_error when a certificate does not load (check_certificate() says why first).
  explicit TlsServerContext(std::vector<TlsCertificate> certs);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // The context a handshake starts with (the no-SNI choice); SNI may switch the SSL to another one.
  asio::ssl::context& context() const { return *contexts_[default_]; }
  const std::vector<TlsCertificate>& certificates() const { return certs_; }

 private:
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                     unsigned int in_len, void* arg);

  std::vector<TlsCertificate> certs_;
  std::vector<std::unique_ptr<asio::ssl::context>> contexts_;  // one per certificate, same order
  size_t default_ = 0;
};

}  // namespace mg::net
