#include "upstream/h2_stream_wire.h"

#include <charconv>
#include <utility>

#include <asio/buffer.hpp>
#include <nghttp2/nghttp2.h>

#include "http/parser.h"
#include "http/syntax.h"

namespace mg::upstream {
namespace {

constexpr int kSubmitAttempts = 3;
// A mirror copy's head is the gateway's own (the primary's fields, the marker and trace lines): parsed
// under limits no client sets.
constexpr http::Limits kCopyHeadLimits{1 << 20, 1 << 20, 100'000};
enum Pseudo : size_t { kMethod, kScheme, kAuthority, kPath, kPseudoCount };

void add_field(std::vector<http::Http2Field>& fields, std::string_view name, std::string value) {
  std::string lower(name);
  for (char& c : lower) c = http::ascii_lower(c);  // HTTP/2 field names are lowercase (RFC 9113 8.2.1)
  fields.push_back({std::move(lower), std::move(value)});
}

// The pseudo-header fields, then the end-to-end ones; Host becomes :authority (RFC 9113 8.3.1).
void start_fields(std::vector<http::Http2Field>& fields, std::string_view method, std::string_view target) {
  fields.clear();
  fields.push_back({":method", std::string(method)});
  fields.push_back({":scheme", "http"});
  fields.push_back({":authority", {}});
  fields.push_back({":path", std::string(target)});
}

void add_regular_field(std::vector<http::Http2Field>& fields, std::string_view name, std::string_view value) {
  if (http::iequals(name, "host")) {
    fields[kAuthority].value.assign(value);
  } else {
    add_field(fields, name, std::string(value));
  }
}

void add_framing(std::vector<http::Http2Field>& fields, http::BodyFraming framing, uint64_t length) {
  // A chunked body is DATA frames up to END_STREAM; a length is sent as such (the backend may check it).
  if (framing == http::BodyFraming::kContentLength) fields.push_back({"content-length", std::to_string(length)});
}

// http::for_each_upstream_field's sink: the forwarded fields as HTTP/2 fields.
struct FieldSink {
  std::vector<http::Http2Field>& fields;
  void field(std::string_view name, std::string_view value) { add_regular_field(fields, name, value); }
  void forwarded_for(std::string_view name, std::span<const http::Header> prior, std::string_view client_ip) {
    std::string value;
    http::for_each_forwarded_for(prior, client_ip, [&](std::string_view part) { value.append(part); });
    add_field(fields, name, std::move(value));
  }
};

}  // namespace

H2StreamWire::~H2StreamWire() {
  if (alive_) *alive_ = false;
  release();
}

void H2StreamWire::attach(const asio::any_io_executor& executor, H2cConnections& connections,
                          stats::WorkerStats& stats, const route::Endpoint& endpoint,
                          std::chrono::milliseconds connect_timeout, std::shared_ptr<const net::UpstreamTlsContext> tls,
                          std::shared_ptr<h2c::H2cConnection> connection) {
  release();
  if (!signal_) {
    signal_.emplace(executor);
    deadline_.emplace(executor);
    alive_ = std::make_shared<bool>(true);
  }
  connections_ = &connections;
  stats_ = &stats;
  endpoint_ = &endpoint;
  connect_timeout_ = connect_timeout;
  tls_ = std::move(tls);
  connection_ = std::move(connection);
  cancelled_ = false;
}

// ---- the deadline ----

void H2StreamWire::arm(std::chrono::steady_clock::duration timeout) {
  if (!deadline_) return;
  fired_ = false;
  const uint64_t generation = ++deadline_generation_;
  deadline_->expires_after(timeout);
  deadline_->async_wait([this, alive = alive_, generation](std::error_code ec) {
    // A handler queued before a disarm, a new arm or the wire's end does nothing.
    if (ec || !*alive || generation != deadline_generation_) return;
    fired_ = true;
    wake();
  });
}

void H2StreamWire::disarm() {
  if (!deadline_) return;
  ++deadline_generation_;
  deadline_->cancel();
}

void H2StreamWire::cancel() {
  cancelled_ = true;
  wake();
}

// The stream is reset (the backend stops working on it) and whoever waits on it sees why.
void H2StreamWire::wake() {
  if (stream_ && !stream_->closed) {
    connection_->codec().reset(*stream_, NGHTTP2_CANCEL);
    connection_->kick();
  }
  if (signal_) signal_->notify();
}

// ---- the request ----

void H2StreamWire::set_request(const http::OutgoingRequest& request, const http::ForwardingInfo& info,
                               http::BodyFraming framing, uint64_t length) {
  start_fields(fields_, request.method, request.target);
  FieldSink sink{fields_};
  http::for_each_upstream_field(request, info, sink);
  // TE is hop-by-hop, but HTTP/2 keeps "trailers" (RFC 9113 8.2.2), which gRPC backends ask for.
  for (const auto& h : request.headers) {
    if (http::iequals(h.name, "te") && http::list_contains(h.value, "trailers")) {
      fields_.push_back({"te", "trailers"});
      break;
    }
  }
  add_framing(fields_, framing, length);
  has_body_ = framing != http::BodyFraming::kNone;
}

bool H2StreamWire::set_request_bytes(std::span<const asio::const_buffer> buffers, std::string_view& body) {
  copy_bytes_.clear();
  for (const auto& b : buffers) copy_bytes_.append(static_cast<const char*>(b.data()), b.size());
  http::RequestHead head;
  const http::ParseResult parsed = http::parse_request_head(copy_bytes_, kCopyHeadLimits, head);
  if (parsed.status != http::ParseStatus::kComplete || head.framing == http::BodyFraming::kChunked) return false;
  // The copy's head carries the forwarded fields already (http::append_upstream_request_head): only what
  // HTTP/2 says differently goes (connection-specific fields, the framing, Host).
  start_fields(fields_, head.method, head.target);
  for (const auto& h : head.headers)
    if (!http::is_connection_specific(h.name, head.connection)) add_regular_field(fields_, h.name, h.value);
  add_framing(fields_, head.framing, head.content_length);
  has_body_ = head.framing == http::BodyFraming::kContentLength && head.content_length > 0;
  body = std::string_view(copy_bytes_).substr(head.head_length, has_body_ ? head.content_length : 0);
  return body.size() == (has_body_ ? head.content_length : 0);
}

asio::awaitable<bool> H2StreamWire::open_stream(bool other_connection) {
  release();
  body_complete_ = false;
  for (int attempt = 0; attempt < kSubmitAttempts; ++attempt) {
    if (other_connection || !connection_ || !connection_->usable()) {
      connection_.reset();
      TlsConnectResult failure;
      connection_ = co_await connections_->acquire(*endpoint_, connect_timeout_, *stats_, tls_, failure);
      if (!connection_) co_return false;
    }
    other_connection = true;  // a connection that took no stream is passed over next time
    if (fired_ || cancelled_) co_return false;
    auto stream = std::make_shared<H2ClientStream>();
    stream->owner = &*signal_;
    fields_[kScheme].value = tls_ ? "https" : "http";
    if (fields_[kAuthority].value.empty()) fields_[kAuthority].value = endpoint_->address;
    if (!connection_->codec().submit(stream, fields_, has_body_)) continue;
    stream_ = std::move(stream);
    head_.clear();
    body_done_ = false;
    trailers_.clear();
    connection_->kick();
    co_return true;
  }
  co_return false;
}

void H2StreamWire::keep(std::string_view piece) {
  if (keep_ && kept_.size() + piece.size() <= kReplayableBody) {
    kept_.append(piece);
  } else {
    keep_ = false;
    kept_.clear();
  }
}

bool H2StreamWire::retryable() const { return stream_->refused() && keep_ && body_complete_; }

asio::awaitable<bool> H2StreamWire::send_body(std::string_view piece, bool last) {
  if (!stream_) {
    kept_.clear();
    keep_ = true;
    if (!co_await open_stream(false)) co_return false;
  }
  H2ClientStream& stream = *stream_;
  keep(piece);
  if (!stream.closed && has_body_) {
    stream.out.append(piece);
    stream.out_eof = last;
    connection_->codec().resume(stream);
    connection_->kick();
  }
  body_complete_ = last;
  // Flow control: the backend's windows let the queue drain, and the client is read no faster.
  while (!last && stream.out.size() >= kPendingBody && !stream.closed && !fired_ && !cancelled_)
    co_await signal_->wait();
  if (fired_ || cancelled_) co_return false;
  // Answered (or refused, to go again) before the body ended is no failure; reset before any answer is.
  co_return !stream.closed || stream.head_done || retryable();
}

asio::awaitable<bool> H2StreamWire::resend(std::string_view body) {
  kept_.clear();
  keep_ = true;
  if (!co_await open_stream(false)) co_return false;
  const bool sent = co_await send_body(body, true);
  co_return sent;
}

// ---- the response ----

asio::awaitable<HeadResult> H2StreamWire::read_head(std::string_view method, const http::Limits& limits) {
  if (!stream_) co_return HeadResult::kClosed;
  for (int attempt = 1;; ++attempt) {
    while (!stream_->head_done && !stream_->closed && !fired_ && !cancelled_) co_await signal_->wait();
    if (fired_) co_return HeadResult::kTimeout;
    if (cancelled_) co_return HeadResult::kClosed;
    if (stream_->head_done) break;
    // Never processed by the backend (RFC 9113 8.7): once more on another connection, the body again.
    if (!retryable() || attempt >= kSubmitAttempts) co_return HeadResult::kClosed;
    if (!co_await open_stream(true)) co_return fired_ ? HeadResult::kTimeout : HeadResult::kClosed;
    if (has_body_) {
      stream_->out = kept_;
      stream_->out_eof = true;
      connection_->codec().resume(*stream_);
      connection_->kick();
    }
    body_complete_ = true;
  }
  // The head's views point into the stream's fields, which stay as they are (trailers go apart).
  const H2ClientStream& stream = *stream_;
  head_.status = stream.status;
  for (const auto& f : stream.fields) head_.headers.push_back({f.name, f.value});
  if (head_.headers.size() > limits.max_headers) co_return HeadResult::kMalformed;
  const std::string_view length = head_.find("content-length");
  if (method == "HEAD" || head_.status == 204 || head_.status == 304) {
    head_.framing = http::BodyFraming::kNone;
  } else if (!length.empty()) {
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), head_.content_length);
    if (ec != std::errc() || end != length.data() + length.size()) co_return HeadResult::kMalformed;
    head_.framing = http::BodyFraming::kContentLength;
  } else if (stream.body_done && stream.body.empty()) {
    head_.framing = http::BodyFraming::kContentLength;  // END_STREAM with the head: an empty body
  } else {
    head_.framing = http::BodyFraming::kChunked;  // up to END_STREAM, trailers possible
  }
  co_return HeadResult::kOk;
}

