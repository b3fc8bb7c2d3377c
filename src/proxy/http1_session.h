#pragma once
// An HTTP/1.1 client connection, as one coroutine: read a request head, hand the request to the
// RequestHandler (request_handler.h), repeat while keep-alive holds. This file is the HTTP/1 side of
// the Downstream seam (downstream.h): head parsing, the client's timeouts, 100-continue, body
// framing on the client's side, and ending an idle session so that its connection can be parked.

#include <chrono>
#include <string>

#include <asio/awaitable.hpp>

#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "proxy/listener_slot.h"
#include "proxy/session_context.h"

namespace mg::proxy {

// How a session ended: closed, or (a plain connection idle long enough) to be parked until the client
// speaks again or its idle deadline passes.
struct Http1End {
  bool park = false;
  std::chrono::steady_clock::time_point idle_deadline;
  // The connection opened with the HTTP/2 preface (prior knowledge): what was read so far, to be served
  // by serve_http2 (http2_session.h).
  bool http2 = false;
  std::string http2_bytes;
};

// `resumed`: a parked connection the client spoke on again (it has served requests already).
asio::awaitable<Http1End> serve_http1(SessionContext& context, net::ClientStream& stream,
                                      net::SocketWatchdog& watchdog, ListenerSlot& listener, bool resumed);

}  // namespace mg::proxy
