#pragma once
// The life of one client connection, as one coroutine: read a request, route it, forward it (and hand
// a copy to the mirror writer), relay the response, repeat while keep-alive holds.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/session_context.h"

namespace mg::proxy {

asio::awaitable<void> serve_downstream(SessionContext& context, asio::ip::tcp::socket socket, size_t listener_index);

}  // namespace mg::proxy
