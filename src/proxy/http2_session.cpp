#include "proxy/http2_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include "common/fast_random.h"
#include "http/serializer.h"
#include "http/syntax.h"
#include "http/websocket_frame.h"
#include "proxy/downstream.h"
#include "http/http2_codec.h"
#include "proxy/request_handler.h"

namespace mg::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using http::Http2Codec;
using http::Http2Field;
using http::Http2Settings;
using http::Http2Stream;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kWriteChunk = 64 * 1024;
// Response bytes a stream holds for its client before it stops reading its upstream: the client's
// flow-control window, not the backend's speed, sets the pace.
constexpr size_t kStreamHighWater = 64 * 1024;
constexpr size_t kUpstreamReadChunk = 16 * 1024;
constexpr size_t kKeptWriteBuffer = 4096;
constexpr std::chrono::seconds kTick{1};
constexpr std::chrono::seconds kLingerAfterGoaway{1};
// Workspaces a busy connection keeps for its next streams (about as many as clients keep in flight);
// all go when it has been quiet for a tick.
constexpr size_t kSpareWorkspaces = 16;

class Http2Connection;

// What a stream's task works with, handed from one stream to the next of its connection: an HTTP/1.1
// session reuses its one handler and its buffers for every request, and so does a busy HTTP/2
// connection, instead of allocating and freeing them per stream.
struct StreamWorkspace {
  StreamWorkspace(SessionContext& context, ListenerSlot& listener) : handler(context, listener) {}
  RequestHandler handler;
  std::vector<http::Header> request_headers;
  // The response's HEADERS fields are the first `response_field_count`; the others keep their strings'
  // capacity for the next response.
  std::vector<Http2Field> response_fields;
  size_t response_field_count = 0;
  std::string scratch;
  std::vector<http::Header> request_trailers;  // views of the stream's trailer fields, for the exchange
  std::string websocket_key;

  std::span<const Http2Field> response_head() const { return {response_fields.data(), response_field_count}; }
};

// One request stream: its task runs the RequestHandler and is the stream's Downstream.
class StreamTask final : public Downstream {
 public:
  StreamTask(Http2Connection& connection, std::shared_ptr<Http2Stream> stream,
             std::unique_ptr<StreamWorkspace> workspace);
  ~StreamTask() { stream_->owner = nullptr; }
  StreamTask(const StreamTask&) = delete;
  StreamTask& operator=(const StreamTask&) = delete;

  asio::awaitable<void> run();
  // The workspace, for the connection's next stream (after run()).
  std::unique_ptr<StreamWorkspace> release_workspace() { return std::move(workspace_); }
  // The codec saw something happen on the stream (body, drain, close).
  void changed();

  asio::awaitable<RelayResult> send_request_body(upstream::Exchange& exchange, http::BodyCapture* capture) override;
  asio::awaitable<RelayResult> send_response(upstream::Exchange& exchange, const DownstreamResponse& response,
                                             http::BodyCapture* capture) override;
  asio::awaitable<bool> send_local_reply(const LocalReply& reply) override;
  asio::awaitable<TunnelResult> open_tunnel(upstream::Exchange& exchange, const DownstreamResponse& response) override;

 private:
  // Waits until changed() or `deadline`; false when the deadline passed.
  asio::awaitable<bool> wait(Clock::time_point deadline);
  // Hands a response body piece to the codec and waits while the client is behind.
  asio::awaitable<bool> push(std::string_view piece, RelayResult& result, http::BodyCapture* capture);
  // Waits until the response's END_STREAM went out (false: the stream closed first, or stalled).
  asio::awaitable<bool> wait_until_sent();
  void add_header(std::string_view name, std::string_view value);
  // :status, the response's end-to-end fields but `drop`, the request id: the fields of a HEADERS.
  void add_response_head(int status, const DownstreamResponse& response, std::string_view drop = {});
  // The two halves of an extended CONNECT's tunnel: DATA to the backend, the backend's bytes as DATA.
  asio::awaitable<uint64_t> tunnel_to_upstream(upstream::Exchange& exchange);
  asio::awaitable<uint64_t> tunnel_to_client(upstream::Exchange& exchange);
  void end_tunnel(upstream::Exchange& exchange);
  // The response's trailer fields (a chunked body's, as the exchange read them) for the trailer HEADERS.
  void add_trailers(std::span<const http::Header> trailers);

