#include "upstream/h2c_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "common/byte_buffer.h"
#include "http/chunked.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "http/syntax.h"
#include "upstream/h2_client_codec.h"

namespace mg::upstream {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr uint32_t kStreamWindow = 64 * 1024;  // response bytes of one stream in flight to us
constexpr size_t kPendingBody = 64 * 1024;     // request body bytes queued for one stream
constexpr size_t kReplayableBody = 64 * 1024;  // a refused stream is sent again if its body fits
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kWriteChunk = 64 * 1024;
constexpr int kSubmitAttempts = 3;

// Wakes the coroutines waiting on it. Level-triggered: a waiter checks its condition before each wait,
// and nothing can run between that check and the wait (one thread per worker). The expiry is set once:
// setting it again would cancel the other waiters.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& executor) : timer_(executor) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  void notify() { timer_.cancel(); }
  asio::awaitable<void> wait() { co_await timer_.async_wait(kNoThrow); }

 private:
  asio::steady_timer timer_;
};

// One TCP connection to a backend, with a read loop and a write loop around its codec.
class H2cConnection final : public H2ClientCodec::Listener, public std::enable_shared_from_this<H2cConnection> {
 public:
  explicit H2cConnection(const asio::any_io_executor& executor)
      : socket_(executor), codec_(*this, kStreamWindow), writer_(executor), ready_signal_(executor) {}

  void start(asio::ip::tcp::socket socket) {
    socket_ = std::move(socket);
    ready_ = true;
    idle_since_ = std::chrono::steady_clock::now();
    ready_signal_.notify();
    asio::co_spawn(socket_.get_executor(), read_loop(shared_from_this()), asio::detached);
    asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
  }
  void fail() {
    closed_ = true;
    ready_signal_.notify();
  }
  asio::awaitable<void> wait_ready() { co_await ready_signal_.wait(); }

  bool ready() const { return ready_; }
  bool usable() const { return !closed_ && !codec_.draining(); }
  bool full() const { return codec_.full(); }
  size_t load() const { return codec_.open_streams(); }
  H2ClientCodec& codec() { return codec_; }
  void kick() { writer_.notify(); }
  // Without a stream since then (only meaningful while load() is 0).
  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }

  void on_stream_change(H2ClientStream& stream) override {
    if (stream.owner) static_cast<Signal*>(stream.owner)->notify();
    if (stream.closed && codec_.open_streams() == 0) idle_since_ = std::chrono::steady_clock::now();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket_.close(ignored);
    codec_.abandon_all();
    writer_.notify();
  }

 private:
  static asio::awaitable<void> read_loop(std::shared_ptr<H2cConnection> self) {
    std::string in(kReadChunk, '\0');
    for (;;) {
      auto [ec, n] = co_await self->socket_.async_read_some(asio::buffer(in), kNoThrow);
      if (ec || self->closed_) break;
      const bool ok = self->codec_.receive(std::string_view(in.data(), n));
      self->kick();  // SETTINGS and PING acks, window updates
      if (!ok) break;
    }
    self->close();
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<H2cConnection> self) {
    std::string out;
    while (!self->closed_) {
      out.clear();
      if (!self->codec_.produce(out, kWriteChunk)) break;
      if (out.empty()) {
        // A GOAWAY came or went and the last stream ended: nothing more to say.
        if (!self->codec_.wants_read() && !self->codec_.wants_write()) break;
        co_await self->writer_.wait();
        continue;
      }
      auto [ec, n] = co_await asio::async_write(self->socket_, asio::buffer(out), kNoThrow);
      if (ec) break;
    }
    self->close();
  }

  asio::ip::tcp::socket socket_;
  H2ClientCodec codec_;
  Signal writer_;
  Signal ready_signal_;
  bool ready_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point idle_since_;
};

}  // namespace

struct H2cConnections::State {
  std::unordered_map<std::string, std::vector<std::shared_ptr<H2cConnection>>> by_endpoint;
  stats::WorkerStats* stats = nullptr;  // the worker's, which outlives its pools

