// What a provider snapshot does to what the gateway serves: a change of EndpointSlices alone gives new
// clusters for the very same table (its TLS contexts untouched), every other change is translated anew.

#include "server/served_config.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "fixtures.h"
#include "test_certificate.h"

namespace mg::server {
namespace {

// The fixtures' Gateway with an HTTPS listener beside its HTTP one, so there is a TLS context to keep.
const std::string kTlsGateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: ns}
type: kubernetes.io/tls
data: {tls.crt: )" + std::string(test::kCertBase64) + ", tls.key: " + std::string(test::kKeyBase64) + "}\n";

const std::string kNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, labels: {team: a}}\n";

struct Manifests {
  std::string service{test::kService};
  std::string route{test::kRoute};
  std::string slice{test::kEndpointSlice};
  std::string ns = kNamespace;

  config::ObjectSet load() const {
    return config::load_string(test::join_docs({test::kGatewayClass, kTlsGateway, ns, service, route, slice}),
                               "config.yaml");
  }
};

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// The only ready endpoint of the route's one backend.
std::string endpoint(const ServedConfig& served) {
  const auto& backend = served.table->listeners.at(0).rules.at(0).backends.at(0);
  const auto* cluster = served.clusters->find(backend.cluster);
  return cluster && cluster->endpoints.size() == 1 ? cluster->endpoints[0].address : "(not one endpoint)";
}

class ServedConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = next_served_config(nullptr, manifests_.load());
    ASSERT_EQ(first_.table->listeners.size(), 2u) << testing::PrintToString(first_.table->warnings);
    ASSERT_NE(https().tls, nullptr);
    ASSERT_EQ(endpoint(first_), "10.0.0.1:3000");
  }
  const route::Listener& https() const { return first_.table->listeners.at(1); }

  Manifests manifests_;
  ServedConfig first_;
};

TEST_F(ServedConfigTest, AnEndpointSliceChangeKeepsTheTableAndItsTlsContexts) {
  manifests_.slice = replaced(manifests_.slice, "10.0.0.1", "10.0.0.2");
  const ServedConfig next = next_served_config(&first_, manifests_.load());
  EXPECT_EQ(next.table.get(), first_.table.get());  // not translated
  ASSERT_EQ(next.table->listeners.size(), first_.table->listeners.size());
  for (size_t i = 0; i < first_.table->listeners.size(); ++i)
    EXPECT_EQ(next.table->listeners[i].tls.get(), first_.table->listeners[i].tls.get()) << "listener " << i;
  EXPECT_NE(next.clusters.get(), first_.clusters.get());
  EXPECT_EQ(endpoint(next), "10.0.0.2:3000");
  EXPECT_EQ(next.objects->endpoint_slices.at(0).endpoints.at(0).addresses.at(0), "10.0.0.2");  // the latest
}

TEST_F(ServedConfigTest, SliceGenerationsCountOnWithoutATranslation) {
  // The next comparison and generation count start from the latest objects, not from the table's.
  ServedConfig current = first_;
  for (const char* ip : {"10.0.0.2", "10.0.0.3", "10.0.0.4"}) {
    manifests_.slice = replaced(std::string(test::kEndpointSlice), "10.0.0.1", ip);
    current = next_served_config(&current, manifests_.load());
    EXPECT_EQ(current.table.get(), first_.table.get());
  }
  EXPECT_EQ(current.objects->endpoint_slices.at(0).metadata.generation, 4);
  manifests_.route = replaced(manifests_.route, "rules:", "hostnames: [example.com]\n  rules:");
  const ServedConfig translated = next_served_config(&current, manifests_.load());
  EXPECT_NE(translated.table.get(), first_.table.get());
  EXPECT_EQ(translated.objects->endpoint_slices.at(0).metadata.generation, 4);
  EXPECT_EQ(translated.objects->http_routes.at(0).metadata.generation, 2);
  EXPECT_EQ(endpoint(translated), "10.0.0.4:3000");
}

TEST_F(ServedConfigTest, AServicePortChangeIsTranslated) {
  manifests_.service = replaced(manifests_.service, "targetPort: 3000", "targetPort: 3001");
  const ServedConfig next = next_served_config(&first_, manifests_.load());
  EXPECT_NE(next.table.get(), first_.table.get());
  EXPECT_NE(next.table->listeners.at(1).tls.get(), https().tls.get());  // a translation builds them anew
}

TEST_F(ServedConfigTest, ARouteChangeIsTranslated) {
  manifests_.route = replaced(manifests_.route, "rules:", "hostnames: [example.com]\n  rules:");
  EXPECT_NE(next_served_config(&first_, manifests_.load()).table.get(), first_.table.get());
}

TEST_F(ServedConfigTest, ANamespaceLabelChangeIsTranslated) {
  // Metadata only (no generation moves), but allowedRoutes may select namespaces by their labels.
  manifests_.ns = replaced(manifests_.ns, "team: a", "team: b");
  EXPECT_NE(next_served_config(&first_, manifests_.load()).table.get(), first_.table.get());
}

TEST_F(ServedConfigTest, SlicesChangedWithARouteAreTranslatedTogether) {
  manifests_.slice = replaced(manifests_.slice, "10.0.0.1", "10.0.0.2");
  manifests_.route = replaced(manifests_.route, "rules:", "hostnames: [example.com]\n  rules:");
  const ServedConfig next = next_served_config(&first_, manifests_.load());
  EXPECT_NE(next.table.get(), first_.table.get());
  EXPECT_EQ(endpoint(next), "10.0.0.2:3000");
}

TEST_F(ServedConfigTest, AnUnchangedSnapshotIsTranslatedAgain) {
  // As a SIGHUP asks: everything is read and built anew.
  EXPECT_NE(next_served_config(&first_, manifests_.load()).table.get(), first_.table.get());
}

}  // namespace
}  // namespace mg::server
