#pragma once
// A connection to a TLS Passthrough listener (Gateway listener protocol TLS, mode Passthrough): its
// TLS is never opened. The ClientHello is read (net/client_hello.h) within the header timeout, its
// server name picks the TLSRoute (route::Listener::route_sni) and a backend by weight, a new TCP
// connection to one of its ready endpoints gets the client's bytes from the first one on, and the two
// sockets are relayed as bytes (tunnel.h) until both sides end or nothing moves for the tunnel idle
// timeout. One access-log line per connection, with the server name, the backend and the bytes each way.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/listener_slot.h"
#include "proxy/session_context.h"

namespace mg::proxy {

asio::awaitable<void> serve_tls_passthrough(SessionContext& context, asio::ip::tcp::socket socket,
                                            ListenerSlot& listener);

}  // namespace mg::proxy