  // A connection with room for a stream: an open one below the backend's stream limit, the one being
  // opened, a new one while fewer than the cap exist, else the least loaded (nghttp2 queues the stream).
  asio::awaitable<std::shared_ptr<H2cConnection>> acquire(const route::Endpoint& endpoint,
                                                          std::chrono::milliseconds timeout, ConnectResult& failure) {
    for (;;) {
      auto& list = by_endpoint[endpoint.address];
      std::erase_if(list, [](const auto& c) { return c->ready() && !c->usable(); });  // they end on their own
      std::shared_ptr<H2cConnection> best, connecting;
      for (const auto& c : list) {
        if (!c->ready()) {
          if (c->usable()) connecting = c;
        } else if (!c->full() && (!best || c->load() < best->load())) {
          best = c;
        }
      }
      if (best) co_return best;
      if (connecting) {
        co_await connecting->wait_ready();
        if (connecting->ready()) co_return connecting;
        continue;
      }
      if (list.size() < kConnectionsPerEndpoint) {
        auto executor = co_await asio::this_coro::executor;
        auto fresh = std::make_shared<H2cConnection>(executor);
        list.push_back(fresh);
        failure = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
        if (!failure.connection) {
          fresh->fail();
          std::erase(by_endpoint[endpoint.address], fresh);
          co_return nullptr;
        }
        fresh->start(std::move(failure.connection->socket));
        ++stats->upstream_connections_total;
        ++stats->upstream_h2c_connections_total;
        failure.connection.reset();
        co_return fresh;
      }
      co_return *std::min_element(list.begin(), list.end(),
                                  [](const auto& a, const auto& b) { return a->load() < b->load(); });
    }
  }
};

namespace {

// The stream a bridge waits on: on any exit its wake-up pointer goes, and an unfinished stream is reset
// (the Exchange gave up: timeout, client gone).
struct StreamHold {
  std::shared_ptr<H2cConnection> connection;
  std::shared_ptr<H2ClientStream> stream;
  StreamHold() = default;
  StreamHold(const StreamHold&) = delete;
  StreamHold& operator=(const StreamHold&) = delete;
  ~StreamHold() { release(); }
  void release() {
    if (!stream) return;
    stream->owner = nullptr;
    if (!stream->closed) connection->codec().reset(*stream, NGHTTP2_CANCEL);
    connection->codec().consume(*stream, stream->body.size());
    connection->kick();
    stream.reset();
    connection.reset();
  }
};

// The HTTP/1.1 side of one socket pair: requests in, answers out, one at a time, each as an h2 stream.
class Bridge {
 public:
  Bridge(std::shared_ptr<H2cConnections::State> state, asio::local::stream_protocol::socket pair,
         const route::Endpoint& endpoint, std::chrono::milliseconds timeout, std::shared_ptr<H2cConnection> first)
      : state_(std::move(state)), pair_(std::move(pair)), endpoint_(endpoint), timeout_(timeout),
        first_(std::move(first)), signal_(pair_.get_executor()) {}

  asio::awaitable<void> run() {
    bool more = true;
    while (more) {
      more = co_await read_head();
      if (more) more = co_await exchange();
    }
  }

 private:
  asio::awaitable<bool> read_more() {
    size_t available = 0;
    char* p = in_.prepare(kReadChunk, available);
    auto [ec, n] = co_await pair_.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) co_return false;
    in_.commit(n);
    co_return true;
  }

  // The next request head, turned into HTTP/2 fields (copies: the head views the buffer).
  asio::awaitable<bool> read_head() {
    http::RequestHead head;
    for (;;) {
      const http::ParseResult r = http::parse_request_head(in_.readable(), limits_, head);
      if (r.status == http::ParseStatus::kError) co_return false;
      if (r.status == http::ParseStatus::kComplete) break;
      if (!co_await read_more()) co_return false;
    }
    fields_.clear();
    fields_.push_back({":method", std::string(head.method)});
    fields_.push_back({":scheme", "http"});
    fields_.push_back({":authority", head.host.empty() ? endpoint_.address : std::string(head.host)});
    fields_.push_back({":path", std::string(head.target)});
    // HTTP/1.1's connection-specific fields have no place in HTTP/2 (RFC 9113 8.2.2); TE: trailers does.
    for (const auto& h : head.headers) {
      if (http::iequals(h.name, "te") && http::iequals(http::trim_ows(h.value), "trailers")) {
        fields_.push_back({"te", "trailers"});
        continue;
      }
      if (http::iequals(h.name, "host") || http::is_connection_specific(h.name, head.connection)) continue;
      std::string name(h.name);
      for (char& c : name) c = http::ascii_lower(c);
      fields_.push_back({std::move(name), std::string(h.value)});
    }
    framing_ = head.framing;
    remaining_ = head.content_length;
    if (framing_ == http::BodyFraming::kContentLength)
      fields_.push_back({"content-length", std::to_string(head.content_length)});
    head_request_ = head.method == "HEAD";
    in_.consume(head.head_length);
    chunked_.reset();
    body_read_ = framing_ == http::BodyFraming::kNone;
    kept_.clear();
    keep_ = true;
    co_return true;
  }

