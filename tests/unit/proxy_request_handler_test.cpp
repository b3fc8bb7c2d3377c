// The request path driven by a Downstream that is not HTTP/1 (an in-memory one, as an HTTP/2 stream
// will be): routing, a local 404, a redirect's Location, a request body forwarded and a retry that
// replays it, a mirror copy with the body, X-Request-Id kept, the response read through the exchange.
// Backends are scripted on loopback; no worker, no listener.

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
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "config/loader.h"
#include "fixtures.h"
#include "loopback_server.h"
#include "http/syntax.h"
#include "mirror/mirror_context.h"
#include "proxy/downstream.h"
#include "proxy/request_handler.h"
#include "route/cluster_set.h"
#include "route/translator.h"

namespace mg::proxy {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// A backend that records each request (head and Content-Length body) and answers with `answers` in turn
// (the last one repeats), one request per connection.
struct RecordingBackend {
  RecordingBackend(asio::io_context& io, std::vector<std::string> replies)
      : answers(std::move(replies)),
        server(io, [this](test::LoopbackServer::Socket socket) { return serve(socket); }) {}
  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    std::string buffer;
    auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "\r\n\r\n", kNoThrow);
    if (ec) co_return;
    std::string head = buffer.substr(0, n);
    size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 16));
    if (head.find("Transfer-Encoding: chunked") != std::string::npos) {  // up to the last chunk, or a 1 s wait
      asio::steady_timer give_up(socket->get_executor(), 1s);
      give_up.async_wait([socket](std::error_code waited) {
        if (!waited) socket->cancel();
      });
      auto [ec2, m] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "0\r\n\r\n", kNoThrow);
      give_up.cancel();
      if (ec2) {
        requests.push_back(buffer);  // what came, for the test to show
        co_return;
      }
      length = m - n;
    }
    if (buffer.size() < n + length) {
      auto [ec2, m] = co_await asio::async_read(*socket, asio::dynamic_buffer(buffer),
                                                asio::transfer_exactly(n + length - buffer.size()), kNoThrow);
      if (ec2) co_return;
    }
    requests.push_back(buffer.substr(0, n + length));
    const std::string& reply = answers[std::min(requests.size(), answers.size()) - 1];
    co_await asio::async_write(*socket, asio::buffer(reply), kNoThrow);
  }
  uint16_t port() const { return server.port(); }

  std::vector<std::string> answers;
  std::vector<std::string> requests;
  test::LoopbackServer server;
};

// The protocol side kept in memory: the body is a string, the response is recorded.
class MemoryDownstream final : public Downstream {
 public:
  std::string body;  // the client's request body, sent in two pieces
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string response_body;
  std::string local_message;

  asio::awaitable<RelayResult> send_request_body(upstream::Exchange& exchange, http::BodyCapture* capture) override {
    if (capture) capture->add(body);
    // In two pieces, as a client's body comes: the exchange frames each (a chunk each when chunked).
    const std::string_view whole = body;
    const size_t half = whole.size() / 2;
    if (!co_await exchange.send_body(whole.substr(0, half), false, {}, 2s) ||
        !co_await exchange.send_body(whole.substr(half), true, {}, 2s))
      co_return RelayResult{.status = RelayStatus::kSinkFailed};
    co_return RelayResult{.bytes = body.size()};
  }

  asio::awaitable<RelayResult> send_response(upstream::Exchange& exchange, const DownstreamResponse& response,
                                              http::BodyCapture* capture) override {
    status = response.upstream.status;
    for (const auto& h : response.headers) headers.emplace_back(h.name, h.value);
    std::string body_seen;
    http::BodyCapture mine{&body_seen, 1 << 20};
    const auto discarded = co_await exchange.discard_body(&mine);
    if (capture) capture->add(body_seen);
    response_body = body_seen;
    RelayResult relayed{.bytes = body_seen.size(), .wrote = true};
    if (discarded != upstream::DiscardResult::kDone) relayed.status = RelayStatus::kSourceFailed;
    co_return relayed;
  }

  asio::awaitable<bool> send_local_reply(const LocalReply& reply) override {
    status = reply.status;
    local_message = reply.message;
    for (const auto& h : reply.headers) headers.emplace_back(h.name, h.value);
    co_return !reply.close;
  }

