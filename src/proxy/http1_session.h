#pragma once
// An HTTP/1.1 client connection, as one coroutine: read a request head, hand the request to the
// RequestHandler (request_handler.h), repeat while keep-alive holds. This file is the HTTP/1 side of
// the Downstream seam (downstream.h): head parsing, the client's timeouts, 100-continue, body
// framing on the client's side and the idle connection's memory.

#include <asio/awaitable.hpp>

#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "proxy/session_context.h"

namespace mg::proxy {

asio::awaitable<void> serve_http1(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog,
                                  size_t listener_index);

}  // namespace mg::proxy
