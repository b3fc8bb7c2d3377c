// The upstream exchange against a scripted backend on loopback: a pooled connection the backend closed
// (the one replay), a reset, a backend that never answers, malformed and interim heads, a discarded
// body going back to the pool, bodies handed out decoded (pieces, trailers, the close), the exchange's own
// deadline and its cancel, and connect failures.

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "loopback_server.h"
#include "stats/worker_stats.h"
#include "upstream/connection_pool.h"
#include "upstream/exchange.h"
#include "upstream/load_balancer.h"

namespace mg::upstream {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::string_view kRequest = "GET /x HTTP/1.1\r\nHost: b\r\n\r\n";

// A backend that runs `script` for every connection: it gets the socket and the first request head.
struct ScriptedBackend {
  using Script = std::function<asio::awaitable<void>(tcp::socket&, std::string)>;
  ScriptedBackend(asio::io_context& io, Script s)
      : script(std::move(s)), server(io, [this](test::LoopbackServer::Socket socket) { return serve(socket); }) {}
  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    std::string buffer;
    auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "\r\n\r\n", kNoThrow);
    if (ec) co_return;
    co_await script(*socket, buffer.substr(0, n));
  }
  uint16_t port() const { return server.port(); }

  Script script;
  test::LoopbackServer server;
};

asio::awaitable<void> answer(tcp::socket& socket, std::string_view bytes) {
  co_await asio::async_write(socket, asio::buffer(bytes), kNoThrow);
}

class ExchangeTest : public ::testing::Test {
 protected:
  void use_backend(ScriptedBackend::Script script) {
    backends_.emplace_back(io_, std::move(script));  // earlier ones stay: their coroutines may still run
    clusters_.clusters.clear();
    const uint16_t port = backends_.back().port();
    clusters_.clusters.push_back(route::ClusterEndpoints{
        "ns/b:80", {route::Endpoint{"127.0.0.1", port, "b-pod", "127.0.0.1:" + std::to_string(port)}}});
  }

  // Runs `body` as a coroutine on io_ until it finishes (bounded).
  void run(std::function<asio::awaitable<void>()> body) {
    bool done = false;
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
      co_await body();
      done = true;
    }, asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
    ASSERT_TRUE(done) << "timed out";
  }

  // One request on `exchange` (connected already): write, then read the head.
  asio::awaitable<HeadResult> send_and_read(Exchange& exchange, std::chrono::milliseconds timeout = 2s) {
    const std::array<asio::const_buffer, 1> request{asio::buffer(kRequest)};
    if (!co_await exchange.write(request, timeout)) co_return HeadResult::kClosed;
    co_return co_await exchange.read_head("GET", limits_, timeout);
  }

  asio::io_context io_;  // first: the sockets below live on it
  stats::WorkerStats stats_;
  LoadBalancer balancer_;
  ConnectionPool pool_;
  UpstreamContext context_{pool_, balancer_, stats_};
  http::Limits limits_;
  route::ClusterSet clusters_;
  std::deque<ScriptedBackend> backends_;
};

TEST_F(ExchangeTest, AnsweredBodyIsDiscardedAndTheConnectionPooled) {
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\n\r\n");
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kOk);
    EXPECT_EQ(exchange.head().status, 200);  // the 100 was read and dropped
    std::string body;
    http::BodyCapture capture{&body, 100};
    EXPECT_EQ(co_await exchange.discard_body(&capture), DiscardResult::kDone);
    EXPECT_EQ(body, "abc");
    exchange.finish(true);
  });
  EXPECT_EQ(pool_.idle_count(), 1u);
  EXPECT_EQ(stats_.upstream_connections_total, 1u);
}

// Reads the whole body piece by piece as a relay does: the pieces read already without a wait, then
// read_body for the rest. Fails the test on anything but kData and kDone.
asio::awaitable<std::string> read_whole_body(Exchange& exchange, std::vector<std::string>* pieces = nullptr) {
  std::string body;
  for (;;) {
    std::string_view piece;
    BodyRead read = exchange.take_body(piece);
    if (read == BodyRead::kWait) read = co_await exchange.read_body(piece, 2s);
    if (read == BodyRead::kDone) break;
    EXPECT_EQ(read, BodyRead::kData);
    if (read != BodyRead::kData) break;
    body.append(piece);
    if (pieces) pieces->emplace_back(piece);
  }
  co_return body;
}

TEST_F(ExchangeTest, ChunkedBodyComesDecodedWithItsTrailersAndTheHopByHopOnesLeftOut) {
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-hop\r\n\r\n3\r\nabc\r\n");
    asio::steady_timer later(s.get_executor(), 20ms);  // the rest in a later read: read_body waits for it
    co_await later.async_wait(kNoThrow);
    co_await answer(s, "2\r\nde\r\n0\r\nGrpc-Status:  0 \r\nX-Hop: 1\r\nHost: h\r\n\r\n");
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kOk);
    std::vector<std::string> pieces;
    EXPECT_EQ(co_await read_whole_body(exchange, &pieces), "abcde");
    EXPECT_EQ(pieces, (std::vector<std::string>{"abc", "de"}));  // chunk by chunk, never joined or copied
    EXPECT_EQ(exchange.trailers().size(), 1u);  // (no ASSERT in a coroutine)
    if (!exchange.trailers().empty()) {
      EXPECT_EQ(exchange.trailers()[0].name, "Grpc-Status");
      EXPECT_EQ(exchange.trailers()[0].value, "0");
    }
    exchange.finish(true);
  });
  EXPECT_EQ(pool_.idle_count(), 1u);
}

