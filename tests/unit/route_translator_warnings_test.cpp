// What the translator says about objects that serve nothing, and what status says of them: a route
// whose parent Gateway does not exist, and a Service without ready endpoints.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/loader.h"
#include "route/cluster_set.h"
#include "route/status.h"
#include "route/translator.h"

namespace mg::route {
namespace {

const char* kBase = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mirrorgate}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: mirrorgate
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec: {ports: [{port: 3000}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: default}
spec:
  parentRefs: [{name: gw}, {name: nope}]
  rules: [{backendRefs: [{name: empty, port: 3000}]}]
)";

bool has_warning(const std::vector<std::string>& warnings, std::string_view text) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

TEST(TranslatorWarnings, ParentGatewayThatDoesNotExist) {
  auto table = translate(config::load_string(kBase, "test"));
  EXPECT_TRUE(
      has_warning(table->warnings, "HTTPRoute default/lost spec.parentRefs[1]: Gateway default/nope does not exist"))
      << testing::PrintToString(table->warnings);
  EXPECT_FALSE(has_warning(table->warnings, "spec.parentRefs[0]"));
}

TEST(TranslatorWarnings, ServiceWithoutReadyEndpoints) {
  // Said by the cluster set, which follows the slices; the routes' table says nothing of endpoints.
  const auto objects = config::load_string(kBase, "test");
  auto table = translate(objects);
  const auto clusters = build_cluster_set(*table, objects);
  EXPECT_TRUE(has_warning(clusters->warnings, "Service default/empty:3000 has no ready endpoints"))
      << testing::PrintToString(clusters->warnings);
  EXPECT_FALSE(has_warning(table->warnings, "ready endpoints"));
}

TEST(StatusOfMissingParents, FileModeReportsNoMatchingParent) {
  const auto objects = config::load_string(kBase, "test");
  StatusOptions options;
  options.transition_time = "2025-01-02T03:04:05Z";
  const auto items = compute_status(objects, options)["items"];
  const auto route = std::find_if(items.begin(), items.end(), [](const auto& i) { return i["kind"] == "HTTPRoute"; });
  ASSERT_NE(route, items.end());
  const auto& parents = (*route)["status"]["parents"];
  ASSERT_EQ(parents.size(), 2u) << parents.dump();
  const auto& missing = parents[1];
  EXPECT_EQ(missing["parentRef"]["name"], "nope");
  EXPECT_EQ(missing["conditions"][0]["type"], "Accepted");
  EXPECT_EQ(missing["conditions"][0]["status"], "False");
  EXPECT_EQ(missing["conditions"][0]["reason"], "NoMatchingParent");

  options.report_missing_parents = false;  // a cluster provider: not ours to answer for
  const auto cluster_items = compute_status(objects, options)["items"];
  const auto cluster_route =
      std::find_if(cluster_items.begin(), cluster_items.end(), [](const auto& i) { return i["kind"] == "HTTPRoute"; });
  EXPECT_EQ((*cluster_route)["status"]["parents"].size(), 1u);
}

}  // namespace
}  // namespace mg::route
