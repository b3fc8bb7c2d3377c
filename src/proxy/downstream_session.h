#pragma once
// The life of one client connection: the TLS handshake on an HTTPS listener, then the protocol
// (HTTP/1.1 today, http1_session.h), then the TLS close. A plain keep-alive connection that stays idle
// is parked in between: its session ends, and a new one starts when the client speaks again.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/listener_slot.h"
#include "proxy/session_context.h"

namespace mg::proxy {

// `listener` is where the worker accepted the connection.
asio::awaitable<void> serve_downstream(SessionContext& context, asio::ip::tcp::socket socket,
                                       std::shared_ptr<const ListenerEndpoint> listener);

}  // namespace mg::proxy
