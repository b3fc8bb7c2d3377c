// 421 Misdirected Request: a request whose Host belongs to another HTTPS section of the port than the
// connection's SNI chose. The rows are conformance HTTPRouteHTTPSListenerDetectMisdirectedRequests'.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/loader.h"
#include "route/translator.h"
#include "test_certificate.h"

namespace mg::route {
namespace {

std::string manifests() {
  std::string text = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
  listeners:
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
  - {name: https-with-hostname, port: 443, protocol: HTTPS, hostname: second-example.org, tls: {certificateRefs: [{name: cert}]}}
  - {name: https-with-wildcard-hostname, port: 443, protocol: HTTPS, hostname: "*.wildcard.org", tls: {certificateRefs: [{name: cert}]}}
  - {name: https-with-hostname-matching-wildcard, port: 443, protocol: HTTPS, hostname: fourth-example.wildcard.org, tls: {certificateRefs: [{name: cert}]}}
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: ns}
type: kubernetes.io/tls
data: {tls.crt: )" + std::string(test::kCertBase64) + ", tls.key: " + std::string(test::kKeyBase64) + "}\n";
  for (const char* section : {"https", "https-with-hostname", "https-with-wildcard-hostname",
                              "https-with-hostname-matching-wildcard", "http"})
    text += std::string(R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: )") + section + R"(, namespace: ns}
spec:
  parentRefs: [{name: gw, sectionName: )" + section + R"(}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
)";
  return text;
}

TEST(TlsMisdirected, HostOfAnotherSectionThanTheSniIsMisdirected) {
  const auto table = translate(config::load_string(manifests(), "t.yaml"));
  const auto https = std::find_if(table->listeners.begin(), table->listeners.end(), [](auto& l) { return l.port == 443; });
  ASSERT_NE(https, table->listeners.end());
  const struct {
    const char* sni;
    const char* host;
    bool misdirected;
  } rows[] = {
      {"example.org", "example.org", false},
      {"example.org", "second-example.org", true},
      {"example.org", "unknown-example.org", false},  // same catch-all section: a 404 there, if anything
      {"second-example.org", "second-example.org", false},
      {"second-example.org", "example.org", true},
      {"second-example.org", "unknown-example.org", true},
      {"third-example.wildcard.org", "third-example.wildcard.org", false},
      {"third-example.wildcard.org", "fith-example.wildcard.org", false},
      {"third-example.wildcard.org", "fourth-example.wildcard.org", true},
      {"third-example.wildcard.org", "second-example.org", true},
      {"third-example.wildcard.org", "unknown-example.org", true},
      {"fourth-example.wildcard.org", "fourth-example.wildcard.org", false},
      {"fourth-example.wildcard.org", "fith-example.wildcard.org", true},
      {"unknown-example.org", "example.org", false},
      {"unknown-example.org", "unknown-example.org", false},
      // Not from the suite: a port in Host, case, no SNI at all.
      {"second-example.org", "Second-Example.org:443", false},
      {"Second-Example.ORG", "second-example.org", false},
      {"", "second-example.org", false},
  };
  for (const auto& r : rows) EXPECT_EQ(https->misdirected(r.host, r.sni), r.misdirected) << r.sni << " " << r.host;
  // Plain HTTP has no SNI to disagree with.
  const auto http = std::find_if(table->listeners.begin(), table->listeners.end(), [](auto& l) { return l.port == 80; });
  ASSERT_NE(http, table->listeners.end());
  EXPECT_FALSE(http->misdirected("second-example.org", "example.org"));
}

}  // namespace
}  // namespace mg::route