  // One request as a stream (again on another connection when the backend refused it unprocessed),
  // then its answer. False: the pair must close.
  asio::awaitable<bool> exchange() {
    StreamHold hold;
    for (int attempt = 0;; ++attempt) {
      hold.release();
      std::shared_ptr<H2cConnection> connection = std::move(first_);
      if (!connection) {
        ConnectResult failure;
        connection = co_await state_->acquire(endpoint_, timeout_, failure);
        if (!connection) co_return false;
      }
      auto stream = std::make_shared<H2ClientStream>();
      stream->owner = &signal_;
      if (!connection->codec().submit(stream, fields_, framing_ != http::BodyFraming::kNone)) {
        if (attempt + 1 < kSubmitAttempts) continue;
        co_return false;
      }
      hold.connection = connection;
      hold.stream = stream;
      if (!kept_.empty() || body_read_) {  // a replay: the body read so far goes first
        stream->out = kept_;
        stream->out_eof = body_read_;
        connection->codec().resume(*stream);
      }
      connection->kick();
      if (!co_await send_body(*connection, *stream)) co_return false;
      while (!stream->head_done && !stream->closed) co_await signal_.wait();
      if (stream->refused() && keep_ && body_read_ && attempt + 1 < kSubmitAttempts) continue;
      if (!stream->head_done) co_return false;  // reset, or the backend went away: the Exchange says 502
      const bool relayed = co_await relay_response(*connection, *stream);
      co_return relayed;
    }
  }

  // The request body from the pair into the stream, as nghttp2 takes it.
  asio::awaitable<bool> send_body(H2cConnection& connection, H2ClientStream& stream) {
    while (!body_read_) {
      std::string_view data;
      if (framing_ == http::BodyFraming::kContentLength) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in_.size()));
        add_body(stream, in_.readable().substr(0, n));
        in_.consume(n);
        remaining_ -= n;
        body_read_ = remaining_ == 0;
      } else {
        while (!in_.empty() && !body_read_) {
          size_t consumed = 0;
          const auto s = chunked_.next(in_.readable(), consumed, data);
          add_body(stream, data);
          in_.consume(consumed);
          if (s == http::ChunkedDecoder::Status::kError) co_return false;
          if (s == http::ChunkedDecoder::Status::kDone) body_read_ = true;
          if (s == http::ChunkedDecoder::Status::kNeedMore) break;
        }
      }
      stream.out_eof = body_read_;
      connection.codec().resume(stream);
      connection.kick();
      if (body_read_) break;
      while (stream.out.size() >= kPendingBody && !stream.closed) co_await signal_.wait();
      if (stream.closed) co_return true;  // answered (or reset) before the body ended
      if (in_.empty() && !co_await read_more()) co_return false;
    }
    co_return true;
  }

  void add_body(H2ClientStream& stream, std::string_view data) {
    stream.out.append(data);
    if (keep_ && kept_.size() + data.size() <= kReplayableBody) {
      kept_.append(data);
    } else {
      keep_ = false;
      kept_.clear();
    }
  }

  // The answer as HTTP/1.1: a length when the backend gave one, else chunked (trailers kept).
  asio::awaitable<bool> relay_response(H2cConnection& connection, H2ClientStream& stream) {
    const int status = stream.status;
    const bool no_body = head_request_ || status == 204 || status == 304;
    bool has_length = false;
    std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, http::reason_phrase(status));
    for (const auto& f : stream.fields) {
      if (f.name == "content-length") has_length = true;
      out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    const bool chunked = !no_body && !has_length;
    if (chunked) out += "transfer-encoding: chunked\r\n";
    if (!body_read_) out += "connection: close\r\n";  // the rest of the request body is still in the pair
    out += "\r\n";
    for (;;) {
      if (!stream.body.empty()) {
        const size_t n = stream.body.size();
        if (no_body) {
        } else if (chunked) {
          out += fmt::format("{:x}\r\n", n);
          out += stream.body;
          out += "\r\n";
        } else {
          out += stream.body;
        }
        stream.body.clear();
        auto [ec, written] = co_await asio::async_write(pair_, asio::buffer(out), kNoThrow);
        if (ec) co_return false;
        out.clear();
        connection.codec().consume(stream, n);  // the backend may send as much again
        connection.kick();
        continue;
      }
      if (stream.body_done) break;
      if (stream.closed) co_return false;  // reset mid-body: the client sees the answer cut short
      if (!out.empty()) {
        auto [ec, written] = co_await asio::async_write(pair_, asio::buffer(out), kNoThrow);
        if (ec) co_return false;
        out.clear();
        continue;
      }
      co_await signal_.wait();
    }
    if (chunked) {
      out += "0\r\n";
      for (const auto& f : stream.trailers) out.append(f.name).append(": ").append(f.value).append("\r\n");
      out += "\r\n";
    }
    if (!out.empty()) {
      auto [ec, written] = co_await asio::async_write(pair_, asio::buffer(out), kNoThrow);
      if (ec) co_return false;
    }
    co_return body_read_;
  }

  std::shared_ptr<H2cConnections::State> state_;
  asio::local::stream_protocol::socket pair_;
  route::Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<H2cConnection> first_;  // acquired by connect() for the first request
  Signal signal_;                         // the current stream changed
  ByteBuffer in_{kReadChunk};
  http::Limits limits_;
  std::vector<http::Http2Field> fields_;
  http::BodyFraming framing_ = http::BodyFraming::kNone;
  uint64_t remaining_ = 0;
  http::ChunkedDecoder chunked_;
  bool head_request_ = false;
  bool body_read_ = false;  // the request body was read whole from the pair
  std::string kept_;        // the body read so far, while it fits kReplayableBody
  bool keep_ = true;
};

