#pragma once
// TLS termination for one HTTPS port: the certificates of the Gateway listener sections sharing it,
// and the OpenSSL server contexts a connection's handshake picks from. The ClientHello callback picks
// the section by SNI and, within it, the certificates whose names cover the SNI; each section context
// holds every key type its certificateRefs bring (RSA, ECDSA...), among which OpenSSL picks by the
// client's signature algorithms and ciphers. Built once per RouteTable (immutable afterwards); SSL_CTX
// is safe for concurrent handshakes once configured, so every worker shares it. Session tickets are
// encrypted with the process's in-memory ticket keys (ticket_keys.h), the same on every worker.

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

class TicketKeys;

// The application protocols (ALPN) a TLS listener offers when its policy names none, in the server's
// order of preference (proxy/http2_session.h serves h2).
inline constexpr std::string_view kDefaultAlpnProtocols[] = {"h2", "http/1.1"};

struct CertificatePair {
  std::string cert_pem;  // the chain, leaf first
  std::string key_pem;
};

// A section's handshake settings (ClientTrafficPolicy spec.tls); empty values are the defaults.
struct TlsOptions {
  std::string min_version = {};                  // "1.2" or "1.3"; "": 1.2
  std::string max_version = {};                  // "1.2" or "1.3"; "": 1.3
  std::vector<std::string> ciphers = {};         // TLS 1.2 cipher suites, OpenSSL names; empty: OpenSSL's
  std::vector<std::string> alpn_protocols = {};  // in preference order; empty: kDefaultAlpnProtocols
  bool operator==(const TlsOptions&) const = default;
};

// One Gateway listener section of an HTTPS port.
struct TlsCertificate {
  std::string section;                 // the Gateway listener name
  std::string hostname;                // the listener's hostname: "" = any, "*.example.com" = wildcard
  std::vector<CertificatePair> pairs;  // one per certificateRef, in order; not empty
  TlsOptions options = {};
  // Client certificate validation (Gateway spec.tls.frontend): PEM CA certificates the client's chain must
  // lead to; "" asks for no client certificate. `client_certificate_optional` (AllowInsecureFallback): a
  // client without one, or with one that fails validation, is let through all the same.
  std::string client_ca_pem = {};
  bool client_certificate_optional = false;
};

// The protocol ALPN selected on a connection after its handshake; "" when the client offered none.
std::string_view negotiated_protocol(const SSL* ssl);

// The server name (SNI) a client sent in its handshake; "" when none.
std::string_view server_name(const SSL* ssl);

// The server's ALPN choice (RFC 7301 section 3.2): the first of `server` (in preference order) that the
// client offers in `client_wire` (its ProtocolNameList, length-prefixed names). nullopt when none is, or the
// list is malformed: the handshake then ends with a no_application_protocol alert.
std::optional<std::string_view> select_alpn(std::span<const std::string> server,
                                            std::string_view client_wire);

// Standard base64 (as Kubernetes writes Secret data); whitespace is ignored. nullopt when invalid.
std::optional<std::string> decode_base64(std::string_view text);

// The certificate for a ClientHello's server name: the listener with that exact hostname, then the
// longest wildcard covering it, then the listener without hostname, then the first. `certs` is not
// empty; an empty `server_name` (no SNI) skips the first two steps.
size_t select_certificate(std::span<const TlsCertificate> certs, std::string_view server_name);

// Empty when the PEM certificate chain and private key load and belong together, else why not.
std::string check_certificate(std::string_view cert_pem, std::string_view key_pem);

// Empty when `pem` holds at least one CA certificate and nothing else that fails to parse, else why not.
std::string check_ca_bundle(std::string_view pem);

// Empty when OpenSSL accepts the options, else why not (an unknown cipher, a version we do not speak,
// a minimum above the maximum, an ALPN protocol other than kDefaultAlpnProtocols' and http/1.0).
std::string check_tls_options(const TlsOptions& options);

class TlsServerContext {
 public:
  // `identity` (say "gateway/ns/name:443") becomes the session id context, so that a ticket resumes
  // only on the listener that issued it. `ticket_keys` null: TicketKeys::process().
  // Throws std::runtime_error when a certificate or option does not load (check_certificate() and
  // check_tls_options() say why first).
  explicit TlsServerContext(std::vector<TlsCertificate> certs, std::string_view identity = {},
                            std::shared_ptr<TicketKeys> ticket_keys = nullptr);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // The context a handshake starts with (the no-SNI choice); the ClientHello may switch the SSL to another.
  asio::ssl::context& context() const { return *groups_[default_group_].context; }
  const std::vector<TlsCertificate>& certificates() const { return certs_; }
  // The section a handshake ended on ("" when `ssl` was not made from this context).
  std::string_view section_of(const SSL* ssl) const;

 private:
  // One SSL_CTX: a section's certificates for one set of names, at most one per key type.
  struct Group {
    size_t section = 0;
    std::vector<std::string> names;  // the DNS names (or CN) of its first leaf, sorted
    std::vector<int> key_types;      // EVP_PKEY base ids held
    std::unique_ptr<asio::ssl::context> context;
  };

  static int on_client_hello(SSL* ssl, int* alert, void* arg);
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                     unsigned int in_len, void* arg);
  size_t group_for(size_t section, std::string_view server_name) const;

  std::vector<TlsCertificate> certs_;
  std::vector<Group> groups_;  // by section, in order
  std::shared_ptr<TicketKeys> ticket_keys_;
  size_t default_group_ = 0;
};

}  // namespace mg::net