void H2StreamWire::give_back_piece() {
  if (taken_ > 0) {
    connection_->codec().consume(*stream_, taken_);  // the backend may send as much again
    connection_->kick();
    taken_ = 0;
  }
  piece_.clear();
}

BodyRead H2StreamWire::end_of_body() {
  body_done_ = true;
  trailers_.clear();
  for (const auto& f : stream_->trailers)  // RFC 9110 6.5.1: nothing about the message or the connection
    if (!http::is_connection_specific(f.name, {}) && f.name != "host") trailers_.push_back({f.name, f.value});
  return BodyRead::kDone;
}

BodyRead H2StreamWire::take_body(std::string_view& piece) {
  if (!stream_) return BodyRead::kClosed;
  give_back_piece();
  if (body_done_) return BodyRead::kDone;
  if (head_.framing == http::BodyFraming::kNone) return end_of_body();
  if (!stream_->body.empty()) {
    // The stream's buffer is handed out whole and a new one fills meanwhile: the view stays valid.
    piece_.swap(stream_->body);
    taken_ = piece_.size();
    piece = piece_;
    return BodyRead::kData;
  }
  if (stream_->body_done) return end_of_body();
  return BodyRead::kWait;
}

asio::awaitable<BodyRead> H2StreamWire::read_body(std::string_view& piece) {
  for (;;) {
    const BodyRead read = take_body(piece);
    if (read != BodyRead::kWait) co_return read;
    if (fired_) co_return BodyRead::kTimeout;
    if (cancelled_ || stream_->closed) co_return BodyRead::kClosed;  // reset mid-body: the answer is cut short
    co_await signal_->wait();
  }
}

void H2StreamWire::release() {
  if (!stream_) return;
  stream_->owner = nullptr;
  if (!stream_->closed) connection_->codec().reset(*stream_, NGHTTP2_CANCEL);
  connection_->codec().consume(*stream_, taken_ + stream_->body.size());
  connection_->kick();
  taken_ = 0;
  ended_ = std::move(stream_);
}

}  // namespace mg::upstream