asio::awaitable<void> run_bridge(std::unique_ptr<Bridge> bridge) { co_await bridge->run(); }

}  // namespace

H2cConnections::H2cConnections() : state_(std::make_shared<State>()) {}
H2cConnections::~H2cConnections() = default;

size_t H2cConnections::connection_count() const {
  size_t n = 0;
  for (const auto& [address, list] : state_->by_endpoint)
    n += static_cast<size_t>(std::count_if(list.begin(), list.end(), [](const auto& c) { return c->usable(); }));
  return n;
}

size_t H2cConnections::close_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle) {
  size_t closed = 0;
  for (auto it = state_->by_endpoint.begin(); it != state_->by_endpoint.end();) {
    std::erase_if(it->second, [&](const std::shared_ptr<H2cConnection>& c) {
      if (!c->ready()) return false;  // still connecting
      if (c->load() > 0) return !c->usable();  // a draining one finishes its streams on its own
      if (c->usable() && now - c->idle_since() < max_idle) return false;
      if (c->usable()) ++closed;
      c->close();
      return true;
    });
    it = it->second.empty() ? state_->by_endpoint.erase(it) : std::next(it);
  }
  return closed;
}

asio::awaitable<ConnectResult> H2cConnections::connect(const route::Endpoint& endpoint,
                                                       std::chrono::milliseconds timeout,
                                                       stats::WorkerStats& stats) {
  state_->stats = &stats;
  ConnectResult result;
  std::shared_ptr<H2cConnection> connection = co_await state_->acquire(endpoint, timeout, result);
  if (!connection) co_return result;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    result.error = std::error_code(errno, std::system_category());
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  asio::error_code ec;
  asio::ip::tcp::socket near(executor);
  // The Exchange's side reads and writes bytes only, so a local socket serves as its "TCP" connection.
  near.assign(asio::ip::tcp::v4(), fds[0], ec);
  asio::local::stream_protocol::socket far(executor);
  far.assign(asio::local::stream_protocol(), fds[1], ec);
  auto bridge = std::make_unique<Bridge>(state_, std::move(far), endpoint, timeout, std::move(connection));
  asio::co_spawn(executor, run_bridge(std::move(bridge)), asio::detached);
  result.connection = std::make_unique<UpstreamConnection>(std::move(near));
  result.connection->key = endpoint.address;
  co_return result;
}

}  // namespace mg::upstream