  Http2Connection& connection_;
  std::shared_ptr<Http2Stream> stream_;
  asio::steady_timer wake_;
  asio::steady_timer tunnel_wake_;  // the client-to-backend half's, beside wake_ (push's, the other half's)
  std::unique_ptr<StreamWorkspace> workspace_;
  upstream::Exchange* exchange_ = nullptr;  // while the handler's exchange runs
  http::BodyFraming framing_ = http::BodyFraming::kNone;
  std::chrono::milliseconds client_timeout_{60'000};
  // RFC 8441: CONNECT with :protocol websocket, sent upstream as an HTTP/1.1 upgrade with a key of ours.
  bool extended_connect_ = false;
  Clock::time_point tunnel_activity_;
  bool tunnel_to_client_done_ = false;
  bool tunnel_idle_timed_out_ = false;
};

class Http2Connection final : public Http2Codec::Listener {
 public:
  Http2Connection(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog,
                  ListenerSlot& listener)
      : context_(context),
        stream_(stream),
        watchdog_(watchdog),
        listener_(listener),
        limits_(client_limits(context, listener)),
        codec_(*this, settings(context, limits_)),
        writer_wake_(stream.get_executor()),
        done_wake_(stream.get_executor()),
        tick_(stream.get_executor()),
        read_buffer_() {
    std::error_code ec;
    auto remote = stream_.lowest_layer().remote_endpoint(ec);
    client_ip_ = ec ? "unknown" : remote.address().to_string();
    client_address_ = ec ? "unknown" : client_ip_ + ":" + std::to_string(remote.port());
    context_.in_flight.fetch_add(1, std::memory_order_relaxed);  // the drain waits for our GOAWAY
  }
  ~Http2Connection() {
    *alive_ = false;
    context_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  asio::awaitable<void> run(std::string initial) {
    last_activity_ = Clock::now();
    auto executor = stream_.get_executor();
    writer_running_ = ticker_running_ = true;
    asio::co_spawn(executor, write_main(this), asio::detached);
    asio::co_spawn(executor, tick_main(this), asio::detached);
    bool ok = feed(initial);
    while (ok && !stop_reading_ && (codec_.wants_read() || codec_.wants_write())) {
      std::string_view got;
      if (!co_await read_some(got)) break;
      ok = feed(got);
    }
    reading_done_ = true;
    // Streams still running lose their client: their tasks end (and cancel their upstream I/O).
    codec_.abandon_all();
    kick_writer();
    tick_.cancel();
    while (tasks_ > 0 || writer_running_ || ticker_running_) {
      done_wake_.expires_at(Clock::time_point::max());
      co_await done_wake_.async_wait(kNoThrow);
    }
    if (!stream_.is_tls() && !write_failed_) co_await linger();
  }

  // ---- Http2Codec::Listener ----
  void on_request(const std::shared_ptr<Http2Stream>& stream) override { ready_.push_back(stream); }
  void on_stream_change(Http2Stream& stream) override {
    if (stream.owner) static_cast<StreamTask*>(stream.owner)->changed();
  }

  // ---- for the stream tasks ----
  SessionContext& context() { return context_; }
  ListenerSlot& listener() { return listener_; }
  Http2Codec& codec() { return codec_; }
  const route::ClientLimits& limits() const { return limits_; }
  std::string_view client_ip() const { return client_ip_; }
  std::string_view client_address() const { return client_address_; }
  std::string_view scheme() const { return stream_.is_tls() ? "https" : "http"; }
  void kick_writer() { writer_wake_.cancel(); }
  net::ClientStream::executor_type executor() { return stream_.get_executor(); }

  std::unique_ptr<StreamWorkspace> take_workspace() {
    if (spare_workspaces_.empty()) return std::make_unique<StreamWorkspace>(context_, listener_);
    std::unique_ptr<StreamWorkspace> workspace = std::move(spare_workspaces_.back());
    spare_workspaces_.pop_back();
    return workspace;
  }
  // Kept only while other streams run (`tasks_` still counts the giver): a connection whose last stream
  // just ended may stay idle for long, and one that asks one thing at a time gains little from a spare.
  void give_back(std::unique_ptr<StreamWorkspace> workspace) {
    if (workspace && tasks_ > 1 && spare_workspaces_.size() < kSpareWorkspaces)
      spare_workspaces_.push_back(std::move(workspace));
  }

 private:
  // The header list limits are the listener's when the connection starts (they are in its SETTINGS).
  static Http2Settings settings(const SessionContext& context, const route::ClientLimits& limits) {
    Http2Settings s;
    s.max_concurrent_streams = context.options.http2_max_concurrent_streams;
    s.max_header_bytes = limits.head.max_header_bytes;
    s.max_headers = limits.head.max_headers;
    return s;
  }

  // The listener's ClientTrafficPolicy over the flags, as the HTTP/1 session resolves it.
  static route::ClientLimits client_limits(SessionContext& context, ListenerSlot& listener) {
    const SessionOptions& o = context.options;
    const route::ClientLimits defaults{o.limits, o.max_request_body, o.header_timeout, o.idle_timeout};
    const route::Listener* served = listener.resolve(*context.table);
    return route::effective_client_limits(served ? served->client_traffic.get() : nullptr, defaults);
  }
  void refresh_limits() { limits_ = client_limits(context_, listener_); }

  bool feed(std::string_view bytes) {
    const bool ok = codec_.receive(bytes);
    if (!ok) spdlog::debug("http2 {}: connection error: {}", client_address_, codec_.error());
    spawn_ready();
    kick_writer();
    return ok;
  }

  void spawn_ready() {
    if (ready_.empty()) return;
    refresh_limits();
    auto executor = stream_.get_executor();
    for (auto& stream : ready_) {
      if (stream->closed) continue;
      // Streams the client reset may still be winding down their upstream exchange; new ones wait
      // their turn rather than pile up behind them (rapid reset).
      if (tasks_ >= 2 * static_cast<size_t>(context_.options.http2_max_concurrent_streams)) {
        codec_.reset(*stream, NGHTTP2_REFUSED_STREAM);
        continue;
      }
      ++tasks_;
      served_ = true;
      last_activity_ = Clock::now();
      asio::co_spawn(executor, stream_main(this, std::move(stream)), asio::detached);
    }
    ready_.clear();
  }

  // Counts a stream task until its frame goes, however it goes: when a stopping worker destroys
  // suspended frames in any order, the connection may be gone first (`alive` says).
  struct TaskCount {
    Http2Connection* c;
    std::shared_ptr<const bool> alive;
    ~TaskCount() {
      if (*alive) c->task_done();
    }
  };

  static asio::awaitable<void> stream_main(Http2Connection* c, std::shared_ptr<Http2Stream> stream) {
    TaskCount count{c, c->alive_};
    StreamTask task(*c, std::move(stream), c->take_workspace());
    co_await task.run();
    c->give_back(task.release_workspace());  // the connection outlives a task that ran to its end
  }

  void task_done() {
    --tasks_;
    last_activity_ = Clock::now();
    kick_writer();
    done_wake_.cancel();
  }

  static asio::awaitable<void> write_main(Http2Connection* c) {
    co_await c->write_loop();
    c->writer_running_ = false;
    c->done_wake_.cancel();
  }

  asio::awaitable<void> write_loop() {
    for (;;) {
      write_buffer_.clear();
      if (!codec_.produce(write_buffer_, kWriteChunk)) stop();
      if (write_buffer_.empty()) {
        if (reading_done_) co_return;
        // A GOAWAY went out and every stream is done: the connection ends here.
        if (close_after_flush_ || (codec_.goaway_sent() && tasks_ == 0 && codec_.open_streams() == 0)) stop();
        if (!codec_.wants_read() && !codec_.wants_write()) stop();
        // An idle connection keeps no large write buffer (a busy one reuses its own).
        if (write_buffer_.capacity() > kKeptWriteBuffer) std::string().swap(write_buffer_);
        writer_wake_.expires_at(Clock::time_point::max());
        co_await writer_wake_.async_wait(kNoThrow);
        continue;
      }
      watchdog_.reset_fired();
      watchdog_.arm(limits_.idle_timeout);  // a client that reads nothing is cut off (the watchdog closes)
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(write_buffer_), kNoThrow);
      watchdog_.disarm();
      if (ec) {
        write_failed_ = true;
        stop();
        co_return;
      }
    }
  }

