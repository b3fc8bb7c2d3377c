// The reflector against a scripted API server on loopback: paged lists, watch events, bookmarks, an
// expired watch (410) that lists again, a malformed event, a forbidden resource. The real API server is
// tests/e2e/test_kubernetes_provider.py's.

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "k8s/reflector.h"
#include "loopback_server.h"

namespace mg::k8s {
namespace {

using namespace std::chrono_literals;

// One scripted answer: a status and body lines, sent with a pause between lines; the connection closes
// after the last.
struct Answer {
  int status = 200;
  std::vector<std::string> lines;
  std::chrono::milliseconds pause{0};
  std::string headers = {};  // extra header lines, each ending in CRLF
};

class FakeApiServer {
 public:
  FakeApiServer()
      : server_(io_, [this](test::LoopbackServer::Socket s) { return serve(std::move(s)); }),
        thread_([this] { io_.run(); }) {}
  ~FakeApiServer() {
    io_.stop();
    thread_.join();
  }

  void script(Answer a) {
    std::lock_guard lock(mutex_);
    answers_.push_back(std::move(a));
  }
  std::vector<std::string> paths() {
    std::lock_guard lock(mutex_);
    return paths_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    asio::streambuf buffer;
    auto [ec, n] = co_await asio::async_read_until(*socket, buffer, "\r\n\r\n",
                                                    asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::string head(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + static_cast<long>(n));
    const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      paths_.push_back(head.substr(sp1 + 1, sp2 - sp1 - 1));
      if (answers_.empty()) {
        answer.status = 503;  // unscripted: a server error; the reflector backs off
      } else {
        answer = std::move(answers_.front());
        answers_.pop_front();
      }
    }
    std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\nContent-Type: application/json\r\n" +
                      answer.headers + "Connection: close\r\n\r\n";
    co_await asio::async_write(*socket, asio::buffer(out), asio::experimental::as_tuple(asio::use_awaitable));
    for (const auto& line : answer.lines) {
      if (answer.pause.count()) {
        asio::steady_timer t(io_, answer.pause);
        co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      }
      std::string l = line + "\n";
      co_await asio::async_write(*socket, asio::buffer(l), asio::experimental::as_tuple(asio::use_awaitable));
    }
    socket->close();
  }

  asio::io_context io_;
  test::LoopbackServer server_;
  std::mutex mutex_;
  std::deque<Answer> answers_;
  std::vector<std::string> paths_;
  std::thread thread_;
};

std::string service(const std::string& name, const std::string& rv, int port = 80) {
  return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
         R"(","namespace":"default","resourceVersion":")" + rv +
         R"(","managedFields":[{"manager":"kubectl"}]},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10",)"
         R"("clusterIPs":["10.96.0.10"],"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",)"
         R"("sessionAffinity":"None","internalTrafficPolicy":"Cluster","selector":{"app":")" + name +
         R"("},"ports":[{"name":"http","protocol":"TCP","port":)" + std::to_string(port) +
         R"(,"targetPort":3000}]},"status":{"loadBalancer":{}}})";
}

// A list page of Services (items without kind and apiVersion, as the API server sends them).
std::string list_page(std::vector<std::string> items, const std::string& rv, const std::string& next) {
  std::string out = R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":")" + rv + "\"";
  if (!next.empty()) out += R"(,"continue":")" + next + "\"";
  out += R"(},"items":[)";
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i];
    const std::string type_fields = R"("apiVersion":"v1","kind":"Service",)";
    item.replace(item.find(type_fields), type_fields.size(), "");
    out += (i ? "," : "") + item;
  }
  return out + "]}";
}

std::string event(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}";
}

