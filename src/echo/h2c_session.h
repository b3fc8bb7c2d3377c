#pragma once
// The HTTP/2 side of the echo's h2c port (echo-basic.md section 3.2): a connection that opened with the
// prior-knowledge preface. The framing is http/http2_codec.h's (the gateway's own); this file is the I/O
// around it. Every stream is answered once its request has arrived whole, by the caller's `answer`
// (the port has no router: every path is echoed).

#include <functional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "http/http2_codec.h"

namespace mg::echo {

// Fills the response of one complete request: header fields (":status" first) and body.
using H2cAnswer = std::function<void(const http::Http2Stream& request, std::vector<http::Http2Field>& fields,
                                     std::string& body)>;

// Serves the connection until either side ends it. `initial`: bytes already read (the preface first).
asio::awaitable<void> serve_h2c(asio::ip::tcp::socket& socket, std::string initial, const H2cAnswer& answer);

}  // namespace mg::echo
