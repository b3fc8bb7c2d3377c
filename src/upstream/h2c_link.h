#pragma once
// One h2c connection to a backend (a read loop and a write loop around its H2ClientCodec), handed out by
// H2cConnections (h2c_connection.h) and shared by the streams on it (h2_stream_wire.h), and the wake-up
// signal a stream's exchange waits on.

#include <chrono>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "upstream/h2_client_codec.h"
#include "upstream/upstream_stream.h"

namespace mg::upstream {
namespace h2c {

inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
inline constexpr uint32_t kStreamWindow = 64 * 1024;  // response bytes of one stream in flight to us
inline constexpr size_t kReadChunk = 16 * 1024;
inline constexpr size_t kWriteChunk = 64 * 1024;

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

// One connection to a backend (TCP, or TLS over it), with a read loop and a write loop around its codec.
class H2cConnection final : public H2ClientCodec::Listener, public std::enable_shared_from_this<H2cConnection> {
 public:
  explicit H2cConnection(const asio::any_io_executor& executor)
      : stream_(asio::ip::tcp::socket(executor)), codec_(*this, kStreamWindow), writer_(executor), ready_signal_(executor) {}

  // `stream`: plain TCP for h2c, TLS (ALPN h2) under a BackendTLSPolicy.
  void start(UpstreamStream stream) {
    stream_ = std::move(stream);
    ready_ = true;
    idle_since_ = std::chrono::steady_clock::now();
    ready_signal_.notify();
    asio::co_spawn(stream_.get_executor(), read_loop(shared_from_this()), asio::detached);
    asio::co_spawn(stream_.get_executor(), write_loop(shared_from_this()), asio::detached);
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
    stream_.close(ignored);
    codec_.abandon_all();
    writer_.notify();
  }

 private:
  static asio::awaitable<void> read_loop(std::shared_ptr<H2cConnection> self) {
    std::string in(kReadChunk, '\0');
    for (;;) {
      auto [ec, n] = co_await self->stream_.async_read_some(asio::buffer(in), kNoThrow);
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
      auto [ec, n] = co_await asio::async_write(self->stream_, asio::buffer(out), kNoThrow);
      if (ec) break;
    }
    self->close();
  }

  UpstreamStream stream_;
  H2ClientCodec codec_;
  Signal writer_;
  Signal ready_signal_;
  bool ready_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point idle_since_;
};

}  // namespace h2c

}  // namespace mg::upstream
