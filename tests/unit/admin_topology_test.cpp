// /topology gives the admin page the route table's shape with the counters of each edge, and the page's
// files are embedded byte for byte and served with the headers that keep it self-contained.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "admin/admin_server.h"
#include "admin/page_assets.h"
#include "admin/topology.h"
#include "admin_stub_handlers.h"
#include "config/loader.h"
#include "fixtures.h"
#include "route/cluster_set.h"
#include "route/translator.h"

namespace mg::admin {
namespace {

using nlohmann::json;

constexpr std::string_view kMirrorService = R"(apiVersion: v1
kind: Service
metadata: {name: s2, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
)";

constexpr std::string_view kMirrorRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules:
  - name: shop
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: s2, port: 80}, percent: 50}
    backendRefs: [{name: s1, port: 80}]
)";

TEST(Topology, ListsRulesWithTheirBackendsMirrorsAndCounters) {
  const auto objects = config::load_string(
      test::join_docs({test::kGatewayClass, test::kGateway, test::kService, kMirrorService, kMirrorRoute,
                       test::kEndpointSlice}),
      "topology.yaml");
  const auto table = route::translate(objects);
  const auto clusters = route::build_cluster_set(*table, objects);
  stats::WorkerStats s;
  s.count_downstream("ns/r", 200);
  s.count_downstream("ns/r", 503);
  s.count_downstream("", 404);
  s.count_upstream("ns/s1:80", 200);
  s.record_upstream_latency("ns/r", "ns/s1:80", std::chrono::milliseconds(3));
  auto& m = s.mirror("ns/r", "shop", "ns/s2:80");
  m.sent = 4;
  m.completed[0] = 3;
  m.failed[static_cast<size_t>(stats::MirrorFailure::kTimeout)] = 1;
  m.count_drop(stats::MirrorDrop::kBudget);

  const json doc = json::parse(topology_json(*table, *clusters, s, 12.5, 3));
  EXPECT_EQ(doc["time_s"], 12.5);
  EXPECT_EQ(doc["table_version"], 3);
  EXPECT_EQ(doc["latency_bounds_s"].size(), stats::LatencyHistogram::kBoundsUs.size());
  ASSERT_EQ(doc["listeners"].size(), 1u) << doc.dump(2);
  const json& listener = doc["listeners"][0];
  EXPECT_EQ(listener["gateway"], "ns/gw");
  EXPECT_EQ(listener["protocol"], "HTTP");
  ASSERT_EQ(listener["rules"].size(), 1u);
  const json& rule = listener["rules"][0];
  EXPECT_EQ(rule["route"], "ns/r");
  EXPECT_EQ(rule["name"], "shop");
  EXPECT_EQ(rule["label"], "shop");
  const json& backend = rule["backends"][0];
  EXPECT_EQ(backend["name"], "ns/s1:80");
  EXPECT_EQ(backend["latency"]["count"], 1);
  EXPECT_EQ(backend["latency"]["buckets"][2], 1);  // 3 ms: the (2.5 ms, 5 ms] bucket
  const json& mirror = rule["mirrors"][0];
  EXPECT_EQ(mirror["name"], "ns/s2:80");
  EXPECT_EQ(mirror["percent"], 50.0);
  EXPECT_TRUE(mirror["resolved"]);
  EXPECT_EQ(mirror["endpoints"], 0);  // the fixtures' EndpointSlice is s1's
  EXPECT_EQ(mirror["counters"]["sent"], 4);
  EXPECT_EQ(mirror["counters"]["completed"], 3);
  EXPECT_EQ(mirror["counters"]["failed"]["timeout"], 1);
  EXPECT_EQ(mirror["counters"]["dropped"]["budget"], 1);
  EXPECT_EQ(doc["routes"]["ns/r"], (json{{"requests", 2}, {"5xx", 1}}));
  EXPECT_EQ(doc["unmatched"], (json{{"requests", 1}, {"5xx", 0}}));
  EXPECT_EQ(doc["backends"]["ns/s1:80"], (json{{"requests", 1}, {"5xx", 0}, {"endpoints", 1}}));
}

