// Route matching on a realistic table: ~100 HTTPRoute rules over 20 hostnames (exact and wildcard) plus
// a catch-all, built from YAML text through the real loader and translator, exactly as at start-up.

#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>

#include "config/loader.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace {

constexpr int kHosts = 20;
constexpr int kServices = 10;

std::string table_yaml() {
  std::string y = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: mg
  listeners:
  - {name: http, port: 8080, protocol: HTTP}
)";
  for (int s = 0; s < kServices; ++s) {
    const std::string n = "svc-" + std::to_string(s);
    y += "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + n +
         ", namespace: shop}\nspec: {ports: [{name: http, port: 8080, targetPort: 3000}]}\n";
    y += "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + n +
         "-a, namespace: shop, labels: {kubernetes.io/service-name: " + n +
         "}}\naddressType: IPv4\nports: [{name: http, port: 3000}]\nendpoints: [{addresses: [10.0.0." +
         std::to_string(s + 1) + "]}]\n";
  }
  // Per host: 5 rules (an Exact path, two prefixes, a prefix with a header match, a method match).
  for (int h = 0; h < kHosts; ++h) {
    const std::string host = h % 5 == 4 ? "*.zone" + std::to_string(h) + ".example.com"
                                        : "app" + std::to_string(h) + ".example.com";
    const auto svc = [&](int k) { return "svc-" + std::to_string((h + k) % kServices); };
    y += "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: route-" +
         std::to_string(h) + ", namespace: shop}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [\"" + host +
         "\"]\n  rules:\n";
    y += "  - matches: [{path: {type: Exact, value: /healthz}}]\n    backendRefs: [{name: " + svc(0) +
         ", port: 8080}]\n";
    y += "  - matches: [{path: {type: PathPrefix, value: /api/v1/products}}]\n    backendRefs: [{name: " +
         svc(1) + ", port: 8080}]\n";
    y += "  - matches: [{path: {type: PathPrefix, value: /api/v1/orders}, headers: [{name: x-canary, value: "
         "\"true\"}]}]\n    backendRefs: [{name: " +
         svc(2) + ", port: 8080}]\n";
    y += "  - matches: [{path: {type: PathPrefix, value: /api/v1/orders}, method: POST}]\n    backendRefs: [{name: " +
         svc(3) + ", port: 8080}]\n";
    y += "  - matches: [{path: {type: PathPrefix, value: /static}}]\n    backendRefs: [{name: " + svc(4) +
         ", port: 8080}]\n";
  }
  y += "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: fallback, namespace: "
       "shop}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: svc-0, port: 8080}]\n";
  return y;
}

const mg::route::Listener& listener() {
  static const std::shared_ptr<const mg::route::RouteTable> table =
      mg::route::translate(mg::config::load_string(table_yaml(), "route_match_bench"));
  return table->listeners.at(0);
}

size_t rule_count() { return listener().rules.size(); }

void run(benchmark::State& state, const mg::route::MatchInput& in, bool expect_match) {
  const auto& l = listener();
  const mg::route::Rule* r = l.match(in);
  if ((r != nullptr) != expect_match) {
    state.SkipWithError("unexpected match result");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(l.match(in));
  state.counters["rules"] = static_cast<double>(rule_count());
}

const std::array<mg::route::HeaderView, 4> kHeaders{{{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"},
                                                     {"accept", "application/json"},
                                                     {"x-canary", "true"},
                                                     {"cookie", "session=8f14e45fceea167a5a36dedd4bea2543"}}};

void BM_MatchExactHostPrefix(benchmark::State& state) {
  run(state, {"GET", "app13.example.com", "/api/v1/products/12345?sort=recent", kHeaders}, true);
}
BENCHMARK(BM_MatchExactHostPrefix);

void BM_MatchExactHostWithPort(benchmark::State& state) {
  run(state, {"GET", "app13.example.com:8080", "/static/app.js", kHeaders}, true);
}
BENCHMARK(BM_MatchExactHostWithPort);

void BM_MatchHeaderCondition(benchmark::State& state) {
  run(state, {"GET", "app7.example.com", "/api/v1/orders/99", kHeaders}, true);
}
BENCHMARK(BM_MatchHeaderCondition);

void BM_MatchWildcardHost(benchmark::State& state) {
  run(state, {"POST", "eu.zone14.example.com", "/api/v1/orders", {}}, true);
}
BENCHMARK(BM_MatchWildcardHost);

void BM_MatchFallbackUnknownHost(benchmark::State& state) {
  run(state, {"GET", "unknown.example.org", "/whatever/path?q=1", kHeaders}, true);
}
BENCHMARK(BM_MatchFallbackUnknownHost);

void BM_TranslateTable(benchmark::State& state) {
  const std::string yaml = table_yaml();
  for (auto _ : state) {
    auto table = mg::route::translate(mg::config::load_string(yaml, "route_match_bench"));
    benchmark::DoNotOptimize(table.get());
  }
}
BENCHMARK(BM_TranslateTable)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