  // A 101: the tunnel's ends are not relayed here, only what it would report.
  int tunnels = 0;
  asio::awaitable<TunnelResult> open_tunnel(upstream::Exchange&, const DownstreamResponse& response) override {
    ++tunnels;
    status = response.upstream.status;
    for (const auto& h : response.headers) headers.emplace_back(h.name, h.value);
    co_return TunnelResult{.to_upstream = 5, .to_client = 7};
  }

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (http::iequals(n, name)) return v;
    return {};
  }
};

std::string slice(std::string_view service, uint16_t port) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
         "metadata: {name: " + std::string(service) + "-a, namespace: ns, labels: {kubernetes.io/service-name: " +
         std::string(service) + "}}\naddressType: IPv4\nports: [{name: http, port: " + std::to_string(port) +
         "}]\nendpoints: [{addresses: [127.0.0.1]}]\n";
}

constexpr std::string_view kMirrorService = R"(apiVersion: v1
kind: Service
metadata: {name: m1, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
)";

// /mirror goes to s1 with a copy to m1, /retry retries 503s twice, /moved redirects, the rest goes to s1.
constexpr std::string_view kRoutes = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m1, port: 80}}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /retry}}]
    retry: {codes: [503], attempts: 2, backoff: 1ms}
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /moved}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: elsewhere.example, statusCode: 301}}]
  - matches: [{path: {type: Exact, value: /}}]
    backendRefs: [{name: s1, port: 80}]
)";

class RequestHandlerTest : public ::testing::Test {
 protected:
  // The contexts are made once io_ exists, and declared before it so that they outlive it.
  RequestHandlerTest() {
    mirror_context_ =
        std::make_unique<mirror::MirrorContext>(io_, mirror_options_, options_.limits, stats_, log_, mirror_balancer_);
    context_.reset(new SessionContext{options_, table_, clusters_, log_, {pool_, balancer_, stats_}, *mirror_context_,
                                      draining_, in_flight_, idle_});
  }
  // The pooled sockets go before io_, which is destroyed before the contexts that hold them.
  ~RequestHandlerTest() override {
    pool_.clear();
    mirror_context_->pool.clear();
  }

  void serve(std::vector<std::string> primary, std::vector<std::string> mirror = {"HTTP/1.1 200 OK\r\n\r\n"}) {
    backends_.emplace_back(io_, std::move(primary));
    backends_.emplace_back(io_, std::move(mirror));
    const std::string yaml = test::join_docs({test::kGatewayClass, test::kGateway, test::kService, kMirrorService,
                                              kRoutes, slice("s1", backends_[0].port()),
                                              slice("m1", backends_[1].port())});
    const config::ObjectSet objects = config::load_string(yaml, "test.yaml");
    table_ = route::translate(objects);
    clusters_ = route::build_cluster_set(*table_, objects);
    ASSERT_EQ(table_->listeners.size(), 1u);
  }
  RecordingBackend& primary() { return backends_[0]; }
  RecordingBackend& mirror() { return backends_[1]; }

  // Serves one request through a fresh handler, bounded; returns handle()'s answer.
  bool handle(MemoryDownstream& downstream, DownstreamRequest request) {
    bool done = false, keep_alive = false;
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
      const auto& only = table_->listeners.front();
      ListenerSlot listener(std::make_shared<const ListenerEndpoint>(ListenerEndpoint{only.address, only.port}));
      RequestHandler handler(*context_, listener);
      keep_alive = co_await handler.handle(downstream, request);
      done = true;
    }, asio::detached);
    run_until([&] { return done; });
    EXPECT_TRUE(done) << "timed out";
    return keep_alive;
  }

  void run_until(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
  }

  static DownstreamRequest get(std::string_view target, std::span<const http::Header> headers = {}) {
    DownstreamRequest request;
    request.method = "GET";
    request.target = target;
    request.host = "gw.example";
    request.headers = headers;
    request.scheme = "https";
    request.client_ip = "192.0.2.7";
    request.client_address = "192.0.2.7:5000";
    return request;
  }

  // What copies and handlers use outlives io_, whose destruction ends the pending copies.
  stats::WorkerStats stats_;
  stats::AccessLog log_{"off"};
  upstream::LoadBalancer balancer_, mirror_balancer_;
  upstream::ConnectionPool pool_;
  SessionOptions options_;
  mirror::MirrorOptions mirror_options_;
  std::shared_ptr<const route::RouteTable> table_;
  std::shared_ptr<const route::ClusterSet> clusters_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  IdleSessions idle_;
  std::unique_ptr<mirror::MirrorContext> mirror_context_;
  std::unique_ptr<SessionContext> context_;
  asio::io_context io_;
  std::deque<RecordingBackend> backends_;
};

