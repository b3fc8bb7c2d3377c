#pragma once
// A TCP socket or TLS over one, in this process: what a downstream connection (ClientStream) and a backend
// connection (upstream::UpstreamStream) have in common. It models Asio's AsyncReadStream and
// AsyncWriteStream, so sessions, relays and tunnels use it like a socket; the choice costs one branch per
// I/O operation and no allocation or virtual call, which keeps the plain path as cheap as a bare socket.
// Completion tokens pass through unchanged (`as_tuple(use_awaitable)` never throws).

#include <memory>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include "net/tls_socket.h"

namespace mg::net {

class TcpOrTlsStream {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using TlsStream = TlsSocket;

  explicit TcpOrTlsStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  // TLS over `socket` with `context`'s SSL_CTX; the handshake is the owner's.
  TcpOrTlsStream(asio::ip::tcp::socket socket, asio::ssl::context& context)
      : socket_(socket.get_executor()), tls_(std::make_unique<TlsStream>(std::move(socket), context)) {}

  bool is_tls() const { return tls_ != nullptr; }
  TlsStream* tls() { return tls_.get(); }
  // The TCP socket underneath: for the watchdog (closing or cancelling it ends any TLS operation too),
  // addresses, options and half-closes.
  asio::ip::tcp::socket& lowest_layer() { return tls_ ? tls_->next_layer() : socket_; }
  const asio::ip::tcp::socket& lowest_layer() const { return tls_ ? tls_->next_layer() : socket_; }
  executor_type get_executor() { return lowest_layer().get_executor(); }
  bool is_open() const { return lowest_layer().is_open(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }

 protected:
  asio::ip::tcp::socket socket_;     // the connection when plain; unused (never opened) under TLS
  std::unique_ptr<TlsStream> tls_;  // set for TLS; owns the connection's socket
};

}  // namespace mg::net
