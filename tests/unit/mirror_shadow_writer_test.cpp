// The shadow writer on its own io_context and loopback sockets, with no worker (a MirrorContext):
// MirrorPolicy settings applied per copy (method allow-list, body limit, budgets, timeout, header
// edits), drops counted by reason, and the per-backend budget given back on every way a copy ends
// (answered, refused, timed out).

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "loopback_server.h"
#include "mirror/mirror_context.h"
#include "mirror/shadow_writer.h"
#include "stats/access_log.h"
#include "upstream/load_balancer.h"

namespace mg::mirror {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using stats::MirrorDrop;
using stats::MirrorFailure;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::string_view kRoute = "ns/r";
constexpr std::string_view kMirror = "ns/m:80";
constexpr std::string_view kRule = "0";

// A mirror pod on loopback in the same io_context: records each request head, then answers
// 200 (mode kAnswer) or never answers (kHang).
struct FakeMirror {
  enum Mode { kAnswer, kHang };
  explicit FakeMirror(asio::io_context& io, Mode m)
      : mode(m), server(io, [this](test::LoopbackServer::Socket socket) { return serve(socket); }) {}
  uint16_t port() const { return server.port(); }

  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    std::string buffer;
    for (;;) {
      auto [ec, n] =
          co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "\r\n\r\n", kNoThrow);
      if (ec) co_return;
      heads.push_back(buffer.substr(0, n));
      buffer.erase(0, n);  // these tests send no bodies
      if (mode == kHang) continue;  // its connections stay open (a black hole)
      auto [wec, wn] = co_await asio::async_write(
          *socket, asio::buffer(std::string_view("HTTP/1.1 204 No Content\r\n\r\n")), kNoThrow);
      if (wec) co_return;
    }
  }
  Mode mode;
  std::vector<std::string> heads;
  test::LoopbackServer server;
};

class ShadowWriterTest : public ::testing::Test {
 protected:
  // The pooled sockets go before io_ (which is destroyed before the context that holds them).
  ~ShadowWriterTest() override {
    if (mirror_context_) mirror_context_->pool.clear();
  }

  // Cluster 0 = the mirror at `port` (one endpoint), cluster 1 = no ready endpoint.
  static std::shared_ptr<const route::ClusterSet> make_clusters(uint16_t port) {
    auto clusters = std::make_shared<route::ClusterSet>();
    clusters->clusters.push_back(route::ClusterEndpoints{
        std::string(kMirror), {route::Endpoint{"127.0.0.1", port, "m-pod", "127.0.0.1:" + std::to_string(port)}}});
    clusters->clusters.push_back(route::ClusterEndpoints{"ns/empty:80", {}});
    return clusters;
  }
  void make_context(uint16_t port) {
    clusters_ = make_clusters(port);
    balancer_.follow(clusters_);
    mirror_context_ = std::make_unique<MirrorContext>(io_, options_, limits_, stats_, log_, balancer_);
  }
  void make_context_with_mirror(FakeMirror::Mode mode) {
    make_context(0);
    mirror_ = std::make_unique<FakeMirror>(io_, mode);
    clusters_ = make_clusters(mirror_->port());  // copies resolve endpoints in the clusters they carry
    balancer_.follow(clusters_);
  }

  MirrorRequest request(std::string method = "GET", std::string body = {}) {
    return MirrorRequest{
        .table = table_,
        .clusters = clusters_,
        .route = kRoute,
        .rule = kRule,
        .request_id = "rid-1",
        .method = method,
        .rule_index = 0,
        .primary_host = "127.0.0.9:3000",
        .primary_pod = "p-pod",
        .head = std::make_shared<const std::string>(
            method +
            " /x HTTP/1.1\r\nHost: shop.example:8080\r\nAuthorization: secret\r\nX-Request-Id: rid-1\r\n" +
            (body.empty() ? std::string() : "Content-Length: " + std::to_string(body.size()) + "\r\n")),
        .body = std::make_shared<const std::string>(std::move(body)),
    };
  }
  // A copy keeps a reference to its target (in production, one in the route table the copy pins), so the
  // targets live as long as the fixture.
  const route::MirrorTarget& target(std::shared_ptr<route::MirrorSettings> settings = nullptr,
                                    int cluster = 0) {
    route::MirrorTarget& t = targets_.emplace_back();
    t.cluster = cluster;
    t.name = cluster == 0 ? std::string(kMirror) : "ns/empty:80";
    t.settings = std::move(settings);
    return t;
  }
  stats::MirrorCounters& counters() { return stats_.mirror(kRoute, kRule, kMirror); }
  uint64_t in_flight() { return mirror_context_->budgets.usage(kMirror).copies; }