  // Ends the read loop (the pending read is cancelled).
  void stop() {
    if (stop_reading_) return;
    stop_reading_ = true;
    std::error_code ignored;
    stream_.lowest_layer().cancel(ignored);
  }

  static asio::awaitable<void> tick_main(Http2Connection* c) {
    co_await c->tick_loop();
    c->ticker_running_ = false;
    c->done_wake_.cancel();
  }

  // Once a second: the drain (SIGTERM), a reload that removed the listener, and the idle timeout each
  // end the connection with a GOAWAY naming the last stream it processed; those streams run to their end.
  asio::awaitable<void> tick_loop() {
    for (;;) {
      tick_.expires_after(kTick);
      co_await tick_.async_wait(kNoThrow);
      if (reading_done_) co_return;
      const bool draining = context_.draining.load(std::memory_order_relaxed);
      const bool listener_gone = listener_.resolve(*context_.table) == nullptr;
      // No request running: the idle timeout, or the header timeout before the first request and while
      // a head is incomplete (a header block trickled in, or never finished).
      const bool heads_pending = codec_.incomplete_heads() > 0;
      const auto idle_limit = served_ && !heads_pending ? limits_.idle_timeout : limits_.header_timeout;
      const bool idle = tasks_ == 0 && codec_.open_streams() == codec_.incomplete_heads() &&
                        Clock::now() - last_activity_ >= idle_limit;
      // Quiet for a whole tick: the connection gives back what only a busy one needs.
      if (tasks_ == 0 && Clock::now() - last_activity_ >= kTick) {
        codec_.release_idle_memory();
        spare_workspaces_.clear();
      }
      if (draining || listener_gone || idle) {
        codec_.goaway(NGHTTP2_NO_ERROR);
        close_after_flush_ = close_after_flush_ || idle;  // nothing runs: no stream to wait for
        kick_writer();
      }
    }
  }

