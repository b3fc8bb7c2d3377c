#pragma once
// A TLS client's first flight, read without terminating TLS: what TLS passthrough (a Gateway listener
// with protocol TLS and mode Passthrough, routed by TLSRoute) needs to choose a backend before a single
// byte goes to it. OpenSSL parses the records and the ClientHello on a throwaway server SSL object fed
// from memory, as Envoy's tls_inspector does with BoringSSL; the handshake stops in OpenSSL's ClientHello
// callback, which reads the server_name and ALPN extensions. Every byte fed is kept, to be forwarded to
// the backend unchanged.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;  // NOLINT: OpenSSL's own spelling, to keep <openssl/ssl.h> out of this header
struct ssl_ctx_st;

namespace mg::net {

// The host_name of a ClientHello's server_name extension (RFC 6066 section 3), during OpenSSL's
// ClientHello callback; "" when absent or malformed.
std::string_view client_hello_server_name(SSL* ssl);

class ClientHelloInspector {
 public:
  enum class Result {
    kNeedMore,  // the ClientHello is not complete yet: feed more
    kDone,      // server_name() and alpn() hold what the client asked for
    kRejected,  // not a TLS ClientHello (or too large): error() says why
  };
  // At most this many bytes before the ClientHello is complete (a ClientHello with large key shares is
  // a few KiB; one message may span several 16 KiB records).
  static constexpr size_t kMaxBytes = 64 * 1024;

  ClientHelloInspector();
  ~ClientHelloInspector();
  ClientHelloInspector(const ClientHelloInspector&) = delete;
  ClientHelloInspector& operator=(const ClientHelloInspector&) = delete;

  // Takes the next bytes from the client. After kDone or kRejected the answer stays, and more bytes are
  // neither parsed nor kept.
  Result feed(std::string_view bytes);
  Result result() const { return result_; }
  // Everything fed until the result was known (for the backend, unchanged).
  const std::string& bytes() const { return bytes_; }
  const std::string& server_name() const { return server_name_; }  // "" when the client sent none
  const std::vector<std::string>& alpn() const { return alpn_; }   // in the client's order
  const std::string& error() const { return error_; }

 private:
  static int on_client_hello(SSL* ssl, int* alert, void* arg);
  // One context for every inspector, made once.
  static ssl_ctx_st* context();
  void reject(std::string why);

  SSL* ssl_ = nullptr;
  std::string bytes_;
  std::string server_name_;
  std::vector<std::string> alpn_;
  std::string error_;
  Result result_ = Result::kNeedMore;
};

}  // namespace mg::net
