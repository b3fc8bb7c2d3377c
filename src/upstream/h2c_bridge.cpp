#include "upstream/h2c_bridge.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "common/byte_buffer.h"
#include "http/chunked.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "http/syntax.h"

namespace mg::upstream {
namespace {

using h2c::H2cConnection;
using h2c::kNoThrow;
using h2c::kReadChunk;
using h2c::Signal;
constexpr size_t kPendingBody = 64 * 1024;     // request body bytes queued for one stream
constexpr size_t kReplayableBody = 64 * 1024;  // a refused stream is sent again if its body fits
constexpr int kSubmitAttempts = 3;

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
         const route::Endpoint& endpoint, std::chrono::milliseconds timeout, std::shared_ptr<H2cConnection> first,
         std::shared_ptr<const net::UpstreamTlsContext> tls)
      : state_(std::move(state)), pair_(std::move(pair)), endpoint_(endpoint), timeout_(timeout),
        first_(std::move(first)), tls_(std::move(tls)), signal_(pair_.get_executor()) {}
  ~Bridge() { *alive_ = false; }  // a pair watch completing later must not touch it
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

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
        connection = co_await state_->acquire(endpoint_, timeout_, failure, tls_, nullptr);
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
      watch_pair();
      while (!stream->head_done && !stream->closed && !pair_closed_) co_await signal_.wait();
      if (pair_closed_) co_return false;  // the Exchange gave up: the stream is reset (CANCEL)
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
      if (pair_closed_) co_return false;   // the Exchange gave up (its deadline, the client gone): CANCEL
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

  // Once the request is all read, the Exchange writes nothing more until it has read the answer: the pair
  // turns readable then only when the Exchange closed its end (a deadline, a client gone). Without this
  // the bridge would wait for the backend for ever, and hold its stream open on the shared connection.
  void watch_pair() {
    if (watching_ || pair_closed_) return;
    watching_ = true;
    pair_.async_wait(asio::socket_base::wait_read, [this, alive = alive_](std::error_code ec) {
      if (!*alive) return;
      watching_ = false;
      char byte;
      const ssize_t n = ::recv(pair_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (ec || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        pair_closed_ = true;
        signal_.notify();
      }
    });
  }

  std::shared_ptr<H2cConnections::State> state_;
  asio::local::stream_protocol::socket pair_;
  route::Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<H2cConnection> first_;  // acquired by connect() for the first request
  std::shared_ptr<const net::UpstreamTlsContext> tls_;  // the h2c connection's BackendTLSPolicy; null: cleartext
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
  bool watching_ = false;     // a watch_pair wait is pending
  bool pair_closed_ = false;  // the Exchange closed its end of the pair
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

asio::awaitable<void> run_bridge(std::unique_ptr<Bridge> bridge) { co_await bridge->run(); }

}  // namespace

void spawn_h2c_bridge(std::shared_ptr<H2cConnections::State> state, asio::local::stream_protocol::socket pair,
                      const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                      std::shared_ptr<H2cConnection> first, std::shared_ptr<const net::UpstreamTlsContext> tls) {
  auto executor = pair.get_executor();
  auto bridge = std::make_unique<Bridge>(std::move(state), std::move(pair), endpoint, timeout, std::move(first),
                                         std::move(tls));
  asio::co_spawn(executor, run_bridge(std::move(bridge)), asio::detached);
}

}  // namespace mg::upstream