TEST_F(RequestHandlerTest, ForwardsAndReturnsTheResponseThroughTheDownstream) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-From: s1\r\n\r\nhello"});
  MemoryDownstream downstream;
  const std::array<http::Header, 1> fields{http::Header{"X-Request-Id", "rid-123"}};
  EXPECT_TRUE(handle(downstream, get("/", fields)));
  EXPECT_EQ(downstream.status, 200);
  EXPECT_EQ(downstream.header("x-from"), "s1");
  EXPECT_EQ(downstream.response_body, "hello");
  ASSERT_EQ(primary().requests.size(), 1u);
  const std::string& sent = primary().requests[0];
  EXPECT_NE(sent.find("GET / HTTP/1.1\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Forwarded-For: 192.0.2.7\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Request-Id: rid-123\r\n"), std::string::npos) << sent;
  EXPECT_EQ(in_flight_.load(), 0);
}

TEST_F(RequestHandlerTest, UnroutedRequestIsAnsweredLocally) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  MemoryDownstream downstream;
  EXPECT_TRUE(handle(downstream, get("/nothing-here")));
  EXPECT_EQ(downstream.status, 404);
  EXPECT_EQ(downstream.local_message, "no route matched");
  EXPECT_TRUE(primary().requests.empty());
}

TEST_F(RequestHandlerTest, RedirectCarriesItsLocation) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  MemoryDownstream downstream;
  handle(downstream, get("/moved/x"));
  EXPECT_EQ(downstream.status, 301);
  // No port in the filter: the listener's, which is not https's well-known one.
  EXPECT_EQ(downstream.header("location"), "https://elsewhere.example:80/moved/x");
}

TEST_F(RequestHandlerTest, RetryReplaysTheKeptBody) {
  serve({"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"});
  MemoryDownstream downstream;
  downstream.body = "payload";
  const std::array<http::Header, 1> fields{http::Header{"Content-Length", "7"}};
  DownstreamRequest request = get("/retry", fields);
  request.method = "POST";
  request.framing = http::BodyFraming::kContentLength;
  request.content_length = 7;
  EXPECT_TRUE(handle(downstream, request));
  EXPECT_EQ(downstream.status, 201);
  ASSERT_EQ(primary().requests.size(), 2u);
  for (const auto& sent : primary().requests) {
    EXPECT_NE(sent.find("POST /retry HTTP/1.1\r\n"), std::string::npos) << sent;
    EXPECT_TRUE(sent.ends_with("\r\n\r\npayload")) << sent;
  }
}

// A chunked body is kept decoded; a retry sent it as it was kept under its chunked head, which no
// backend could parse (it waited for a chunk size that never came).
TEST_F(RequestHandlerTest, RetryReplaysAChunkedBodyChunked) {
  serve({"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"});
  MemoryDownstream downstream;
  downstream.body = "payload";
  const std::array<http::Header, 1> fields{http::Header{"Transfer-Encoding", "chunked"}};
  DownstreamRequest request = get("/retry", fields);
  request.method = "POST";
  request.framing = http::BodyFraming::kChunked;
  EXPECT_TRUE(handle(downstream, request));
  EXPECT_EQ(downstream.status, 201);
  ASSERT_EQ(primary().requests.size(), 2u);
  EXPECT_TRUE(primary().requests[0].ends_with("\r\n\r\n3\r\npay\r\n4\r\nload\r\n0\r\n\r\n")) << primary().requests[0];
  EXPECT_TRUE(primary().requests[1].ends_with("\r\n\r\n7\r\npayload\r\n0\r\n\r\n")) << primary().requests[1];
}