  // Runs the io_context on this thread until `done` holds (bounded).
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto& io = io_;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_one_for(10ms);
    }
    ASSERT_TRUE(done()) << "timed out";
  }

  // What copies use on their way out: it outlives io_, whose destruction ends the pending copies.
  stats::WorkerStats stats_;
  upstream::LoadBalancer balancer_;
  MirrorOptions options_;
  http::Limits limits_;
  stats::AccessLog log_{"off"};
  std::deque<route::MirrorTarget> targets_;
  std::shared_ptr<const route::RouteTable> table_ = std::make_shared<route::RouteTable>();
  std::shared_ptr<const route::ClusterSet> clusters_;
  std::unique_ptr<MirrorContext> mirror_context_;
  asio::io_context io_;
  std::unique_ptr<FakeMirror> mirror_;
};

TEST_F(ShadowWriterTest, ReleasesBudgetWhenCopyIsAnswered) {
  make_context_with_mirror(FakeMirror::kAnswer);
  send_copy(*mirror_context_, request(), target(), 0);
  EXPECT_EQ(in_flight(), 1u);
  run_until([&] { return counters().completed[0] == 1; });
  EXPECT_EQ(in_flight(), 0u);
  EXPECT_EQ(mirror_context_->budgets.usage(kMirror).bytes, 0u);
  EXPECT_EQ(stats_.mirror_in_flight, 0u);
  EXPECT_EQ(counters().response_latency.count(), 1u);
}

TEST_F(ShadowWriterTest, ReleasesBudgetWhenMirrorRefuses) {
  uint16_t closed_port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  make_context(closed_port);
  send_copy(*mirror_context_, request(), target(), 0);
  EXPECT_EQ(in_flight(), 1u);
  run_until([&] { return counters().failed[static_cast<size_t>(MirrorFailure::kConnect)] == 1; });
  EXPECT_EQ(in_flight(), 0u);
  EXPECT_EQ(stats_.mirror_in_flight, 0u);
}

TEST_F(ShadowWriterTest, RefusingEndpointIsEjectedAndLaterCopiesAreDroppedWithoutAConnect) {
  uint16_t closed_port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  make_context(closed_port);
  send_copy(*mirror_context_, request(), target(), 0);
  run_until([&] { return counters().failed[static_cast<size_t>(MirrorFailure::kConnect)] == 1; });
  // Ejected now: the next copies neither connect nor fail again, they are dropped and counted.
  for (int i = 0; i < 5; ++i) send_copy(*mirror_context_, request(), target(), 0);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kNoEndpoint)], 5u);
  EXPECT_EQ(counters().failed[static_cast<size_t>(MirrorFailure::kConnect)], 1u);
  EXPECT_EQ(in_flight(), 0u);
  EXPECT_EQ(mirror_context_->ejections.ejected_count(std::chrono::steady_clock::now()), 1u);
}