TEST(Topology, EdgesWithoutTrafficCountZero) {
  const auto objects = config::load_string(
      test::join_docs({test::kGatewayClass, test::kGateway, test::kService, kMirrorService, kMirrorRoute}),
      "topology.yaml");
  const auto table = route::translate(objects);
  const auto clusters = route::build_cluster_set(*table, objects);
  const json doc = json::parse(topology_json(*table, *clusters, stats::WorkerStats{}, 0, 1));
  const json& rule = doc["listeners"][0]["rules"][0];
  EXPECT_EQ(rule["backends"][0]["latency"]["count"], 0);
  EXPECT_EQ(rule["mirrors"][0]["counters"]["sent"], 0);
  EXPECT_EQ(doc["routes"]["ns/r"]["requests"], 0);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PageAssets, EmbedEveryFileOfThePageByteForByte) {
  const std::filesystem::path dir = std::filesystem::path(MG_SOURCE_DIR) / "src/admin/page";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const PageAsset* asset = find_page_asset(name == "index.html" ? "/" : "/page/" + name);
    ASSERT_NE(asset, nullptr) << name;
    EXPECT_EQ(asset->body, read_file(entry.path())) << name;
    ++files;
  }
  EXPECT_EQ(page_assets().size(), files);
  EXPECT_EQ(find_page_asset("/")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_page_asset("/page/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_page_asset("/page/nothing.js"), nullptr);
}

// Every match of `pattern`'s one capturing group in `text`. (RE2, not std::regex, whose g++ 12 headers
// warn under the sanitizer build.)
std::vector<std::string> captures(std::string_view text, const RE2& pattern) {
  std::vector<std::string> out;
  re2::StringPiece rest(text.data(), text.size());
  std::string match;
  while (RE2::FindAndConsume(&rest, pattern, &match)) out.push_back(match);
  return out;
}

TEST(PageAssets, ThePageRefersOnlyToEmbeddedFiles) {
  size_t references = 0;
  for (const auto& target : captures(find_page_asset("/")->body, RE2(R"re((?:src|href)="([^"#]+)")re"))) {
    EXPECT_EQ(target.find("//"), std::string::npos) << "fetched from elsewhere: " << target;
    if (target.rfind("page/", 0) == 0) {
      EXPECT_NE(find_page_asset("/" + target), nullptr) << target;
      ++references;
    }
  }
  EXPECT_GE(references, 2u);  // the script and the style sheet
}

TEST(PageAssets, EveryModuleTheScriptsImportIsEmbedded) {
  const RE2 import_from(R"re(from "\./([^"]+)")re");
  size_t imports = 0;
  for (const auto& asset : page_assets()) {
    for (const auto& module : captures(asset.body, import_from)) {
      EXPECT_NE(find_page_asset("/page/" + module), nullptr) << asset.path << " imports " << module;
      ++imports;
    }
  }
  EXPECT_GT(imports, 0u);
}

// One request with these extra header lines; the whole answer.
std::string raw_get(uint16_t port, const std::string& path, const std::string& headers = {}) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n"));
  std::string out;
  std::error_code ec;
  asio::read(socket, asio::dynamic_buffer(out), ec);
  return out;
}

TEST(AdminServerPage, BrowsersGetThePageOthersTheTextIndex) {
  AdminServer server("127.0.0.1:0", test::stub_admin_handlers({}, "{\"listeners\":[]}"));
  server.start();
  const std::string page = raw_get(server.port(), "/", "Accept: text/html,application/xhtml+xml\r\n");
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos) << page.substr(0, 400);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_NE(page.find("<svg id=\"topology\""), std::string::npos);
  const std::string index = raw_get(server.port(), "/");
  EXPECT_NE(index.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(index.find("/topology"), std::string::npos);
  EXPECT_NE(raw_get(server.port(), "/page/app.js").find("text/javascript"), std::string::npos);
  EXPECT_NE(raw_get(server.port(), "/topology").find("{\"listeners\":[]}"), std::string::npos);
  server.stop();
}

}  // namespace
}  // namespace mg::admin
