// The shadow writer on its own io_context and loopback sockets, with no worker (a MirrorContext):
// MirrorPolicy settings applied per copy (method allow-list, body limit, budgets, timeout, header
// edits), drops counted by reason, and the per-backend budget given back on every way a copy ends
// (answered, refused, timed out).

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
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
#include "mirror/response_comparison.h"
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

// A mirror pod that answers pipelined requests in order, one at a time, as HTTP/1.1 servers do, and records
// on which connection and in which read each request came. The request target picks the answer:
// "/status/NNN" is NNN with the body "NNN", anything else 200; "/hang" is never answered, nor is anything
// behind it on its connection. With close_after_first, a connection closes after its first answer (which
// says "Connection: close" when announce_close).
struct PipelineMirror {
  struct Request {
    size_t connection;
    size_t read;  // the read of that connection it arrived in
    std::string method, target;
  };
  struct Options {
    bool close_after_first = false;
    bool announce_close = false;
    std::chrono::milliseconds delay{0};  // before each answer
  };
  PipelineMirror(asio::io_context& io, Options o)
      : options(o), server(io, [this](test::LoopbackServer::Socket socket) { return serve(socket); }) {}
  uint16_t port() const { return server.port(); }

  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    const size_t connection = connections++;
    std::string buffer;
    bool stalled = false;
    for (size_t read = 0;; ++read) {
      std::array<char, 16384> data;
      auto [ec, n] = co_await socket->async_read_some(asio::buffer(data), kNoThrow);
      if (ec) co_return;
      buffer.append(data.data(), n);
      for (size_t end; (end = buffer.find("\r\n\r\n")) != std::string::npos;) {
        const std::string head = buffer.substr(0, end + 4);
        buffer.erase(0, end + 4);  // these tests send no bodies
        const size_t space = head.find(' ');
        Request r{connection, read, head.substr(0, space), head.substr(space + 1, head.find(' ', space + 1) - space - 1)};
        requests.push_back(r);
        if (stalled || r.target == "/hang") {
          stalled = true;
          continue;
        }
        if (options.delay.count() > 0) {
          asio::steady_timer timer(socket->get_executor(), options.delay);
          co_await timer.async_wait(kNoThrow);
        }
        const std::string status = r.target.starts_with("/status/") ? r.target.substr(8, 3) : "200";
        const std::string answer = "HTTP/1.1 " + status + " X\r\nContent-Length: 3\r\n" +
                                   (options.announce_close ? "Connection: close\r\n" : "") + "\r\n" + status;
        auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(answer), kNoThrow);
        if (wec) co_return;
        if (options.close_after_first) {
          socket->close();
          co_return;
        }
      }
    }
  }
  // The connections that carried a request.
  size_t connections_used() const {
    std::set<size_t> used;
    for (const auto& r : requests) used.insert(r.connection);
    return used.size();
  }

  Options options;
  size_t connections = 0;
  std::vector<Request> requests;
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
  void make_context_with_pipeline_mirror(PipelineMirror::Options o = {}) {
    pipeline_ = std::make_unique<PipelineMirror>(io_, o);
    make_context(pipeline_->port());
  }
  void make_context_with_mirror(FakeMirror::Mode mode) {
    make_context(0);
    mirror_ = std::make_unique<FakeMirror>(io_, mode);
    clusters_ = make_clusters(mirror_->port());  // copies resolve endpoints in the clusters they carry
    balancer_.follow(clusters_);
  }

  MirrorRequest request(std::string method = "GET", std::string body = {}, std::string path = "/x",
                        std::string id = "rid-1") {
    return MirrorRequest{
        .table = table_,
        .clusters = clusters_,
        .route = kRoute,
        .rule = kRule,
        .request_id = id,
        .method = method,
        .rule_index = 0,
        .primary_host = "127.0.0.9:3000",
        .primary_pod = "p-pod",
        .head = std::make_shared<const std::string>(
            method + " " + path +
            " HTTP/1.1\r\nHost: shop.example:8080\r\nAuthorization: secret\r\nX-Request-Id: " + id + "\r\n" +
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
  uint64_t failed(MirrorFailure f) { return counters().failed[static_cast<size_t>(f)]; }
  uint64_t ended() {
    uint64_t n = 0;
    for (uint64_t c : counters().completed) n += c;
    for (uint64_t f : counters().failed) n += f;
    return n;
  }
  // The status each request id's copy ended with, from the worker's mirror trace.
  std::map<std::string, int> traced_statuses() {
    std::map<std::string, int> out;
    for (const auto& o : mirror_context_->trace.snapshot()) out[o.request_id] = o.status;
    return out;
  }

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
  std::unique_ptr<PipelineMirror> pipeline_;
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

// ---- pipelined copies (copy_lanes.h) ----

TEST_F(ShadowWriterTest, CopiesLaunchedInOneTurnGoOutInOneWriteAndEachGetsItsOwnAnswer) {
  make_context_with_pipeline_mirror();
  for (int i = 1; i <= 5; ++i)
    send_copy(*mirror_context_, request("GET", {}, "/status/23" + std::to_string(i), "rid-" + std::to_string(i)),
              target(), 0);
  run_until([&] { return ended() == 5; });
  // One connection, one read: the five copies went out in one write.
  ASSERT_EQ(pipeline_->requests.size(), 5u);
  EXPECT_EQ(pipeline_->connections_used(), 1u);
  for (const auto& r : pipeline_->requests) EXPECT_EQ(r.read, 0u) << r.target;
  EXPECT_EQ(counters().completed[0], 5u);
  EXPECT_EQ(counters().pipelined, 4u);
  // Answers are matched to their copies in order: each copy's trace entry has the status its path asked for.
  const auto statuses = traced_statuses();
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(statuses.at("rid-" + std::to_string(i)), 230 + i);
  EXPECT_EQ(in_flight(), 0u);
  // The connection went back to the pool, and the next turn's copies take it again.
  send_copy(*mirror_context_, request("GET", {}, "/status/204", "rid-6"), target(), 0);
  run_until([&] { return ended() == 6; });
  EXPECT_EQ(pipeline_->connections_used(), 1u);
}

TEST_F(ShadowWriterTest, DepthOneSendsOneCopyPerConnection) {
  options_.pipeline_depth = 1;
  make_context_with_pipeline_mirror();
  for (int i = 0; i < 3; ++i) send_copy(*mirror_context_, request(), target(), 0);
  run_until([&] { return ended() == 3; });
  EXPECT_EQ(pipeline_->connections_used(), 3u);
  EXPECT_EQ(counters().pipelined, 0u);
}

TEST_F(ShadowWriterTest, NothingIsPipelinedBehindANonIdempotentCopy) {
  make_context_with_pipeline_mirror();
  send_copy(*mirror_context_, request("GET", {}, "/a"), target(), 0);
  send_copy(*mirror_context_, request("POST", {}, "/b"), target(), 0);
  send_copy(*mirror_context_, request("GET", {}, "/c"), target(), 0);
  run_until([&] { return ended() == 3; });
  ASSERT_EQ(pipeline_->requests.size(), 3u);
  // GET /a and POST /b share a connection (the POST last); GET /c goes on another.
  std::map<std::string, size_t> connection_of;
  for (const auto& r : pipeline_->requests) connection_of[r.target] = r.connection;
  EXPECT_EQ(connection_of["/a"], connection_of["/b"]);
  EXPECT_NE(connection_of["/b"], connection_of["/c"]);
  EXPECT_EQ(counters().pipelined, 1u);
}

TEST_F(ShadowWriterTest, ACopyTimingOutEndsTheCopiesBehindItEachCountedAsATimeout) {
  make_context_with_pipeline_mirror();
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->timeout = 150ms;
  auto longer = std::make_shared<route::MirrorSettings>();
  longer->timeout = 4s;  // (two routes' policies for one mirror: copies behind the first may wait longer)
  const auto start = std::chrono::steady_clock::now();
  send_copy(*mirror_context_, request("GET", {}, "/hang", "rid-1"), target(settings), 0);
  send_copy(*mirror_context_, request("GET", {}, "/status/200", "rid-2"), target(longer), 0);
  send_copy(*mirror_context_, request("GET", {}, "/status/200", "rid-3"), target(longer), 0);
  run_until([&] { return ended() == 3; }, 3s);
  // The first copy's deadline ended the connection, and with it the copies behind, long before their own.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(pipeline_->connections_used(), 1u);
  EXPECT_EQ(counters().sent, 3u);
  EXPECT_EQ(failed(MirrorFailure::kTimeout), 3u);
  EXPECT_EQ(counters().retried, 0u);
  EXPECT_EQ(in_flight(), 0u);
  // Each has its own trace entry: the reason that ended the connection ended each.
  std::map<std::string, std::string> reasons;
  for (const auto& o : mirror_context_->trace.snapshot()) reasons[o.request_id] = o.reason;
  EXPECT_EQ(reasons["rid-1"], "timeout");
  EXPECT_EQ(reasons["rid-2"], "timeout");
  EXPECT_EQ(reasons["rid-3"], "timeout");
}

TEST_F(ShadowWriterTest, ABackendClosingPipelinedConnectionsGetsTheRestAgainThenOneCopyPerConnection) {
  make_context_with_pipeline_mirror({.close_after_first = true, .announce_close = false, .delay = {}});
  // GET, GET, POST in one write: the backend answers the first and closes. The second GET goes again on a
  // connection of its own; the POST may have been processed, so it is not sent twice: it fails as reset.
  send_copy(*mirror_context_, request("GET", {}, "/status/201", "rid-1"), target(), 0);
  send_copy(*mirror_context_, request("GET", {}, "/status/202", "rid-2"), target(), 0);
  send_copy(*mirror_context_, request("POST", {}, "/status/203", "rid-3"), target(), 0);
  run_until([&] { return ended() == 3; });
  EXPECT_EQ(counters().completed[0], 2u);
  EXPECT_EQ(counters().retried, 1u);
  EXPECT_EQ(failed(MirrorFailure::kReset), 1u);
  EXPECT_EQ(counters().pipelining_backoffs, 1u);
  EXPECT_EQ(traced_statuses().at("rid-2"), 202);
  EXPECT_EQ(in_flight(), 0u);
  // Backed off: the next turn's copies go one per connection, and all complete.
  const size_t before = pipeline_->connections_used();
  for (int i = 0; i < 3; ++i) send_copy(*mirror_context_, request(), target(), 0);
  run_until([&] { return ended() == 6; });
  EXPECT_EQ(counters().completed[0], 5u);
  EXPECT_EQ(pipeline_->connections_used(), before + 3);
  EXPECT_EQ(counters().pipelined, 2u);  // only the first batch's
  EXPECT_EQ(counters().retried, 1u);
}

TEST_F(ShadowWriterTest, AnAnswerWithConnectionCloseSendsTheRestAgainWhateverTheirMethod) {
  make_context_with_pipeline_mirror({.close_after_first = true, .announce_close = true, .delay = {}});
  send_copy(*mirror_context_, request("GET", {}, "/status/201", "rid-1"), target(), 0);
  send_copy(*mirror_context_, request("POST", {}, "/status/202", "rid-2"), target(), 0);
  run_until([&] { return ended() == 2; });
  // The server processes nothing behind "Connection: close" (RFC 9112 9.6): the POST is safe to send again.
  EXPECT_EQ(counters().completed[0], 2u);
  EXPECT_EQ(counters().retried, 1u);
  EXPECT_EQ(counters().pipelining_backoffs, 1u);
  EXPECT_EQ(traced_statuses().at("rid-2"), 202);
  // On the wire twice, processed once: on the second connection.
  ASSERT_EQ(pipeline_->requests.size(), 2u);
  EXPECT_EQ(pipeline_->requests[1].method, "POST");
  EXPECT_EQ(pipeline_->requests[1].connection, 1u);
}

TEST_F(ShadowWriterTest, ASlowMirrorGetsOneCopyPerConnection) {
  make_context_with_pipeline_mirror({.close_after_first = false, .announce_close = false, .delay = 30ms});
  send_copy(*mirror_context_, request(), target(), 0);
  send_copy(*mirror_context_, request(), target(), 0);
  run_until([&] { return ended() == 2; });
  EXPECT_EQ(pipeline_->connections_used(), 1u);  // pipelined: nothing was known of the mirror yet
  // Its first answer took 30 ms (>= CopyLanes::kSlowAnswer): the next turn's copies wait for no other's answer.
  for (int i = 0; i < 3; ++i) send_copy(*mirror_context_, request(), target(), 0);
  run_until([&] { return ended() == 5; });
  EXPECT_EQ(counters().completed[0], 5u);
  EXPECT_EQ(pipeline_->connections_used(), 3u);  // the idle one again, and two new ones
  EXPECT_EQ(counters().pipelined, 1u);
}

TEST_F(ShadowWriterTest, PipelinedCopiesAreEachComparedWithTheirOwnPrimary) {
  make_context_with_pipeline_mirror();
  auto settings = std::make_shared<route::MirrorSettings>();
  settings->comparison.enabled = true;
  std::deque<PrimaryCapture> primaries(3);
  for (int i = 0; i < 3; ++i) {
    const std::string status = std::to_string(201 + i);
    send_copy(*mirror_context_, request("GET", {}, "/status/" + status, "rid-" + status), target(settings), 0,
              &primaries[static_cast<size_t>(i)]);
  }
  // Each primary answered what its copy's path asks the mirror for.
  for (int i = 0; i < 3; ++i) {
    const std::string status = std::to_string(201 + i);
    PrimaryCapture& p = primaries[static_cast<size_t>(i)];
    p.head(201 + i, {});
    if (http::BodyCapture* body = p.body()) body->add(status);
    p.deliver();
  }
  run_until([&] { return ended() == 3; });
  EXPECT_EQ(counters().pipelined, 2u);
  EXPECT_EQ(counters().comparisons[static_cast<size_t>(stats::ComparisonResult::kMatch)], 3u);
  EXPECT_EQ(counters().comparisons[static_cast<size_t>(stats::ComparisonResult::kMismatch)], 0u);
}

}  // namespace
}  // namespace mg::mirror
