#pragma once
// Manifests and helpers several config and route tests share: a managed GatewayClass, Gateway ns/gw
// with one HTTP listener, Service ns/s1 and HTTPRoute ns/r sending / to it, and an EndpointSlice of s1.
// The Gateway and the route can carry a metadata.generation, as the API server writes it.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "config/objects.h"

namespace mg::test {

inline constexpr std::string_view kGatewayClass = R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
)";

// The end of a flow-style metadata mapping: ", generation: N}", or "}" for 0 (not set, as in most files).
inline std::string close_metadata(int64_t generation) {
  return generation ? ", generation: " + std::to_string(generation) + "}" : "}";
}

inline std::string gateway_yaml(int64_t generation = 0) {
  return R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns)" +
         close_metadata(generation) + R"(
spec:
  gatewayClassName: mg
  listeners: [{name: http, port: 80, protocol: HTTP}]
)";
}
inline const std::string kGateway = gateway_yaml();

inline constexpr std::string_view kService = R"(apiVersion: v1
kind: Service
metadata: {name: s1, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
)";

inline std::string route_yaml(int64_t generation = 0) {
  return R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns)" +
         close_metadata(generation) + R"(
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: s1, port: 80}]}]
)";
}
inline const std::string kRoute = route_yaml();

// Service ns/s1's one ready endpoint, 10.0.0.1:3000.
inline constexpr std::string_view kEndpointSlice = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s1-a, namespace: ns, labels: {kubernetes.io/service-name: s1}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.1]}]
)";

// Documents joined into one multi-document YAML text.
inline std::string join_docs(std::initializer_list<std::string_view> docs) {
  std::string out;
  for (auto d : docs) out += "---\n" + std::string(d);
  return out;
}

// The four manifests above, in one text.
inline std::string base_manifests() {
  return join_docs({kGatewayClass, kGateway, kService, kRoute});
}

// A fresh directory under the system's temp directory, named after the running test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* test = ::testing::UnitTest::GetInstance();
    const std::string name =
        "mg_config_test_" + std::to_string(test->random_seed()) + "_" + test->current_test_info()->name();
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, std::string_view text) const { std::ofstream(path_ / name) << text; }
  // Write then rename, as config management tools do: a watcher never sees half a file.
  void replace(const std::string& name, std::string_view text) const {
    std::ofstream(path_ / (name + ".tmp")) << text;
    std::filesystem::rename(path_ / (name + ".tmp"), path_ / name);
  }

 private:
  std::filesystem::path path_;
};

// Gateway default/NAME of GatewayClass "mg" created at `created` (RFC 3339), with flow-style listeners and
// any further spec lines (each indented two spaces, ending in a newline), then a document separator.
inline std::string dated_gateway_yaml(std::string_view name, std::string_view created, std::string_view listeners,
                                      std::string_view more_spec = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + std::string(name) +
         ", namespace: default, creationTimestamp: \"" + std::string(created) + "\"}\nspec:\n  gatewayClassName: mg\n" +
         std::string(more_spec) + "  listeners: " + std::string(listeners) + "\n---\n";
}

// Gives each Gateway without spec.addresses an address of its own (127.0.100.N), as the conformance
// harness does (tests/conformance/run_conformance.py): two Gateways on one address:port conflict
// (route/port_claims.h), and the suite's base has several on port 80.
inline void give_each_gateway_an_address(config::ObjectSet& set) {
  int next = 1;
  for (auto& gw : set.gateways)
    if (gw.addresses.empty()) gw.addresses.push_back({"IPAddress", "127.0.100." + std::to_string(next++)});
}

}  // namespace mg::test
