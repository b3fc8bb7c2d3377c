#pragma once
// A connection to one backend endpoint, plain or TLS (upstream_stream.h), with its own read buffer
// (bytes read past one response stay with the connection, never leak into the next request's answer).

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "common/byte_buffer.h"
#include "http/message.h"
#include "upstream/upstream_stream.h"

namespace mg::upstream {

struct UpstreamConnection {
  explicit UpstreamConnection(UpstreamStream s) : stream(std::move(s)), buffer(8 * 1024) {}
  UpstreamStream stream;
  ByteBuffer buffer;
  std::string key;        // "ip:port", the pool key and the access log's upstream_host
  bool reused = false;    // taken from the idle pool (may have been closed by the peer meanwhile)
  std::chrono::steady_clock::time_point idle_since;  // when it was last given back to the pool
  // A mirror copy's response head, parsed here so its header list keeps its capacity from one response
  // on this connection to the next.
  http::ResponseHead response_head;
};

struct ConnectResult {
  std::unique_ptr<UpstreamConnection> connection;
  std::error_code error;
  bool timed_out = false;
};

// Opens a TCP connection to ip:port with a deadline. Never throws.
asio::awaitable<ConnectResult> connect_to_address(std::string_view ip, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace mg::upstream