std::vector<std::string> service_names(const ObjectStore& store) {
  std::vector<std::string> names;
  for (const auto& s : store.snapshot().objects.services) names.push_back(s.metadata.name);
  return names;
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

ReflectorTiming fast_timing() {
  ReflectorTiming t;
  t.initial_backoff = 20ms;
  t.max_backoff = 100ms;
  t.page_size = 2;
  t.request_timeout = 5s;
  return t;
}

struct Fixture {
  FakeApiServer api;
  ObjectStore store;
  ClusterConnection connection;
  ApiHealth health{"fake"};
  std::atomic<int> changes{0};
  std::unique_ptr<Reflector> reflector;

  Fixture() { connection.server = api.url(); }
  void start(const std::string& ns = "") {
    ReflectorScope scope{ApiResource{"Service", "v1", "services", true}, ns, ""};
    reflector = std::make_unique<Reflector>(connection, scope, store, 7, health, [this] { ++changes; }, fast_timing());
    reflector->start();
  }
};

TEST(K8sReflector, ListsInPagesThenWatchesFromTheListsVersion) {
  Fixture f;
  f.api.script({200, {list_page({service("a", "5"), service("b", "6")}, "", "token-1")}});
  f.api.script({200, {list_page({service("c", "7")}, "9", "")}});
  f.api.script({200,
                {event("ADDED", service("d", "10")), event("MODIFIED", service("a", "11", 8080)),
                 R"({"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"15"}}})",
                 event("DELETED", service("b", "12"))},
                20ms});
  f.start();
  ASSERT_TRUE(eventually([&] { return f.api.paths().size() >= 4; }));
  EXPECT_TRUE(f.reflector->synced());
  EXPECT_EQ(service_names(f.store), (std::vector<std::string>{"a", "c", "d"}));
  const auto services = f.store.snapshot().objects.services;
  EXPECT_EQ(services[0].ports.at(0).port, 8080);  // the MODIFIED event's version

  const auto paths = f.api.paths();
  EXPECT_EQ(paths[0], "/api/v1/services?limit=2");
  EXPECT_EQ(paths[1], "/api/v1/services?limit=2&continue=token-1");
  EXPECT_NE(paths[2].find("/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=9&timeoutSeconds="),
            std::string::npos)
      << paths[2];
  // The stream ended (server timeout): the next watch resumes from the bookmark's version and then the
  // last event's, not from the list.
  EXPECT_NE(paths[3].find("resourceVersion=12&"), std::string::npos) << paths[3];
  EXPECT_EQ(f.reflector->relists(), 1u);
}

TEST(K8sReflector, AStatusOnlyChangeIsKeptButWakesNothing) {
  Fixture f;
  std::string with_status = service("a", "11");
  const std::string empty_status = R"("status":{"loadBalancer":{}})";
  with_status.replace(with_status.find(empty_status), empty_status.size(),
                      R"("status":{"loadBalancer":{},"conditions":[{"type":"Example","status":"True"}]})");
  f.api.script({200, {list_page({service("a", "5")}, "9", "")}});
  f.api.script({200, {event("MODIFIED", with_status), event("MODIFIED", service("b", "12"))}, 20ms});
  f.start();
  ASSERT_TRUE(eventually([&] { return service_names(f.store).size() == 2; }));
  EXPECT_EQ(f.changes.load(), 2);  // the list and b; not a's status
  const auto live = f.store.live("Service", "default/a");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->resource_version, "11");
  EXPECT_EQ(live->status["conditions"][0]["type"], "Example");
}

// A load-balancer address is the one part of a status that is served: --publish-service reports it.
TEST(K8sReflector, ALoadBalancerAddressIsDecodedAndWakesASnapshot) {
  Fixture f;
  std::string with_ingress = service("a", "11");
  const std::string empty_status = R"("status":{"loadBalancer":{}})";
  with_ingress.replace(with_ingress.find(empty_status), empty_status.size(),
                       R"("status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"},{"hostname":"lb.example.com"}]}})");
  f.api.script({200, {list_page({service("a", "5")}, "9", "")}});
  f.api.script({200, {event("MODIFIED", with_ingress)}, 20ms});
  f.start();
  ASSERT_TRUE(eventually([&] { return f.changes.load() == 2; }));
  const auto services = f.store.snapshot().objects.services;
  ASSERT_EQ(services.size(), 1u);
  const std::vector<config::GatewayAddress> want{{"IPAddress", "192.0.2.1"}, {"Hostname", "lb.example.com"}};
  EXPECT_EQ(services[0].load_balancer_ingress, want);
}