  // The next bytes from the client, in `got` (valid until the next suspension); false when the
  // connection ended or the read was cancelled. A plain connection waits for readability and reads into
  // the worker's one buffer, so that an idle connection holds no read buffer; TLS reads through OpenSSL
  // (which may hold decrypted bytes no readiness announces) into the connection's own.
  asio::awaitable<bool> read_some(std::string_view& got) {
    if (stream_.is_tls()) {
      if (read_buffer_.empty()) read_buffer_.resize(kReadChunk);
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(read_buffer_), kNoThrow);
      got = {read_buffer_.data(), n};
      co_return !ec;
    }
    auto& socket = stream_.lowest_layer();
    for (;;) {
      auto [ec] = co_await socket.async_wait(asio::ip::tcp::socket::wait_read, kNoThrow);
      if (ec) co_return false;
      thread_local std::array<char, kReadChunk> shared;
      const ssize_t n = ::recv(socket.native_handle(), shared.data(), shared.size(), MSG_DONTWAIT);
      if (n > 0) {
        got = {shared.data(), static_cast<size_t>(n)};
        co_return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) co_return false;
    }
  }

  // After a GOAWAY on a plain connection: stop sending, read what the client still sends for a moment,
  // then close, so that a close with unread bytes (a reset) does not destroy the GOAWAY before the
  // client reads it (nginx's lingering close).
  asio::awaitable<void> linger() {
    auto& socket = stream_.lowest_layer();
    if (!socket.is_open()) co_return;
    std::error_code ec;
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    watchdog_.reset_fired();
    watchdog_.arm(kLingerAfterGoaway);
    for (std::string_view ignored;;)
      if (!co_await read_some(ignored)) break;
    watchdog_.disarm();
  }