TEST_F(ShadowWriterTest, CopiesGoAroundAnEjectedEndpointToItsHealthyPeer) {
  uint16_t closed_port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  make_context_with_mirror(FakeMirror::kAnswer);
  auto clusters = std::make_shared<route::ClusterSet>();
  const uint16_t good = mirror_->port();
  clusters->clusters.push_back(route::ClusterEndpoints{
      std::string(kMirror),
      {route::Endpoint{"127.0.0.1", closed_port, "dead-pod", "127.0.0.1:" + std::to_string(closed_port)},
       route::Endpoint{"127.0.0.1", good, "m-pod", "127.0.0.1:" + std::to_string(good)}}});
  clusters_ = clusters;
  balancer_.follow(clusters_);
  // One copy at a time: round robin offers the dead endpoint within two copies; once its connect has
  // failed it is ejected, and every later copy goes to the healthy peer.
  auto ended = [&] {
    return counters().completed[0] + counters().failed[static_cast<size_t>(MirrorFailure::kConnect)];
  };
  for (uint64_t i = 1; i <= 6; ++i) {
    send_copy(*mirror_context_, request(), target(), 0);
    run_until([&] { return ended() == i; });
  }
  EXPECT_EQ(counters().failed[static_cast<size_t>(MirrorFailure::kConnect)], 1u);
  EXPECT_EQ(counters().completed[0], 5u);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kNoEndpoint)], 0u);
  EXPECT_EQ(mirror_->heads.size(), 5u);
}

TEST_F(ShadowWriterTest, PolicyTimeoutEndsABlackHoledCopyAndReleasesBudget) {
  make_context_with_mirror(FakeMirror::kHang);
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->timeout = 150ms;  // the flag default (5 s) would outlast run_until's limit
  const auto start = std::chrono::steady_clock::now();
  send_copy(*mirror_context_, request(), target(settings), 0);
  run_until([&] { return counters().failed[static_cast<size_t>(MirrorFailure::kTimeout)] == 1; }, 3s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(in_flight(), 0u);
}

TEST_F(ShadowWriterTest, DropsWhenTheBackendBudgetIsFullNeverQueues) {
  make_context_with_mirror(FakeMirror::kHang);
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->max_in_flight = 2;
  settings->timeout = 200ms;
  for (int i = 0; i < 3; ++i) send_copy(*mirror_context_, request(), target(settings), 0);
  EXPECT_EQ(counters().sent, 2u);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kBudget)], 1u);
  EXPECT_EQ(in_flight(), 2u);
  // Once the slow copies end (timed out here), the budget takes copies again.
  run_until([&] { return in_flight() == 0; });
  send_copy(*mirror_context_, request(), target(settings), 0);
  EXPECT_EQ(counters().sent, 3u);
}

TEST_F(ShadowWriterTest, BytesBudgetCountsHeadAndBody) {
  make_context_with_mirror(FakeMirror::kHang);
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->max_bytes_in_flight = 1500;
  settings->timeout = 200ms;
  send_copy(*mirror_context_, request("PUT", std::string(1000, 'x')), target(settings), 0);
  send_copy(*mirror_context_, request("PUT", std::string(1000, 'x')), target(settings), 0);
  EXPECT_EQ(counters().sent, 1u);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kBudget)], 1u);
  EXPECT_GT(mirror_context_->budgets.usage(kMirror).bytes, 1000u);
  run_until([&] { return in_flight() == 0; });
  EXPECT_EQ(mirror_context_->budgets.usage(kMirror).bytes, 0u);
}

TEST_F(ShadowWriterTest, FlagDefaultBudgetAppliesWithoutPolicy) {
  options_.backend_max_in_flight = 1;
  options_.timeout = 200ms;
  make_context_with_mirror(FakeMirror::kHang);
  send_copy(*mirror_context_, request(), target(), 0);
  send_copy(*mirror_context_, request(), target(), 0);
  EXPECT_EQ(counters().sent, 1u);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kBudget)], 1u);
  run_until([&] { return in_flight() == 0; });
}

TEST_F(ShadowWriterTest, MethodNotInTheAllowListIsDropped) {
  make_context_with_mirror(FakeMirror::kAnswer);
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->allowed_methods = {"GET", "HEAD"};
  send_copy(*mirror_context_, request("POST"), target(settings), 0);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kMethodNotAllowed)], 1u);
  EXPECT_EQ(counters().sent, 0u);
  send_copy(*mirror_context_, request("GET"), target(settings), 0);
  EXPECT_EQ(counters().sent, 1u);
  run_until([&] { return counters().completed[0] == 1; });
}

