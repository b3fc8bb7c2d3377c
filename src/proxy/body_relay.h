#pragma once
// Streams a message body from one side to the other with back-pressure: each piece is written before
// the next is read, so neither a slow reader nor a large body makes the gateway buffer without bound.
// Chunked bodies are decoded and re-encoded, never passed through as received, so what the next hop
// parses is exactly what the gateway validated.

#include <chrono>
#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "common/byte_buffer.h"
#include "http/body_capture.h"
#include "http/message.h"
#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "upstream/exchange.h"

namespace mg::proxy {

enum class RelayStatus : uint8_t {
  kDone,
  kSourceFailed,     // the sender closed, reset or timed out before the body ended
  kSourceMalformed,  // invalid chunked framing
  kSinkFailed,       // the receiver went away
  kTooLarge,         // the body passed `max_bytes`
};

using http::BodyCapture;

// Each read and each write must make progress within its timeout (re-armed per operation), so a
// stalled peer is cut off while a long but moving transfer is not.
// The client's side only: the exchange times its own reads and writes (Exchange::arm).
struct RelayTimeouts {
  net::SocketWatchdog* source = nullptr;
  net::SocketWatchdog* sink = nullptr;
  std::chrono::milliseconds read{60'000};
  std::chrono::milliseconds write{60'000};
};

struct RelayResult {
  RelayStatus status = RelayStatus::kDone;
  uint64_t bytes = 0;  // body bytes (decoded) relayed
  bool wrote = false;  // bytes reached the sink (the prefix at least): a failure can no longer be answered
};

// The request body from the client (`source`, whose already-read bytes are in `source_buffer`; framed as
// `in_framing`/`in_length` say) to the exchange, decoded: Exchange::send_body frames it for the backend and
// sends the head with the first piece (each write within `write_timeout`). `max_bytes` (0: no limit)
// stops a chunked body that grows past it. `scratch` holds a chunked body's pieces of one read.
asio::awaitable<RelayResult> relay_request_body(net::ClientStream& source, ByteBuffer& source_buffer,
                                                http::BodyFraming in_framing, uint64_t in_length,
                                                upstream::Exchange& exchange, std::chrono::milliseconds write_timeout,
                                                BodyCapture* capture, const RelayTimeouts& timeouts,
                                                uint64_t max_bytes, std::string& scratch);

// The response body from `exchange` (its head read) to `sink`, decoded by the exchange and written as
// `out_framing` says (kChunked, kContentLength as it came, or kUntilClose: the bytes as they are), each
// piece before the next is read (Exchange::read_body, `read_timeout` per read). `prefix` (the response
// head) goes out with the first write.
template <typename Sink>
asio::awaitable<RelayResult> relay_response_body(upstream::Exchange& exchange, std::chrono::milliseconds read_timeout,
                                                 Sink& sink, http::BodyFraming out_framing, std::string& prefix,
                                                 BodyCapture* capture, const RelayTimeouts& timeouts);

// Writes all of `data` with the sink watchdog armed; false when the peer is gone or too slow.
template <typename Sink>
asio::awaitable<bool> write_all(Sink& sink, std::string_view data, const RelayTimeouts& timeouts);

extern template asio::awaitable<RelayResult> relay_response_body(upstream::Exchange&, std::chrono::milliseconds,
                                                                 net::ClientStream&, http::BodyFraming, std::string&,
                                                                 BodyCapture*, const RelayTimeouts&);
extern template asio::awaitable<bool> write_all(net::ClientStream&, std::string_view, const RelayTimeouts&);

}  // namespace mg::proxy
