// The ClusterSet of a table: the endpoints of each of the table's clusters, at the table's indices, from
// the EndpointSlices (ready endpoints only, slices in name order, the slice port that carries the Service
// port), the protocol of the Service port (h2c or HTTP/1.1), and the warning for a cluster without any.

#include "route/cluster_set.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "fixtures.h"
#include "route/translator.h"

namespace mg::route {
namespace {

// Service ns/web (port 8080 -> the pods' named port web-port) with two slices, beside the fixtures' s1;
// the route sends to web and s1 and mirrors to s1 and to ns/idle, which has no slice.
constexpr std::string_view kWeb = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {ports: [{name: front, port: 8080, targetPort: web-port}]}
---
apiVersion: v1
kind: Service
metadata: {name: idle, namespace: ns}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-b, namespace: ns, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: web-port, port: 9000}, {name: metrics, port: 9100}]
endpoints:
- {addresses: [10.1.0.3], conditions: {ready: false}}
- {addresses: [10.1.0.4], conditions: {ready: true}, targetRef: {kind: Pod, name: web-pod-4}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a, namespace: ns, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: web-port, port: 9000}]
endpoints:
- {addresses: [10.1.0.1]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: web, port: 8080}, {name: s1, port: 80}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: s1, port: 80}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: idle, port: 80}}}
)";

config::ObjectSet objects() {
  return config::load_string(
      test::join_docs({test::kGatewayClass, test::kGateway, test::kService, test::kEndpointSlice, kWeb}),
      "t.yaml");
}

std::vector<std::string> addresses(const ClusterEndpoints& c) {
  std::vector<std::string> out;
  for (const auto& e : c.endpoints) out.push_back(e.address);
  return out;
}

TEST(ClusterSet, EndpointsSitAtTheTablesClusterIndices) {
  const config::ObjectSet set = objects();
  const auto table = translate(set);
  const auto clusters = build_cluster_set(*table, set);
  ASSERT_EQ(clusters->clusters.size(), table->clusters.size());
  for (size_t i = 0; i < table->clusters.size(); ++i)
    EXPECT_EQ(clusters->clusters[i].name, table->clusters[i].name);

  const Rule& rule = table->listeners.at(0).rules.at(0);
  ASSERT_EQ(rule.backends.size(), 2u);
  ASSERT_EQ(rule.mirrors.size(), 2u);
  EXPECT_EQ(addresses(*clusters->find(rule.backends[0].cluster)),
            (std::vector<std::string>{"10.1.0.1:9000", "10.1.0.4:9000"}));
  EXPECT_EQ(addresses(*clusters->find(rule.backends[1].cluster)), std::vector<std::string>{"10.0.0.1:3000"});
  EXPECT_EQ(rule.mirrors[0].cluster, rule.backends[1].cluster);  // one cluster per Service port
  EXPECT_TRUE(clusters->find(rule.mirrors[1].cluster)->endpoints.empty());
  EXPECT_EQ(clusters->find(-1), nullptr);
}

TEST(ClusterSet, AnH2cServicePortMakesAnH2cClusterOthersStayHttp1) {
  std::string web(kWeb);
  const std::string port = "{name: front, port: 8080, targetPort: web-port}";
  web.replace(web.find(port), port.size(),
              "{name: front, port: 8080, targetPort: web-port, appProtocol: kubernetes.io/h2c}");
  const config::ObjectSet set = config::load_string(
      test::join_docs({test::kGatewayClass, test::kGateway, test::kService, test::kEndpointSlice, web}), "t.yaml");
  const auto table = translate(set);
  const auto clusters = build_cluster_set(*table, set);
  const Rule& rule = table->listeners.at(0).rules.at(0);
  EXPECT_EQ(table->clusters.at(static_cast<size_t>(rule.backends[0].cluster)).protocol, UpstreamProtocol::kH2c);
  EXPECT_EQ(clusters->find(rule.backends[0].cluster)->protocol, UpstreamProtocol::kH2c);
  EXPECT_EQ(clusters->find(rule.backends[1].cluster)->protocol, UpstreamProtocol::kHttp1);
  EXPECT_EQ(upstream_protocol_name(UpstreamProtocol::kH2c), "h2c");
}