TEST_F(RequestHandlerTest, MirrorGetsACopyWithTheSameIdAndBody) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv1"}, {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv2"});
  MemoryDownstream downstream;
  downstream.body = "abc";
  const std::array<http::Header, 2> fields{http::Header{"Content-Length", "3"}, http::Header{"X-Request-Id", "rid-7"}};
  DownstreamRequest request = get("/mirror", fields);
  request.method = "PUT";
  request.framing = http::BodyFraming::kContentLength;
  request.content_length = 3;
  handle(downstream, request);
  EXPECT_EQ(downstream.status, 200);
  EXPECT_EQ(downstream.response_body, "v1");
  run_until([&] { return !mirror().requests.empty(); });
  ASSERT_EQ(mirror().requests.size(), 1u);
  const std::string& copy = mirror().requests[0];
  EXPECT_NE(copy.find("PUT /mirror HTTP/1.1\r\n"), std::string::npos) << copy;
  EXPECT_NE(copy.find("X-Request-Id: rid-7\r\n"), std::string::npos) << copy;
  EXPECT_TRUE(copy.ends_with("\r\n\r\nabc")) << copy;
}

constexpr std::array<http::Header, 3> kWebSocketUpgrade{
    http::Header{"Upgrade", "websocket"}, http::Header{"Connection", "Upgrade"},
    http::Header{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};

DownstreamRequest upgrade_request(DownstreamRequest request) {
  request.connection = "Upgrade";
  return request;
}

TEST_F(RequestHandlerTest, WebSocketUpgradeOpensATunnelOnAFreshConnectionAndIsNeverMirrored) {
  serve({"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"});
  MemoryDownstream downstream;
  EXPECT_FALSE(handle(downstream, upgrade_request(get("/mirror", kWebSocketUpgrade))));
  EXPECT_EQ(downstream.tunnels, 1);
  EXPECT_EQ(downstream.status, 101);
  ASSERT_EQ(primary().requests.size(), 1u);
  const std::string& sent = primary().requests[0];
  EXPECT_NE(sent.find("Connection: Upgrade\r\nUpgrade: websocket\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Forwarded-For: 192.0.2.7\r\n"), std::string::npos) << sent;
  EXPECT_EQ(stats_.tunnels_total, 1u);
  EXPECT_EQ(stats_.tunnels_active, 0u);
  EXPECT_EQ(pool_.idle_count(), 0u);
  const auto until = std::chrono::steady_clock::now() + 100ms;  // time for a copy, were one launched
  run_until([&] { return std::chrono::steady_clock::now() >= until; });
  EXPECT_TRUE(mirror().requests.empty());
  uint64_t upgrade_drops = 0;
  for (const auto& [route, rules] : stats_.mirrors)
    for (const auto& [rule, backends] : rules)
      for (const auto& [backend, counters] : backends)
        upgrade_drops += counters.dropped[static_cast<size_t>(stats::MirrorDrop::kUpgrade)];
  EXPECT_EQ(upgrade_drops, 1u);
}

TEST_F(RequestHandlerTest, RefusedUpgradeIsRelayedAndItsConnectionNotPooled) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"});
  MemoryDownstream downstream;
  DownstreamRequest request = upgrade_request(get("/", kWebSocketUpgrade));
  request.keep_alive = false;  // as the HTTP/1 session marks every request that asked to switch
  EXPECT_FALSE(handle(downstream, request));
  EXPECT_EQ(downstream.tunnels, 0);
  EXPECT_EQ(downstream.status, 200);
  EXPECT_EQ(downstream.response_body, "no");
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(RequestHandlerTest, UpgradeToAnotherProtocolIsRefused) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  MemoryDownstream downstream;
  const std::array<http::Header, 2> fields{http::Header{"Upgrade", "foo/2"}, http::Header{"Connection", "upgrade"}};
  EXPECT_FALSE(handle(downstream, upgrade_request(get("/", fields))));
  EXPECT_EQ(downstream.status, 403);
  EXPECT_TRUE(primary().requests.empty());
}

TEST_F(RequestHandlerTest, UpgradeWithABodyIsRefusedSoItCannotSmuggleARequest) {
  serve({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  MemoryDownstream downstream;
  downstream.body = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  DownstreamRequest request = upgrade_request(get("/", kWebSocketUpgrade));
  request.framing = http::BodyFraming::kContentLength;
  request.content_length = downstream.body.size();
  EXPECT_FALSE(handle(downstream, request));
  EXPECT_EQ(downstream.status, 400);
  EXPECT_TRUE(primary().requests.empty());
}

}  // namespace
}  // namespace mg::proxy
