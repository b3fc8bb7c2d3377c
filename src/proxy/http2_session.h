#pragma once
// An HTTP/2 client connection (prior knowledge on a cleartext listener, ALPN "h2" under TLS): the
// framing is http2_codec.h's; this file is the I/O around it and one task per stream that hands the
// request to the RequestHandler (request_handler.h) and implements the Downstream seam (downstream.h)
// for that stream: the request body from DATA frames to the HTTP/1.1 upstream, the response back as
// HEADERS and DATA with the client's flow control holding back the upstream read.

#include <string>

#include <asio/awaitable.hpp>

#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "proxy/listener_slot.h"
#include "proxy/session_context.h"

namespace mg::proxy {

// The client connection preface up to the end of what an HTTP/1 parser reads as a head: a connection
// whose first bytes are these speaks HTTP/2 (RFC 9113 3.4).
inline constexpr std::string_view kHttp2PrefaceHead = "PRI * HTTP/2.0\r\n\r\n";

// Serves the connection until it ends. `initial`: bytes already read from it (the preface, when the
// HTTP/1 session recognised it).
asio::awaitable<void> serve_http2(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog,
                                  ListenerSlot& listener, std::string initial);

}  // namespace mg::proxy