  SessionContext& context_;
  net::ClientStream& stream_;
  net::SocketWatchdog& watchdog_;
  ListenerSlot& listener_;
  route::ClientLimits limits_;  // before codec_, whose settings come from it
  Http2Codec codec_;
  asio::steady_timer writer_wake_;
  asio::steady_timer done_wake_;
  asio::steady_timer tick_;
  std::vector<char> read_buffer_;  // TLS only, allocated on its first read
  std::string write_buffer_;
  std::vector<std::shared_ptr<Http2Stream>> ready_;  // heads complete, tasks not yet started
  std::vector<std::unique_ptr<StreamWorkspace>> spare_workspaces_;  // given back by ended streams
  std::string client_ip_;
  std::string client_address_;
  size_t tasks_ = 0;
  Clock::time_point last_activity_;
  bool served_ = false;
  bool writer_running_ = false;
  bool ticker_running_ = false;
  bool reading_done_ = false;
  bool stop_reading_ = false;
  bool write_failed_ = false;
  bool close_after_flush_ = false;  // the GOAWAY is the last thing sent
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

StreamTask::StreamTask(Http2Connection& connection, std::shared_ptr<Http2Stream> stream,
                       std::unique_ptr<StreamWorkspace> workspace)
    : connection_(connection),
      stream_(std::move(stream)),
      wake_(connection.executor()),
      tunnel_wake_(connection.executor()),
      workspace_(std::move(workspace)) {
  stream_->owner = this;
}

void StreamTask::changed() {
  // A stream the client reset (or a connection that went away) stops its upstream exchange at once:
  // what is waiting on the backend fails now instead of at its timeout.
  if (stream_->closed && exchange_) exchange_->cancel();
  wake_.cancel();
  tunnel_wake_.cancel();
}

asio::awaitable<bool> StreamTask::wait(Clock::time_point deadline) {
  wake_.expires_at(deadline);
  co_await wake_.async_wait(kNoThrow);
  co_return Clock::now() < deadline;
}

asio::awaitable<void> StreamTask::run() {
  Http2Stream& s = *stream_;
  if (s.closed) co_return;
  const route::ClientLimits& limits = connection_.limits();
  client_timeout_ = limits.idle_timeout;
  // How the body goes upstream: when it has all arrived already (the common case: END_STREAM on the
  // HEADERS, or a small body in the same read), with its length; else by the declared length, or chunked.
  // RFC 8441: a WebSocket over HTTP/2 is the HTTP/1.1 upgrade it stands for (what nghttp2 let through
  // with :protocol is a CONNECT); its DATA are the tunnel's bytes, not a body. Another CONNECT stays one.
  extended_connect_ = s.method == "CONNECT" && s.protocol == "websocket";
  uint64_t length = 0;
  bool has_length = false;
  for (const auto& f : s.fields) {
    if (f.name == "content-length") {
      has_length = true;
      length = std::strtoull(f.value.c_str(), nullptr, 10);  // nghttp2 checked its syntax
    }
  }
  if (extended_connect_) {
    framing_ = http::BodyFraming::kNone;
  } else if (s.body_done && !s.request_trailers.empty() && !has_length) {
    framing_ = http::BodyFraming::kChunked;  // the one HTTP/1.1 framing that carries trailers
  } else if (s.body_done) {
    framing_ = s.body.empty() && !has_length ? http::BodyFraming::kNone : http::BodyFraming::kContentLength;
    if (!has_length) length = s.body.size();
  } else {
    framing_ = has_length ? http::BodyFraming::kContentLength : http::BodyFraming::kChunked;
  }
  std::vector<http::Header>& request_headers = workspace_->request_headers;
  request_headers.clear();
  request_headers.reserve(s.fields.size() + 3);
  for (const auto& f : s.fields)
    if (f.name != "content-length" && !(extended_connect_ && f.name == "sec-websocket-key"))
      request_headers.push_back({f.name, f.value});
  if (extended_connect_) {
    workspace_->websocket_key = http::ws::client_key(fast_random(), fast_random());
    request_headers.push_back({"upgrade", "websocket"});
    request_headers.push_back({"connection", "Upgrade"});
    request_headers.push_back({"sec-websocket-key", workspace_->websocket_key});
  }
  const DownstreamRequest request{
      .method = extended_connect_ ? std::string_view("GET") : std::string_view(s.method),
      .target = s.path,
      .host = s.authority.empty() ? std::string_view(s.host) : std::string_view(s.authority),
      .headers = request_headers,
      .connection = extended_connect_ ? std::string_view("Upgrade") : std::string_view(),
      .framing = framing_,
      .content_length = length,
      .keep_alive = true,
      .max_body = limits.max_request_body,
      .scheme = connection_.scheme(),
      .client_ip = connection_.client_ip(),
      .client_address = connection_.client_address(),
      .protocol = "HTTP/2",
      .client_method = extended_connect_ ? std::string_view("CONNECT") : std::string_view(),
  };
  if (s.reject_status) {
    const bool replied = co_await workspace_->handler.reject(*this, connection_.client_address(), s.reject_status,
                                                  s.reject_reason);
    (void)replied;
  } else {
    const bool served = co_await workspace_->handler.handle(*this, request);
    (void)served;
  }
  exchange_ = nullptr;
  // A request that ended without a whole answer (the client went away, the backend failed mid-body):
  // the stream is reset, the only honest end once a head went out.
  if (!s.closed && (!s.response_submitted || !s.out_eof)) connection_.codec().reset(s, NGHTTP2_INTERNAL_ERROR);
  connection_.kick_writer();
}

asio::awaitable<RelayResult> StreamTask::send_request_body(upstream::Exchange& exchange, http::BodyCapture* capture) {
  exchange_ = &exchange;
  Http2Stream& s = *stream_;
  Http2Codec& codec = connection_.codec();
  const SessionOptions& options = connection_.context().options;
  const uint64_t max_body = connection_.limits().max_request_body;
  RelayResult result;
  if (extended_connect_) {  // only the head: the DATA are the tunnel's, relayed after the 101
    if (!co_await exchange.send_body({}, true, {}, options.response_timeout)) result.status = RelayStatus::kSinkFailed;
    co_return result;
  }
  if (s.expect_continue && !s.body_done && s.body.empty()) {
    codec.submit_informational(s, 100);
    connection_.kick_writer();
  }
  std::vector<http::Header>& trailers = workspace_->request_trailers;
  std::string& piece = workspace_->scratch;
  for (;;) {
    if (s.closed && !s.body_done) {
      result.status = RelayStatus::kSourceFailed;
      co_return result;
    }
    const size_t n = s.body.size();
    if (n > 0) {
      if (max_body && result.bytes + n > max_body) {
        result.status = RelayStatus::kTooLarge;
        co_return result;
      }
      if (capture) capture->add(s.body);
      result.bytes += n;
    }
    // DATA arriving while the piece is written go to s.body, which may move: the two buffers trade
    // places (no copy, and each keeps its capacity for the next round).
    piece.swap(s.body);
    s.body.clear();
    const bool last = s.body_done;
    trailers.clear();
    if (last)  // the client's trailer fields, when it sent any (only a chunked body carries them)
      for (const auto& f : s.request_trailers) trailers.push_back({f.name, f.value});
    if (!co_await exchange.send_body(piece, last, trailers, options.response_timeout)) {
      result.status = RelayStatus::kSinkFailed;
      co_return result;
    }
    result.wrote = true;
    // The bytes are upstream: the client may send as much again (back-pressure from a slow backend).
    if (n > 0) {
      codec.consume(s, n);
      connection_.kick_writer();
    }
    if (last) co_return result;
    if (s.body.empty() && !s.body_done && !s.closed && !co_await wait(Clock::now() + client_timeout_)) {
      result.status = RelayStatus::kSourceFailed;
      co_return result;
    }
  }
}

void StreamTask::add_header(std::string_view name, std::string_view value) {
  std::vector<Http2Field>& fields = workspace_->response_fields;
  if (workspace_->response_field_count == fields.size()) fields.emplace_back();
  Http2Field& f = fields[workspace_->response_field_count++];
  f.name.assign(name);
  for (char& c : f.name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  f.value.assign(value);
}

void StreamTask::add_response_head(int status, const DownstreamResponse& response, std::string_view drop) {
  const http::ResponseHead& upstream = response.upstream;
  workspace_->response_field_count = 0;
  add_header(":status", std::to_string(status));
  for (const auto& h : response.headers)
    if (!http::is_connection_specific(h.name, upstream.connection) && !http::iequals(h.name, drop))
      add_header(h.name, h.value);
  if (!response.request_id.empty() && upstream.find("x-request-id").empty())
    add_header("x-request-id", response.request_id);
}

void StreamTask::add_trailers(std::span<const http::Header> trailers) {
  for (const auto& t : trailers) {
    Http2Field& f = stream_->trailers.emplace_back();
    f.name.assign(t.name);
    for (char& c : f.name) c = http::ascii_lower(c);
    f.value.assign(t.value);
  }
}

asio::awaitable<bool> StreamTask::push(std::string_view piece, RelayResult& result, http::BodyCapture* capture) {
  Http2Stream& s = *stream_;
  if (capture) capture->add(piece);
  s.out.append(piece);
  result.bytes += piece.size();
  connection_.codec().resume(s);
  connection_.kick_writer();
  // Each wait must see progress within the client timeout: a reader that opens no window is cut off.
  while (s.out.size() >= kStreamHighWater && !s.closed) {
    if (!co_await wait(Clock::now() + client_timeout_)) break;
  }
  co_return !s.closed && s.out.size() < kStreamHighWater;
}

asio::awaitable<bool> StreamTask::wait_until_sent() {
  Http2Stream& s = *stream_;
  size_t pending = s.out.size();
  while (!s.end_sent && !s.closed) {
    if (!co_await wait(Clock::now() + client_timeout_)) {
      if (s.out.size() == pending) co_return false;  // no progress for a whole timeout
    }
    pending = s.out.size();
  }
  co_return s.end_sent;
}

asio::awaitable<RelayResult> StreamTask::send_response(upstream::Exchange& exchange, const DownstreamResponse& response,
                                                       http::BodyCapture* capture) {
  exchange_ = &exchange;
  Http2Stream& s = *stream_;
  const http::ResponseHead& upstream = response.upstream;
  RelayResult result;
  if (extended_connect_ && upstream.status / 100 == 2) {
    // The client would take a 2xx for an open tunnel (RFC 8441 5); the backend did not switch.
    const LocalReply reply{502, "the backend did not switch protocols", {}, true, response.request_id};
    const bool sent = co_await send_local_reply(reply);
    result.wrote = true;
    result.status = sent ? RelayStatus::kDone : RelayStatus::kSinkFailed;
    co_return result;
  }
  add_response_head(upstream.status, response);
  const std::string_view declared = upstream.find("content-length");
  uint64_t length = upstream.framing == http::BodyFraming::kContentLength ? upstream.content_length : 0;
  if (!response.body_allowed) {
    if (!declared.empty()) add_header("content-length", declared);
  } else if (upstream.framing == http::BodyFraming::kContentLength || upstream.framing == http::BodyFraming::kNone) {
    add_header("content-length", std::to_string(length));
  }
  const bool body_follows =
      response.body_allowed && (upstream.framing == http::BodyFraming::kChunked ||
                                upstream.framing == http::BodyFraming::kUntilClose || length > 0);
  if (!connection_.codec().submit_response(s, workspace_->response_head(), body_follows)) {
    result.status = RelayStatus::kSinkFailed;
    co_return result;
  }
  connection_.kick_writer();
  result.wrote = true;
  // The body as the exchange decodes it (none for HEAD, 204, 304: the exchange says kDone at once); each
  // piece goes to the client before the next is read.
  const auto read_timeout = connection_.context().options.response_timeout;
  for (;;) {
    std::string_view piece;
    upstream::BodyRead read = exchange.take_body(piece);
    if (read == upstream::BodyRead::kWait) read = co_await exchange.read_body(piece, read_timeout);
    if (read == upstream::BodyRead::kDone) break;
    if (read != upstream::BodyRead::kData) {
      result.status = read == upstream::BodyRead::kMalformed ? RelayStatus::kSourceMalformed : RelayStatus::kSourceFailed;
      co_return result;
    }
    if (!co_await push(piece, result, capture)) {
      result.status = RelayStatus::kSinkFailed;
      co_return result;
    }
  }
  if (body_follows) {
    add_trailers(exchange.trailers());
    s.out_eof = true;
    connection_.codec().resume(s);
    connection_.kick_writer();
  }
  if (!co_await wait_until_sent()) result.status = RelayStatus::kSinkFailed;
  co_return result;
}

asio::awaitable<bool> StreamTask::send_local_reply(const LocalReply& reply) {
  Http2Stream& s = *stream_;
  if (s.closed || s.response_submitted) co_return false;
  const bool bodiless = reply.status == 204 || reply.status == 304;
  workspace_->response_field_count = 0;
  add_header(":status", std::to_string(reply.status));
  for (const auto& h : reply.headers) add_header(h.name, h.value);
  s.out.clear();
  if (!bodiless) {
    s.out.append(reply.message).append("\n");
    add_header("content-type", "text/plain");
    add_header("content-length", std::to_string(s.out.size()));
  }
  if (!reply.request_id.empty()) add_header("x-request-id", reply.request_id);
  s.out_eof = true;
  if (!connection_.codec().submit_response(s, workspace_->response_head(), !bodiless)) co_return false;
  connection_.kick_writer();
  const bool sent = co_await wait_until_sent();
  co_return sent && !reply.close;
}

asio::awaitable<TunnelResult> StreamTask::open_tunnel(upstream::Exchange& exchange, const DownstreamResponse& response) {
  using namespace asio::experimental::awaitable_operators;
  exchange_ = &exchange;
  Http2Stream& s = *stream_;
  const http::ResponseHead& upstream = response.upstream;
  if (!extended_connect_ || s.closed) co_return TunnelResult{};
  // The 101 becomes a 200 (RFC 8441 5); its Accept answered our key, not the client's, which sent none.
  add_response_head(200, response, "sec-websocket-accept");
  exchange.connection().buffer.consume(upstream.head_length);
  if (!connection_.codec().submit_response(s, workspace_->response_head(), true)) co_return TunnelResult{};
  connection_.kick_writer();
  tunnel_activity_ = Clock::now();
  auto [to_upstream, to_client] = co_await (tunnel_to_upstream(exchange) && tunnel_to_client(exchange));
  co_return TunnelResult{to_upstream, to_client, tunnel_idle_timed_out_, 200};
}

// DATA go to the backend as they come, and the stream's window opens only as they are written (the
// backend's pace). END_STREAM is a half-close. This half also watches the tunnel idle timeout until the
// other half ended.
asio::awaitable<uint64_t> StreamTask::tunnel_to_upstream(upstream::Exchange& exchange) {
  Http2Stream& s = *stream_;
  auto& backend = exchange.connection().stream;
  const auto idle_timeout = connection_.context().options.tunnel_idle_timeout;
  uint64_t bytes = 0;
  bool sending = true;
  std::string piece;
  while (!s.closed && !(tunnel_to_client_done_ && !sending)) {
    if (sending && !s.body.empty()) {
      piece.swap(s.body);  // DATA arriving meanwhile go to a fresh s.body
      auto [ec, n] = co_await asio::async_write(backend, asio::buffer(piece), kNoThrow);
      piece.clear();
      if (ec) {
        end_tunnel(exchange);
        break;
      }
      bytes += n;
      tunnel_activity_ = Clock::now();
      connection_.codec().consume(s, n);
      connection_.kick_writer();
      continue;
    }
    if (sending && s.body_done) {
      sending = false;
      std::error_code ignored;
      backend.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      continue;
    }
    tunnel_wake_.expires_at(tunnel_activity_ + idle_timeout);
    co_await tunnel_wake_.async_wait(kNoThrow);
    if (!s.closed && Clock::now() >= tunnel_activity_ + idle_timeout) {
      tunnel_idle_timed_out_ = true;
      end_tunnel(exchange);
      connection_.codec().reset(s, NGHTTP2_CANCEL);  // even when the backend's half had ended cleanly
      connection_.kick_writer();
      break;
    }
  }
  co_return bytes;
}

// The backend's bytes become DATA through push, which holds the backend back while the client's
// windows are shut. The backend's EOF is END_STREAM.
asio::awaitable<uint64_t> StreamTask::tunnel_to_client(upstream::Exchange& exchange) {
  Http2Stream& s = *stream_;
  auto& connection = exchange.connection();
  RelayResult relayed;
  for (;;) {
    if (!connection.buffer.empty()) {
      const size_t n = connection.buffer.size();
      const bool pushed = co_await push(connection.buffer.readable(), relayed, nullptr);
      connection.buffer.consume(n);
      tunnel_activity_ = Clock::now();
      if (!pushed) {
        end_tunnel(exchange);
        break;
      }
    }
    size_t available = 0;
    char* p = connection.buffer.prepare(kUpstreamReadChunk, available);
    auto [ec, n] = co_await connection.stream.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) {
      if (ec == asio::error::eof && !s.closed) {
        s.out_eof = true;
        connection_.codec().resume(s);
        connection_.kick_writer();
      } else {
        end_tunnel(exchange);
      }
      break;
    }
    connection.buffer.commit(n);
    tunnel_activity_ = Clock::now();
  }
  tunnel_to_client_done_ = true;
  tunnel_wake_.cancel();
  co_return relayed.bytes;
}

// A failure or the idle timeout: the backend connection is shut and the stream reset (by run()).
void StreamTask::end_tunnel(upstream::Exchange& exchange) {
  std::error_code ignored;
  auto& backend = exchange.connection().stream;
  backend.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  backend.cancel(ignored);
  tunnel_wake_.cancel();
  wake_.cancel();
}

}  // namespace

asio::awaitable<void> serve_http2(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog,
                                  ListenerSlot& listener, std::string initial) {
  Http2Connection connection(context, stream, watchdog, listener);
  co_await connection.run(std::move(initial));
}

}  // namespace mg::proxy