TEST_F(ShadowWriterTest, BodyLimitIsPerMirror) {
  options_.body_limit = 100;
  make_context_with_mirror(FakeMirror::kAnswer);
  auto larger = std::make_shared<route::MirrorSettings>();
  larger->max_body_bytes = 1000;
  send_copy(*mirror_context_, request("PUT", std::string(500, 'x')), target(), 0);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kBodyTooLarge)], 1u);
  send_copy(*mirror_context_, request("PUT", std::string(500, 'x')), target(larger), 0);
  EXPECT_EQ(counters().sent, 1u);
  auto over = request("PUT");
  over.body_too_large = true;  // the capture overflowed: never a truncated copy
  send_copy(*mirror_context_, over, target(larger), 0);
  EXPECT_EQ(counters().dropped[static_cast<size_t>(MirrorDrop::kBodyTooLarge)], 2u);
  run_until([&] { return counters().completed[0] == 1; });

  std::vector<route::MirrorTarget> rule{target(), target(larger)};
  EXPECT_EQ(body_capture_limit(rule, {}, 100), 1000u);
  EXPECT_EQ(body_capture_limit({}, {}, 100), 100u);
}

TEST_F(ShadowWriterTest, NoEndpointIsADrop) {
  make_context(1);
  send_copy(*mirror_context_, request(), target(nullptr, 1), 0);
  auto& c = stats_.mirror(kRoute, kRule, "ns/empty:80");
  EXPECT_EQ(c.dropped[static_cast<size_t>(MirrorDrop::kNoEndpoint)], 1u);
  EXPECT_EQ(c.sent, 0u);
  ASSERT_EQ(mirror_context_->trace.snapshot().size(), 1u);
  EXPECT_EQ(mirror_context_->trace.snapshot()[0].outcome, "dropped");
  EXPECT_EQ(mirror_context_->trace.snapshot()[0].reason, "no_endpoint");
}

TEST_F(ShadowWriterTest, HeaderEditsAndHostSuffixApplyToThatCopyOnly) {
  make_context_with_mirror(FakeMirror::kAnswer);
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->host_suffix = "-shadow";
  settings->request_headers.remove = {"authorization", "x-request-id"};
  settings->request_headers.set = {{"X-Env", "shadow"}};
  auto req = request();
  send_copy(*mirror_context_, req, target(settings), 0);
  send_copy(*mirror_context_, req, target(), 1);
  run_until([&] { return mirror_->heads.size() == 2; });
  const std::string* edited = nullptr;
  const std::string* plain = nullptr;
  for (const auto& h : mirror_->heads) (h.find("mirror=0") != std::string::npos ? edited : plain) = &h;
  ASSERT_TRUE(edited && plain);
  EXPECT_NE(edited->find("\r\nHost: shop.example-shadow:8080\r\n"), std::string::npos) << *edited;
  EXPECT_EQ(edited->find("Authorization"), std::string::npos) << *edited;
  EXPECT_NE(edited->find("\r\nX-Env: shadow\r\n"), std::string::npos) << *edited;
  EXPECT_NE(edited->find("\r\nX-Request-Id: rid-1\r\n"), std::string::npos) << *edited;
  EXPECT_NE(edited->find("\r\nX-Mirrorgate-Mirror: route=ns/r; rule=0; mirror=0\r\n"), std::string::npos);
  EXPECT_NE(plain->find("\r\nHost: shop.example:8080\r\n"), std::string::npos) << *plain;
  EXPECT_NE(plain->find("Authorization: secret"), std::string::npos) << *plain;
  // The shared head itself is untouched (the primary's head is a different string altogether).
  EXPECT_NE(req.head->find("Authorization: secret"), std::string::npos);
}

}  // namespace
}  // namespace mg::mirror
