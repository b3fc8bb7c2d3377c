#pragma once
// The client side of a downstream connection: a plain TCP socket or TLS over one. It models Asio's
// AsyncReadStream/AsyncWriteStream, so the session and relay_body() use it like a socket; the choice
// costs one branch per I/O operation, no allocation and no virtual call, which keeps the plain-HTTP
// path as it was. Completion tokens pass through unchanged (`as_tuple(use_awaitable)` never throws).

#include <memory>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>

#include "net/tls_context.h"

namespace mg::net {

class ClientStream {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  explicit ClientStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  ClientStream(asio::ip::tcp::socket socket, asio::ssl::context& context)
      : socket_(socket.get_executor()), tls_(std::make_unique<TlsStream>(std::move(socket), context)) {}

  bool is_tls() const { return tls_ != nullptr; }
  // The application protocol ALPN selected in the handshake: "h2", "http/1.1", or "" (plain, or the
  // client offered no ALPN, which means HTTP/1.1).
  std::string_view alpn_protocol() const { return tls_ ? negotiated_protocol(tls_->native_handle()) : ""; }
  // The server name (SNI) the client sent; "" for plain connections or none.
  std::string_view server_name() const { return tls_ ? net::server_name(tls_->native_handle()) : ""; }
  // The TCP socket underneath: for the watchdog (closing or cancelling it ends any TLS operation too),
  // addresses and options.
  asio::ip::tcp::socket& lowest_layer() { return tls_ ? tls_->next_layer() : socket_; }
  executor_type get_executor() { return lowest_layer().get_executor(); }

  // Server side of the TLS handshake; only on a TLS stream.
  template <typename Token>
  auto async_handshake(Token&& token) {
    return tls_->async_handshake(asio::ssl::stream_base::server, std::forward<Token>(token));
  }

  // Sends close_notify and waits for the peer's (or its close); only on a TLS stream.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return tls_->async_shutdown(std::forward<Token>(token));
  }

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

 private:
  asio::ip::tcp::socket socket_;     // the connection when plain; unused (never opened) under TLS
  std::unique_ptr<TlsStream> tls_;  // set for TLS; owns the connection's socket
};

}  // namespace mg::net