TEST_F(ExchangeTest, CloseDelimitedBodyEndsWithTheCloseAndALengthWithItsLastByte) {
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 200 OK\r\n\r\nuntil the close");
    std::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kOk);
    EXPECT_EQ(co_await read_whole_body(exchange), "until the close");
    exchange.finish(true);  // a close-delimited answer's connection is over
  });
  EXPECT_EQ(pool_.idle_count(), 0u);
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kOk);
    std::string_view piece;
    EXPECT_EQ(exchange.take_body(piece), BodyRead::kData);  // it came with the head: no wait
    EXPECT_EQ(piece, "hello");
    EXPECT_EQ(exchange.take_body(piece), BodyRead::kDone);
    exchange.finish(true);
  });
  EXPECT_EQ(pool_.idle_count(), 1u);
}

TEST_F(ExchangeTest, PooledConnectionTheBackendClosedIsALostReuseRace) {
  // First request answered with keep-alive, then the backend sends its FIN (and keeps reading).
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 204 No Content\r\n\r\n");
    std::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
  });
  run([&]() -> asio::awaitable<void> {
    {
      Exchange first(context_);
      EXPECT_EQ(co_await first.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
      EXPECT_EQ(co_await send_and_read(first), HeadResult::kOk);
      EXPECT_EQ(co_await first.discard_body(nullptr), DiscardResult::kDone);
      first.finish(true);
    }
    Exchange second(context_);
    EXPECT_EQ(co_await second.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_TRUE(second.connection().reused);
    EXPECT_EQ(co_await send_and_read(second), HeadResult::kClosed);
    EXPECT_TRUE(second.lost_reuse_race(false));  // clean EOF before any byte: safe to send again
    // The replay goes out on a new connection, never on a pooled one.
    EXPECT_EQ(co_await second.connect(clusters_, 0, 1s, true), ConnectResultKind::kConnected);
    EXPECT_FALSE(second.connection().reused);
  });
  EXPECT_EQ(stats_.upstream_connections_total, 2u);  // the replay opened a connection of its own
}

TEST_F(ExchangeTest, ResetAfterTheRequestIsNoReuseRace) {
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    s.set_option(asio::socket_base::linger(true, 0));  // close with RST
    s.close();
    co_return;
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kClosed);
    EXPECT_FALSE(exchange.lost_reuse_race(false));  // a new connection: the backend aborted the request
  });
}

TEST_F(ExchangeTest, BackendThatNeverAnswersTimesOut) {
  use_backend([](tcp::socket&, std::string) -> asio::awaitable<void> { co_return; });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(co_await send_and_read(exchange, 100ms), HeadResult::kTimeout);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    exchange.finish(false);
  });
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(ExchangeTest, ArmedDeadlineEndsAStalledBodyAsATimeoutAndTheConnectionIsNotPooled) {
  use_backend([](tcp::socket& s, std::string) -> asio::awaitable<void> {
    co_await answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");  // and then nothing
  });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kOk);
    EXPECT_FALSE(exchange.fired());
    exchange.arm(100ms);  // as a mirror copy does: one deadline over the rest of the exchange
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(co_await exchange.discard_body(nullptr), DiscardResult::kTimeout);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(exchange.fired());
    exchange.finish(true);  // the caller's word does not pool a connection its deadline ended
  });
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(ExchangeTest, CancelEndsAWaitingReadAtOnceAndIsNoTimeout) {
  use_backend([](tcp::socket&, std::string) -> asio::awaitable<void> { co_return; });
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
    // The client goes away while the exchange waits for the backend's answer (an HTTP/2 stream reset).
    asio::steady_timer client_gone(io_, 50ms);
    client_gone.async_wait([&](std::error_code ec) {
      if (!ec) exchange.cancel();  // (not after the timer went with this frame)
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(co_await send_and_read(exchange, 3s), HeadResult::kClosed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_FALSE(exchange.fired());
    exchange.finish(false);
  });
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(ExchangeTest, MalformedHeadAndUnaskedUpgradeAreMalformed) {
  for (std::string_view reply : {"HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                                 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    use_backend([reply](tcp::socket& s, std::string) -> asio::awaitable<void> { co_await answer(s, reply); });
    run([&]() -> asio::awaitable<void> {
      Exchange exchange(context_);
      EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kConnected);
      EXPECT_EQ(co_await send_and_read(exchange), HeadResult::kMalformed) << reply;
      exchange.finish(false);
    });
  }
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(ExchangeTest, ConnectFailuresAreReported) {
  use_backend([](tcp::socket&, std::string) -> asio::awaitable<void> { co_return; });
  backends_.back().server.stop_accepting();  // nothing listens on the endpoint's port any more
  run([&]() -> asio::awaitable<void> {
    Exchange exchange(context_);
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kFailed);
    EXPECT_FALSE(exchange.connected());
    EXPECT_NE(exchange.endpoint(), nullptr);  // the caller logs which endpoint failed
    clusters_.clusters[0].endpoints.clear();
    EXPECT_EQ(co_await exchange.connect(clusters_, 0, 1s, false), ConnectResultKind::kNoEndpoint);
  });
}

}  // namespace
}  // namespace mg::upstream