TEST(ClusterSet, ReadyEndpointsInSliceNameOrderOnTheNamedTargetPort) {
  const config::ObjectSet set = objects();
  const auto table = translate(set);
  const auto clusters = build_cluster_set(*table, set);
  const ClusterEndpoints& web = *clusters->find(table->listeners.at(0).rules.at(0).backends.at(0).cluster);
  EXPECT_EQ(web.name, "ns/web:8080");
  ASSERT_EQ(web.endpoints.size(), 2u);
  EXPECT_EQ(web.endpoints[0].ip, "10.1.0.1");  // slices in name order, not-ready 10.1.0.3 dropped
  EXPECT_EQ(web.endpoints[0].port, 9000);      // web-port, not the metrics port
  EXPECT_EQ(web.endpoints[0].pod, "");
  EXPECT_EQ(web.endpoints[1].ip, "10.1.0.4");
  EXPECT_EQ(web.endpoints[1].pod, "web-pod-4");
}

// A rollout may list one address in two slices for a while: one endpoint, where it first appears. With
// many endpoints too (the check is a set: a Service of 50,000 endpoints no longer takes seconds).
TEST(ClusterSet, AnAddressInTwoSlicesIsOneEndpoint) {
  config::ObjectSet set = objects();
  for (auto& es : set.endpoint_slices) {
    if (es.metadata.name != "web-b") continue;
    es.endpoints.push_back(es.endpoints.back());  // 10.1.0.4 twice in web-b
    for (int i = 0; i < 20000; ++i)
      es.endpoints.push_back({{"10.2." + std::to_string(i / 256) + "." + std::to_string(i % 256)}, {}, {}, {}, {}, {}});
    es.endpoints.push_back({{"10.1.0.1"}, {}, {}, {}, {}, {}});  // web-a's, again
  }
  const auto table = translate(set);
  const auto clusters = build_cluster_set(*table, set);
  const ClusterEndpoints& web = *clusters->find(table->listeners.at(0).rules.at(0).backends.at(0).cluster);
  ASSERT_EQ(web.endpoints.size(), 2u + 20000u);
  EXPECT_EQ(web.endpoints[0].address, "10.1.0.1:9000");
  EXPECT_EQ(web.endpoints[1].address, "10.1.0.4:9000");
  EXPECT_EQ(web.endpoints[1].pod, "web-pod-4");
  EXPECT_EQ(web.endpoints.back().address, "10.2.78.31:9000");
}

TEST(ClusterSet, AClusterWithoutReadyEndpointsIsItsWarningNotTheTables) {
  const config::ObjectSet set = objects();
  const auto table = translate(set);
  const auto clusters = build_cluster_set(*table, set);
  EXPECT_EQ(clusters->warnings,
            std::vector<std::string>{"Service ns/idle:80 has no ready endpoints; requests routed to it get 503"});
  for (const auto& w : table->warnings) EXPECT_EQ(w.find("ready endpoints"), std::string::npos) << w;
}

TEST(ClusterSet, NewSlicesGiveTheSameTableNewEndpoints) {
  config::ObjectSet set = objects();
  const auto table = translate(set);
  const auto before = build_cluster_set(*table, set);
  set.endpoint_slices[0].endpoints[0].addresses = {"10.0.0.9"};  // s1's pod moved
  set.endpoint_slices.pop_back();                                 // web-a is gone
  const auto after = build_cluster_set(*table, set);
  const Rule& rule = table->listeners.at(0).rules.at(0);
  using Addresses = std::vector<std::string>;
  EXPECT_EQ(addresses(*after->find(rule.backends[1].cluster)), Addresses{"10.0.0.9:3000"});
  EXPECT_EQ(addresses(*after->find(rule.backends[0].cluster)), Addresses{"10.1.0.4:9000"});
  EXPECT_EQ(changed_clusters(*before, *after), 2u);
  EXPECT_EQ(changed_clusters(*after, *after), 0u);
  EXPECT_EQ(changed_clusters(ClusterSet{}, *after), 3u);  // a cluster only on one side counts
}

}  // namespace
}  // namespace mg::route
