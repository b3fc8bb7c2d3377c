// Route matching as routes grow (issue 13, "the data plane must not slow down as routes grow"):
// Listener::find with 10, 1,000 and 10,000 HTTPRoutes, each one PathPrefix on one hostname, or each its
// own hostname, beside Listener::find_linear (every match tried in precedence order: find() before the
// path index; find() still scans a virtual host of at most MatchList::kScanAtMost matches, as each of
// the hostnames has). Tables are built from YAML text by the real loader and translator. Each iteration asks
// one of 16 requests spread evenly over the routes (the linear scan's cost depends on where the winner
// ranks), so a figure is the mean over them.

#include <benchmark/benchmark.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace {

enum class Shape { kPrefixesOnOneHost, kHostnames };

std::string table_yaml(Shape shape, int routes) {
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
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: shop}
spec: {ports: [{name: http, port: 8080, targetPort: 3000}]}
)";
  for (int i = 0; i < routes; ++i) {
    const std::string n = std::to_string(i);
    y += "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: route-" + n +
         ", namespace: shop}\nspec:\n  parentRefs: [{name: gw}]\n";
    if (shape == Shape::kPrefixesOnOneHost) {
      y += "  hostnames: [app.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /team-" +
           n + "/api}}]\n";
    } else {
      y += "  hostnames: [app-" + n +
           ".example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /api}}]\n";
    }
    y += "    backendRefs: [{name: svc, port: 8080}]\n";
  }
  return y;
}

struct Fixture {
  std::shared_ptr<const mg::route::RouteTable> table;
  std::vector<std::pair<std::string, std::string>> requests;  // host, target
};

const Fixture& fixture(Shape shape, int routes) {
  static std::map<std::pair<Shape, int>, Fixture> built;
  auto [it, inserted] = built.try_emplace({shape, routes});
  if (inserted) {
    it->second.table =
        mg::route::translate(mg::config::load_string(table_yaml(shape, routes), "route_scale_bench"));
    for (int k = 0; k < 16; ++k) {
      const std::string n = std::to_string(static_cast<long>(k) * routes / 16);
      if (shape == Shape::kPrefixesOnOneHost) {
        it->second.requests.emplace_back("app.example.com", "/team-" + n + "/api/orders/12345?expand=items");
      } else {
        it->second.requests.emplace_back("app-" + n + ".example.com", "/api/orders/12345?expand=items");
      }
    }
  }
  return it->second;
}

const std::array<mg::route::HeaderView, 3> kHeaders{{{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"},
                                                     {"accept", "application/json"},
                                                     {"cookie", "session=8f14e45fceea167a5a36dedd4bea2543"}}};

template <bool kLinear>
void run(benchmark::State& state, Shape shape) {
  const int routes = static_cast<int>(state.range(0));
  const Fixture& f = fixture(shape, routes);
  const mg::route::Listener& l = f.table->listeners.at(0);
  std::vector<mg::route::MatchInput> inputs;
  for (const auto& [host, target] : f.requests) inputs.push_back({"GET", host, target, kHeaders});
  for (const auto& in : inputs) {
    const mg::route::MatchResult a = l.find(in);
    if (a.rule == nullptr || a.rule != l.find_linear(in).rule) {
      state.SkipWithError("a request did not find its route, or the two lookups disagree");
      return;
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    const mg::route::MatchInput& in = inputs[i++ & 15];
    benchmark::DoNotOptimize(kLinear ? l.find_linear(in) : l.find(in));
  }
  state.counters["routes"] = routes;
}

void BM_PrefixesOnOneHost_FindLinear(benchmark::State& s) {
  run<true>(s, Shape::kPrefixesOnOneHost);
}
void BM_PrefixesOnOneHost_Find(benchmark::State& s) {
  run<false>(s, Shape::kPrefixesOnOneHost);
}
void BM_Hostnames_FindLinear(benchmark::State& s) {
  run<true>(s, Shape::kHostnames);
}
void BM_Hostnames_Find(benchmark::State& s) {
  run<false>(s, Shape::kHostnames);
}

BENCHMARK(BM_PrefixesOnOneHost_FindLinear)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PrefixesOnOneHost_Find)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Hostnames_FindLinear)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Hostnames_Find)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
