#pragma once
// Streams a message body from one side to the other with back-pressure: each piece is written before
// the next is read, so neither a slow reader nor a large body makes the gateway buffer without bound.
// Chunked bodies are decoded and re-encoded, never passed through as received, so what the next hop
// parses is exactly what the gateway validated.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "common/byte_buffer.h"
#include "http/body_capture.h"
#include "http/message.h"
#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "upstream/exchange.h"
#include "upstream/upstream_stream.h"

namespace mg::proxy {

enum class RelayStatus : uint8_t {
  kDone,
  kSourceFailed,     // the sender closed, reset or timed out before the body ended
  kSourceMalformed,  // invalid chunked framing
  kSinkFailed,       // the receiver went away
  kTooLarge,         // the body passed `max_bytes`
};

using http::BodyCapture;

// One side's deadline: the client connection's watchdog, or the backend exchange's own deadline
// (upstream::Exchange::arm), which is the exchange's to enforce. None: the side is not watched.
class RelayDeadline {
 public:
  // Implicit, so that RelayTimeouts{&exchange, &watchdog, ...} says which side is which in one line.
  RelayDeadline() = default;
  RelayDeadline(std::nullptr_t) {}
  RelayDeadline(net::SocketWatchdog* client) : client_(client) {}
  RelayDeadline(upstream::Exchange* backend) : backend_(backend) {}

  void arm(std::chrono::milliseconds timeout) const {
    if (client_) client_->arm(timeout);
    if (backend_) backend_->arm(timeout);
  }
  void disarm() const {
    if (client_) client_->disarm();
    if (backend_) backend_->disarm();
  }

 private:
  net::SocketWatchdog* client_ = nullptr;
  upstream::Exchange* backend_ = nullptr;
};

// Each read and each write must make progress within its timeout (re-armed per operation), so a
// stalled peer is cut off while a long but moving transfer is not.
struct RelayTimeouts {
  RelayDeadline source;
  RelayDeadline sink;
  std::chrono::milliseconds read{60'000};
  std::chrono::milliseconds write{60'000};
};

struct RelayResult {
  RelayStatus status = RelayStatus::kDone;
  uint64_t bytes = 0;  // body bytes (decoded) relayed
  bool wrote = false;  // bytes reached the sink (the prefix at least): a failure can no longer be answered
};

// `in_framing`/`in_length` describe the body as it arrives on `source` (whose already-read bytes are in
// `source_buffer`); `out_framing` is how it is written to `sink` (kChunked, kContentLength with the same
// length, or kUntilClose meaning raw bytes). `prefix` (a message head) is sent in the first write.
// `max_bytes` (0: no limit) stops a chunked or close-delimited body that grows past it.
// Source is the client's net::ClientStream (plain or TLS), Sink the backend's upstream::UpstreamStream (plain or
// TLS); the definitions are instantiated in body_relay.cpp for those. (A response body comes decoded from the
// Exchange instead: relay_response_body.)
template <typename Source, typename Sink>
asio::awaitable<RelayResult> relay_body(Source& source, ByteBuffer& source_buffer, http::BodyFraming in_framing,
                                        uint64_t in_length, Sink& sink, http::BodyFraming out_framing,
                                        std::string& prefix, BodyCapture* capture, const RelayTimeouts& timeouts,
                                        uint64_t max_bytes);

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

extern template asio::awaitable<RelayResult> relay_body(net::ClientStream&, ByteBuffer&, http::BodyFraming, uint64_t,
                                                        upstream::UpstreamStream&, http::BodyFraming, std::string&,
                                                        BodyCapture*, const RelayTimeouts&, uint64_t);
extern template asio::awaitable<RelayResult> relay_response_body(upstream::Exchange&, std::chrono::milliseconds,
                                                                 net::ClientStream&, http::BodyFraming, std::string&,
                                                                 BodyCapture*, const RelayTimeouts&);
extern template asio::awaitable<bool> write_all(net::ClientStream&, std::string_view, const RelayTimeouts&);
extern template asio::awaitable<bool> write_all(upstream::UpstreamStream&, std::string_view, const RelayTimeouts&);

}  // namespace mg::proxy
