#pragma once
// The transport of a backend connection: a plain TCP socket or TLS over one (a BackendTLSPolicy), in
// this process, with no relay between the two (net/tcp_or_tls_stream.h), so the exchange, body relays,
// tunnels and h2c links use it like a socket.
//
// A TLS close reads as a plain one: close_notify and a TCP close without it (a truncated record, which
// OpenSSL reports as stream_truncated) both end a read with asio::error::eof, as a plain connection's
// EOF does, so a close-delimited body ends and a reuse race is recognised the same way.

#include <memory>
#include <system_error>
#include <utility>

#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/error.hpp>

#include "net/tcp_or_tls_stream.h"
#include "net/upstream_tls.h"

namespace mg::upstream {

class UpstreamStream : public net::TcpOrTlsStream {
 public:
  explicit UpstreamStream(asio::ip::tcp::socket socket) : TcpOrTlsStream(std::move(socket)) {}
  // TLS over `socket` with the policy's SSL_CTX; the handshake is the caller's (tls_connection.cpp).
  // The context is kept for as long as the stream lives, which keeps its SSL_CTX alive with it.
  UpstreamStream(asio::ip::tcp::socket socket, std::shared_ptr<const net::UpstreamTlsContext> context)
      : TcpOrTlsStream(std::move(socket), context->context()), context_(std::move(context)) {}

  const net::UpstreamTlsContext& tls_context() const { return *context_; }  // only on a TLS stream

  // Under TLS these act on TCP only (no close_notify): the backend sees the close a plain one would.
  void shutdown(asio::ip::tcp::socket::shutdown_type what, std::error_code& ec) { lowest_layer().shutdown(what, ec); }
  void cancel(std::error_code& ec) { lowest_layer().cancel(ec); }
  void close(std::error_code& ec) { lowest_layer().close(ec); }
  // Nonzero when the TLS layer already took bytes from the socket that nobody read yet (a peek at the
  // socket misses them): the decrypted bytes waiting, or 1 for records not opened yet; 0 for plain
  // connections.
  size_t buffered() const;

  // As TcpOrTlsStream's, with a TLS record cut short by a TCP close read as EOF (see above).
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (!tls_) return socket_.async_read_some(buffers, std::forward<Token>(token));
    return asio::async_compose<Token, void(std::error_code, size_t)>(
        [tls = tls_.get(), buffers, started = false](auto& self, std::error_code ec = {}, size_t n = 0) mutable {
          if (!started) {
            started = true;
            tls->async_read_some(buffers, std::move(self));
            return;
          }
          if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
          self.complete(ec, n);
        },
        token, *tls_);
  }

 private:
  std::shared_ptr<const net::UpstreamTlsContext> context_;
};

}  // namespace mg::upstream
