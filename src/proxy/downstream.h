#pragma once
// The seam between a client protocol and the request path. A protocol (the HTTP/1.1 connection in
// http1_session.cpp; an HTTP/2 stream next) parses a request into a DownstreamRequest and implements
// Downstream: how this request's body is read, how a response or a local reply is written back. The
// RequestHandler (request_handler.h) does everything else, the same for every protocol: routing,
// filters, the upstream exchange with its retries, the mirror copies, counters and the access log.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "http/body_capture.h"
#include "http/message.h"
#include "proxy/body_relay.h"
#include "proxy/tunnel.h"
#include "upstream/exchange.h"

namespace mg::proxy {

// One request as the client sent it. Views into the protocol's buffers: valid until
// Downstream::send_request_body, which may read over them.
struct DownstreamRequest {
  std::string_view method;
  std::string_view target;  // origin-form or absolute-form, as received
  std::string_view host;    // Host, or the authority of an absolute-form target; empty when neither (HTTP/1.0)
  std::span<const http::Header> headers;
  std::string_view connection;  // the Connection field: the fields it names are not forwarded
  http::BodyFraming framing = http::BodyFraming::kNone;
  uint64_t content_length = 0;
  // The connection may serve another request after this one (HTTP/1 keep-alive, not draining).
  bool keep_alive = true;
  uint64_t max_body = 0;  // the listener's request body limit (0: none): a larger declared length is a 413
  std::string_view scheme;     // "http" or "https", as the client reached us
  std::string_view client_ip;  // for X-Forwarded-For
  std::string_view client_address;  // "ip:port", for the access log
  std::string_view protocol = "HTTP/1.1";  // as the access log names it: "HTTP/1.0", "HTTP/1.1", "HTTP/2"
  // The method the client sent, for the access log, when `method` stands for another: an HTTP/2 extended
  // CONNECT is handled as the HTTP/1.1 GET upgrade it stands for. A literal; empty: `method`.
  std::string_view client_method;
};

// The response head as it goes to the client, after the route's response filters.
struct DownstreamResponse {
  const http::ResponseHead& upstream;    // status, framing and length as the backend sent them
  std::span<const http::Header> headers;  // the fields to send (the backend's, or the filtered copy)
  bool body_allowed = true;               // false for HEAD, 204 and 304: nothing follows the head
  std::string_view request_id;
};

// An answer the gateway gives itself: errors, redirects, CORS preflights.
struct LocalReply {
  int status = 500;
  std::string_view message;                     // the short text body (none for 204 and 304)
  std::span<const http::Header> headers = {};  // extra fields (Location, Access-Control-*)
  bool close = false;  // this request's connection (or stream) ends after it: unread body, or an error
  std::string_view request_id;
};

class Downstream {
 public:
  // Sends the request (the head the exchange keeps, then the body, as much as is still to come from the
  // client, decoded: Exchange::send_body frames it); `capture` (if any) keeps a copy for mirrors and
  // retries. A client waiting for "100 Continue" is told to send its body here.
  virtual asio::awaitable<RelayResult> send_request_body(upstream::Exchange& exchange,
                                                         http::BodyCapture* capture) = 0;
  // Writes the response head and streams the body to the client as the exchange hands it out decoded
  // (Exchange::read_body). The views in `response` stay valid until the first piece is asked for.
  // When the protocol cannot keep the connection after this response (an HTTP/1.0 client and a body
  // of unknown length), ending it is the protocol's own business.
  virtual asio::awaitable<RelayResult> send_response(upstream::Exchange& exchange,
                                                     const DownstreamResponse& response,
                                                     http::BodyCapture* capture) = 0;
  // True when the reply went out and the connection may go on.
  virtual asio::awaitable<bool> send_local_reply(const LocalReply& reply) = 0;
  // The backend switched protocols (101) for an upgrade the client asked for: writes the 101 head,
  // then relays bytes both ways until the tunnel ends (proxy/tunnel.h); the connection ends with it.
  // Only HTTP/1.1 asks for upgrades (HTTP/2 forbids the fields); other protocols never get here.
  virtual asio::awaitable<TunnelResult> open_tunnel(upstream::Exchange& exchange, const DownstreamResponse& response) {
    (void)exchange;
    (void)response;
    co_return TunnelResult{};
  }

 protected:
  ~Downstream() = default;
};

}  // namespace mg::proxy
