#pragma once
// The client side of a downstream connection: a plain TCP socket or TLS over one (tcp_or_tls_stream.h),
// with what the server side of TLS adds: the handshake, close_notify, ALPN and SNI.

#include <string_view>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream_base.hpp>

#include "net/tcp_or_tls_stream.h"
#include "net/tls_context.h"

namespace mg::net {

class ClientStream : public TcpOrTlsStream {
 public:
  using TcpOrTlsStream::TcpOrTlsStream;

  // The application protocol ALPN selected in the handshake: "h2", "http/1.1", or "" (plain, or the
  // client offered no ALPN, which means HTTP/1.1).
  std::string_view alpn_protocol() const { return tls_ ? negotiated_protocol(tls_->native_handle()) : ""; }
  // The server name (SNI) the client sent; "" for plain connections or none.
  std::string_view server_name() const { return tls_ ? net::server_name(tls_->native_handle()) : ""; }

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
};

}  // namespace mg::net
