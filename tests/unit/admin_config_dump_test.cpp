// /config_dump explains each rule: its name, and every (hostname, path, method, headers, query) that
// sends a request to it, as the matcher was compiled.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/config_dump.h"
#include "config/loader.h"
#include "fixtures.h"
#include "route/cluster_set.h"
#include "route/translator.h"

namespace mg::admin {
namespace {

constexpr std::string_view kRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  hostnames: [shop.example.com, "*.shop.example"]
  rules:
  - name: search
    matches:
    - path: {type: Exact, value: /search}
      method: GET
      headers: [{name: X-Tier, value: gold}]
      queryParams: [{type: RegularExpression, name: q, value: "^[a-z]+$"}]
    backendRefs: [{name: s1, port: 80}]
  - backendRefs: [{name: s1, port: 80}]
)";

TEST(ConfigDump, RulesShowTheirNameAndWhatMatchesThem) {
  const auto objects = config::load_string(
      test::join_docs({test::kGatewayClass, test::kGateway, test::kService, kRoute}), "dump.yaml");
  const auto table = route::translate(objects);
  const auto clusters = route::build_cluster_set(*table, objects);
  const auto dump = nlohmann::json::parse(config_dump_json(*table, *clusters));
  const auto& rules = dump["listeners"][0]["rules"];
  ASSERT_EQ(rules.size(), 2u) << dump.dump(2);

  EXPECT_EQ(rules[0]["name"], "search");
  EXPECT_FALSE(rules[1].contains("name"));
  const auto& search = rules[0]["matches"];
  ASSERT_EQ(search.size(), 2u) << search.dump(2);  // one per hostname
  std::set<std::string> hosts;
  for (const auto& m : search) {
    hosts.insert(m["hostname"]);
    EXPECT_EQ(m["path"], (nlohmann::json{{"type", "Exact"}, {"value", "/search"}}));
    EXPECT_EQ(m["method"], "GET");
    EXPECT_EQ(m["headers"][0], (nlohmann::json{{"name", "x-tier"}, {"type", "Exact"}, {"value", "gold"}}));
    EXPECT_EQ(m["queryParams"][0], (nlohmann::json{{"name", "q"}, {"type", "RegularExpression"}, {"value", "^[a-z]+$"}}));
  }
  EXPECT_EQ(hosts, (std::set<std::string>{"shop.example.com", "*.shop.example"}));
  // A rule without matches matches every path: PathPrefix "/".
  ASSERT_FALSE(rules[1]["matches"].empty());
  EXPECT_EQ(rules[1]["matches"][0]["path"], (nlohmann::json{{"type", "PathPrefix"}, {"value", "/"}}));
}

}  // namespace
}  // namespace mg::admin
