#pragma once
// The h2c half of an upstream Exchange (exchange.h), the twin of http1_wire.h: one request as one stream
// of a shared HTTP/2 connection to the backend (h2c_link.h, from H2cConnections), with no HTTP/1.1 bytes
// in between. The request head goes as fields mapped from the kept request (the fields HTTP/1.1 would
// carry: http::for_each_upstream_field), the body as DATA through a queue of at most 64 KiB that send_body
// waits on: the backend's flow-control windows hold the client back. The answer comes into the same
// http::ResponseHead the callers use, the body as pieces, each given back to nghttp2 (consume: the
// backend's window opens) only when the caller asks for the next, so the backend is read at the client's
// pace; trailers come as fields. A stream the backend refused unprocessed (REFUSED_STREAM, or above a
// GOAWAY's last-stream-id) goes again on another connection inside read_head, while its whole body was
// kept (up to 64 KiB): callers never see it.
// Its deadline (arm) is a timer that resets the stream (CANCEL) and wakes its waiter: other streams on
// the connection go on. It waits on its own Signal, which the connection notifies when the stream changes.

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>

#include "http/message.h"
#include "http/serializer.h"
#include "route/cluster_set.h"
#include "stats/worker_stats.h"
#include "upstream/exchange_result.h"
#include "upstream/h2c_connection.h"
#include "upstream/h2c_link.h"

namespace mg::upstream {

class H2StreamWire {
 public:
  static constexpr size_t kPendingBody = 64 * 1024;     // request body bytes queued for the stream
  static constexpr size_t kReplayableBody = 64 * 1024;  // a refused stream goes again if its body fits

  H2StreamWire() = default;
  ~H2StreamWire();  // an unfinished stream is reset (CANCEL)
  H2StreamWire(const H2StreamWire&) = delete;
  H2StreamWire& operator=(const H2StreamWire&) = delete;

  // ---- the connection ----
  // The next stream goes on `connection`; `connections` hands out another when it cannot take one or
  // refused it. The stream of a try before is reset if it is still open. `endpoint` outlives the wire.
  void attach(const asio::any_io_executor& executor, H2cConnections& connections, stats::WorkerStats& stats,
              const route::Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
              std::shared_ptr<const net::UpstreamTlsContext> tls, std::shared_ptr<h2c::H2cConnection> connection);
  bool attached() const { return connection_ != nullptr; }

  // ---- the deadline (Exchange::arm) ----
  void arm(std::chrono::steady_clock::duration timeout);
  void disarm();
  bool fired() const { return fired_; }
  // The client went away: the stream is reset and every wait ends (kClosed).
  void cancel();

  // ---- the request ----
  // The head as fields, kept for every try; it goes out with the first send_body.
  void set_request(const http::OutgoingRequest& request, const http::ForwardingInfo& info,
                   http::BodyFraming framing, uint64_t length);
  // A whole request as HTTP/1.1 bytes (a mirror copy: its head is edited as text, mirror/copy_head.h):
  // the head parsed once into fields, the body behind it (a Content-Length's worth) into `body`, a view
  // into the wire valid until the next request. False when the head does not parse.
  bool set_request_bytes(std::span<const asio::const_buffer> buffers, std::string_view& body);
  // The next piece of the body (the head first, on a new stream); `last` ends it. Waits while 64 KiB are
  // queued. False when the stream failed before its answer, or the deadline passed.
  asio::awaitable<bool> send_body(std::string_view piece, bool last);
  // A retry on the connection attached since: the kept head and the whole body, on a new stream.
  asio::awaitable<bool> resend(std::string_view body);

  // ---- the response ----
  // Waits for the final head (a refused stream goes again first) and maps it into head().
  asio::awaitable<HeadResult> read_head(std::string_view method, const http::Limits& limits);
  const http::ResponseHead& head() const { return head_; }
  // The next piece of the body, valid until the next call (which gives it back to the backend's window);
  // kWait when none arrived yet.
  BodyRead take_body(std::string_view& piece);
  // The same, waiting (under the deadline armed before) for the piece or the end.
  asio::awaitable<BodyRead> read_body(std::string_view& piece);
  std::span<const http::Header> trailers() const { return trailers_; }
  bool buffered() const { return stream_ && !stream_->body.empty(); }
  bool at_message_end() const { return body_done_; }
  // The exchange is done with the stream and the connection: the stream is reset if still open, its
  // unread bytes given back. head() stays valid.
  void finish() {
    release();
    connection_.reset();
  }

 private:
  // A new stream for the kept head (on another connection with `other_connection`, or when the attached
  // one takes no new stream). False when no connection could take it.
  asio::awaitable<bool> open_stream(bool other_connection);
  void keep(std::string_view piece);
  // The stream failed before its head, but never reached the backend and may go again.
  bool retryable() const;
  void give_back_piece();
  void release();
  void wake();
  BodyRead end_of_body();

  H2cConnections* connections_ = nullptr;
  stats::WorkerStats* stats_ = nullptr;
  const route::Endpoint* endpoint_ = nullptr;
  std::chrono::milliseconds connect_timeout_{0};
  std::shared_ptr<const net::UpstreamTlsContext> tls_;
  std::shared_ptr<h2c::H2cConnection> connection_;
  std::shared_ptr<H2ClientStream> stream_;  // the current try's
  std::shared_ptr<H2ClientStream> ended_;   // the last one released: head() views its fields
  std::optional<h2c::Signal> signal_;       // the stream changed, or the deadline passed
  std::optional<asio::steady_timer> deadline_;
  std::shared_ptr<bool> alive_;  // for a deadline handler queued when the wire goes
  uint64_t deadline_generation_ = 0;
  bool fired_ = false;
  bool cancelled_ = false;

  std::vector<http::Http2Field> fields_;  // :method, :scheme, :authority, :path, then the rest
  std::string copy_bytes_;                // a copy's whole request (set_request_bytes)
  bool has_body_ = false;
  bool body_complete_ = false;  // the last piece was sent
  std::string kept_;            // the body so far, while it fits kReplayableBody
  bool keep_ = true;

  http::ResponseHead head_;
  std::string piece_;  // the piece handed out, taken from the stream's body (a swap, no copy)
  size_t taken_ = 0;   // its bytes, not yet given back to the window
  bool body_done_ = false;
  std::vector<http::Header> trailers_;
};

}  // namespace mg::upstream
