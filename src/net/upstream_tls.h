#pragma once
// The client side of TLS to a backend (BackendTLSPolicy, GEP-1897): the CA certificates the backend's
// chain must lead to (or the OS trust store), the name sent as SNI, and the names the certificate must
// carry. Built once per RouteTable and shared by every worker (an SSL_CTX is safe for concurrent
// handshakes once configured); each connection's SSL gets its SNI and names from prepare().

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;  // NOLINT: OpenSSL's own spelling, to keep <openssl/ssl.h> out of this header

namespace asio::ssl {
class context;
}

namespace mg::net {

struct UpstreamTlsSettings {
  std::string policy;        // "namespace/name" of the BackendTLSPolicy, for logs
  std::string ca_pem;        // the CA bundle; empty: the system's trust store
  std::string hostname;      // SNI; the name verified when no subject alt names are given
  std::vector<std::string> san_hostnames;  // when either list is set, the certificate must match one
  std::vector<std::string> san_uris;       // entry of them instead of `hostname`
  bool operator==(const UpstreamTlsSettings&) const = default;
};

// Why a handshake (or the check after it) failed; mirrors stats::UpstreamTlsError.
enum class UpstreamTlsFailure : uint8_t { kNone, kCertificateUntrusted, kNameMismatch, kHandshakeFailed };

// Empty when `pem` holds at least one certificate that parses (and nothing that does not), else why not.
std::string check_upstream_ca_bundle(std::string_view pem);

class UpstreamTlsContext {
 public:
  // Throws std::runtime_error when the CA bundle does not load (check_upstream_ca_bundle says why first)
  // or the system trust store cannot be read.
  explicit UpstreamTlsContext(UpstreamTlsSettings settings);
  ~UpstreamTlsContext();
  UpstreamTlsContext(const UpstreamTlsContext&) = delete;
  UpstreamTlsContext& operator=(const UpstreamTlsContext&) = delete;

  asio::ssl::context& context() const { return *context_; }
  const UpstreamTlsSettings& settings() const { return settings_; }
  // Prefixed to an endpoint's address as the idle-pool key, so TLS connections (and those of another
  // policy) never mix with plain ones to the same address.
  const std::string& pool_prefix() const { return pool_prefix_; }

  // SNI and the name checks on a connection's SSL before its handshake; `h2` offers ALPN h2 instead of
  // http/1.1. False when OpenSSL refuses them.
  bool prepare(SSL* ssl, bool h2 = false) const;
  // After a handshake that OpenSSL accepted: the URI subject alt names, which OpenSSL cannot check.
  bool peer_matches(SSL* ssl) const;
  // Why a failed handshake failed (the verify result tells a bad chain from a wrong name).
  static UpstreamTlsFailure classify(SSL* ssl);
  // Words for the log: the verify error when there is one, else OpenSSL's last error.
  static std::string describe(SSL* ssl);

 private:
  UpstreamTlsSettings settings_;
  std::string pool_prefix_;
  std::unique_ptr<asio::ssl::context> context_;
};

}  // namespace mg::net