// An API server whose storage is (re)initializing answers 429 with Retry-After: 1. It is asked again
// then, not after a growing backoff (here 3 s, then 6 s, each +-50 %: at least 4.5 s for two refusals).
TEST(K8sReflector, A429IsRetriedWhenTheServerSaysNotAfterTheBackoff) {
  Fixture f;
  const Answer initializing{429, {R"({"kind":"Status","code":429,"message":"storage is (re)initializing"})"}, 0ms,
                            "Retry-After: 1\r\n"};
  f.api.script(initializing);
  f.api.script(initializing);
  f.api.script({200, {list_page({service("a", "5")}, "9", "")}});
  ReflectorTiming slow = fast_timing();
  slow.initial_backoff = 3s;
  slow.max_backoff = 30s;
  const auto started = std::chrono::steady_clock::now();
  f.reflector = std::make_unique<Reflector>(f.connection, ReflectorScope{ApiResource{"Service", "v1", "services", true}, "", ""},
                                            f.store, 7, f.health, [&] { ++f.changes; }, slow);
  f.reflector->start();
  ASSERT_TRUE(eventually([&] { return f.reflector->synced(); }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2s);  // it did wait the second each time
  EXPECT_GE(f.api.paths().size(), 3u);
}

// A refused watch is an error until a watch is taken again, even when the resource then stays quiet (no
// event says so for minutes): `kubernetesWatchErrors` must not report a resource that is being watched.
TEST(K8sReflector, AWatchTakenAgainClearsTheRefusedWatchsError) {
  Fixture f;
  f.api.script({200, {list_page({service("a", "5")}, "9", "")}});
  f.api.script({429, {R"({"kind":"Status","code":429,"message":"storage is (re)initializing"})"}});
  f.api.script({200, {event("ADDED", service("b", "10"))}, 3000ms});  // headers now, the event in 3 s
  f.start();
  ASSERT_TRUE(eventually([&] { return f.api.paths().size() >= 3; }));
  EXPECT_TRUE(eventually([&] { return f.reflector->last_error().empty(); }, 1500ms)) << f.reflector->last_error();
  EXPECT_TRUE(service_names(f.store) == std::vector<std::string>{"a"});  // the event has not come yet
}

TEST(K8sReflector, ExpiredWatchListsAgainAndReplacesTheScope) {
  Fixture f;
  f.api.script({200, {list_page({service("a", "5"), service("b", "6")}, "9", "")}});
  f.api.script({200, {R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
                      R"json("message":"too old resource version: 9 (20)","reason":"Expired","code":410}})json"}});
  f.api.script({200, {list_page({service("b", "21")}, "22", "")}});
  f.start("default");
  ASSERT_TRUE(eventually([&] { return f.reflector->relists() == 2; }));
  EXPECT_TRUE(eventually([&] { return service_names(f.store) == std::vector<std::string>{"b"}; }));
  const auto paths = f.api.paths();
  EXPECT_EQ(paths[0], "/api/v1/namespaces/default/services?limit=2");
  EXPECT_EQ(paths[2], "/api/v1/namespaces/default/services?limit=2");
}

TEST(K8sReflector, MalformedEventIsReportedAndTheScopeListedAgain) {
  Fixture f;
  f.api.script({200, {list_page({service("a", "5")}, "9", "")}});
  f.api.script({200, {event("ADDED", service("b", "10")), "{not json"}});
  f.api.script({200, {list_page({service("a", "5"), service("b", "10")}, "11", "")}});
  f.start();
  ASSERT_TRUE(eventually([&] { return f.reflector->relists() == 2; }));
  EXPECT_EQ(service_names(f.store), (std::vector<std::string>{"a", "b"}));
}

TEST(K8sReflector, ForbiddenListCountsAsSyncedEmptyAndSaysWhy) {
  Fixture f;
  f.api.script({403,
                {R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"services is forbidden: User )"
                 R"(\"system:serviceaccount:x:y\" cannot list resource \"services\"","reason":"Forbidden","code":403})"}});
  f.start();
  ASSERT_TRUE(eventually([&] { return f.reflector->synced(); }));
  EXPECT_TRUE(service_names(f.store).empty());
  EXPECT_NE(f.reflector->last_error().find("HTTP 403 Forbidden: services is forbidden"), std::string::npos)
      << f.reflector->last_error();
  EXPECT_EQ(f.health.disconnected_seconds(), 0.0);  // the server answered: forbidden is not unreachable
}

TEST(K8sReflector, UnreachableServerIsCountedAndRetried) {
  ObjectStore store;
  ClusterConnection connection;
  connection.server = "http://127.0.0.1:1";  // nothing listens on port 1
  ApiHealth health("nowhere");
  Reflector r(connection, {ApiResource{"Service", "v1", "services", true}, "", ""}, store, 0, health, [] {},
              fast_timing());
  r.start();
  ASSERT_TRUE(eventually([&] { return health.disconnections() == 1 && !r.last_error().empty(); }));
  EXPECT_FALSE(r.synced());
  EXPECT_GT(health.disconnected_seconds(), 0.0);
}

TEST(K8sReflector, ObjectTheLoaderRejectsIsAProblemNotACrash) {
  Fixture f;
  std::string bad = service("bad", "5");
  bad.replace(bad.find("\"port\":80"), 9, "\"port\":\"eighty\"");
  f.api.script({200, {list_page({service("a", "4"), bad}, "9", "")}});
  f.start();
  ASSERT_TRUE(eventually([&] { return f.reflector->synced(); }));
  const auto snapshot = f.store.snapshot();
  ASSERT_EQ(snapshot.objects.services.size(), 1u);
  ASSERT_EQ(snapshot.problems.size(), 1u);
  EXPECT_EQ(snapshot.problems[0].name, "bad");
  EXPECT_NE(snapshot.problems[0].message.find("port"), std::string::npos) << snapshot.problems[0].message;
}

}  // namespace
}  // namespace mg::k8s
