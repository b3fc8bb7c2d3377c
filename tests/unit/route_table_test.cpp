#include "route/route_table.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "route/translator.h"
#include "fixtures.h"

namespace mg::route {
namespace {

// A managed class, a Gateway "gw" in namespace "ns" with one HTTP listener, and Services s1..s3
// (port 80 -> targetPort 3000, named "http") with one ready endpoint each.
const std::string kBase = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {team: b}}
---
apiVersion: v1
kind: Service
metadata: {name: s1, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: s2, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: s3, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s1-a, namespace: ns, labels: {kubernetes.io/service-name: s1}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s2-a, namespace: ns, labels: {kubernetes.io/service-name: s2}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.2]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s3-a, namespace: ns, labels: {kubernetes.io/service-name: s3}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.3]}]
)";

std::string gateway(const std::string& listeners, const std::string& extra_spec = "") {
  return R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
)" + extra_spec +
         "  listeners:\n" + listeners;
}

const std::string kHttpListener = "  - {name: http, port: 80, protocol: HTTP}\n";

std::shared_ptr<const RouteTable> build(const std::string& yaml) {
  return translate(config::load_string(kBase + yaml, "test.yaml"));
}

std::string route(const std::string& name, const std::string& spec, const std::string& ns = "ns") {
  return "\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  parentRefs: [{name: gw, namespace: ns}]\n" + spec;
}

// "ns/route#rule" of the rule a request lands on, or "404".
std::string hit(const RouteTable& t, std::string_view target, std::string_view host = "example.com",
                std::string_view method = "GET", std::span<const HeaderView> headers = {}) {
  if (t.listeners.empty()) return "no listener";
  const Rule* r = t.listeners[0].match(MatchInput{method, host, target, headers});
  return r == nullptr ? "404" : r->route + "#" + std::to_string(r->rule_index);
}

TEST(RouteTable, PathPrefixMatchesWholeSegmentsOnly) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - matches: [{path: {type: PathPrefix, value: /foo/}}]
    backendRefs: [{name: s1, port: 80}]
)"));
  EXPECT_EQ(hit(*t, "/foo"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/foo/"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/foo/bar?x=1"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/foo?x=1"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/foobar"), "404");
  EXPECT_EQ(hit(*t, "/"), "404");
}

TEST(RouteTable, RuleLabelIsItsNameElseItsIndex) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - name: reads
    matches: [{path: {type: PathPrefix, value: /a}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /b}}]
    backendRefs: [{name: s1, port: 80}]
)"));
  ASSERT_EQ(t->listeners.size(), 1u);
  const Rule* a = t->listeners[0].match(MatchInput{"GET", "example.com", "/a", {}});
  const Rule* b = t->listeners[0].match(MatchInput{"GET", "example.com", "/b", {}});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->label, "reads");
  EXPECT_EQ(b->label, "1");
}

TEST(RouteTable, ExactPathMatchesOnlyThatPath) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
)"));
  EXPECT_EQ(hit(*t, "/exact"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/exact?q=1"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/exact/"), "404");
  EXPECT_EQ(hit(*t, "/exactly"), "404");
}

TEST(RouteTable, DefaultMatchIsPrefixSlash) {
  auto t = build(gateway(kHttpListener) + route("r", "  rules: [{backendRefs: [{name: s1, port: 80}]}]\n"));
  EXPECT_EQ(hit(*t, "/"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/anything/at/all"), "ns/r#0");
}

TEST(RouteTable, PrecedenceFollowsSpecAcrossRoutes) {
  auto t = build(gateway(kHttpListener) + route("a-prefix", R"(  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
  - matches: [{path: {type: PathPrefix, value: /v1}}]
  - matches: [{path: {type: PathPrefix, value: /v1}, method: POST}]
)") + route("b-more", R"(  rules:
  - matches: [{path: {type: PathPrefix, value: /v1}, method: POST, headers: [{name: X-A, value: "1"}]}]
  - matches: [{path: {type: PathPrefix, value: /v1}, method: POST, headers: [{name: x-a, value: "1"}],
               queryParams: [{name: q, value: "1"}]}]
  - matches: [{path: {type: Exact, value: /v1/x}}]
  - matches: [{path: {type: RegularExpression, value: "/v1/[0-9]+"}}]
)"));
  EXPECT_EQ(hit(*t, "/other"), "ns/a-prefix#0");
  EXPECT_EQ(hit(*t, "/v1/a"), "ns/a-prefix#1");
  EXPECT_EQ(hit(*t, "/v1/a", "example.com", "POST"), "ns/a-prefix#2");
  const HeaderView h[] = {{"X-a", "1"}};
  EXPECT_EQ(hit(*t, "/v1/a", "example.com", "POST", h), "ns/b-more#0");
  EXPECT_EQ(hit(*t, "/v1/a?z=0&q=1", "example.com", "POST", h), "ns/b-more#1");
  EXPECT_EQ(hit(*t, "/v1/x", "example.com", "POST", h), "ns/b-more#2");  // Exact beats everything
  EXPECT_EQ(hit(*t, "/v1/42"), "ns/b-more#3");  // regex "/v1/[0-9]+" (10 chars) beats prefix "/v1"
}

TEST(RouteTable, EqualMatchesGoToOldestThenAlphabeticalRoute) {
  const std::string rules = "  rules: [{matches: [{path: {type: PathPrefix, value: /x}}]}]\n";
  auto t = build(gateway(kHttpListener) + route("zzz", rules) + route("aaa", rules));
  EXPECT_EQ(hit(*t, "/x"), "ns/aaa#0");
  std::string older = route("zzz", rules);
  older.replace(older.find("namespace: ns}"), 14,
                "namespace: ns, creationTimestamp: \"2020-01-01T00:00:00Z\"}");
  std::string newer = route("aaa", rules);
  newer.replace(newer.find("namespace: ns}"), 14,
                "namespace: ns, creationTimestamp: \"2024-01-01T00:00:00Z\"}");
  t = build(gateway(kHttpListener) + older + newer);
  EXPECT_EQ(hit(*t, "/x"), "ns/zzz#0");
}

TEST(RouteTable, HeaderAndQueryRegexMatches) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - matches: [{headers: [{type: RegularExpression, name: version, value: "v[12]"}]}]
  - matches: [{queryParams: [{type: RegularExpression, name: id, value: "[0-9]+"}]}]
)"));
  const HeaderView v2[] = {{"Version", "v2"}};
  const HeaderView v3[] = {{"Version", "v3"}};
  EXPECT_EQ(hit(*t, "/", "example.com", "GET", v2), "ns/r#0");
  EXPECT_EQ(hit(*t, "/", "example.com", "GET", v3), "404");
  EXPECT_EQ(hit(*t, "/?id=17"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/?id=x17"), "404");
}

TEST(RouteTable, HostnamesExactBeatsWildcardAndPortIsStripped) {
  auto t = build(gateway(kHttpListener) + route("exact", "  hostnames: [foo.example.com]\n  rules: [{}]\n") +
                 route("wild", "  hostnames: [\"*.example.com\"]\n  rules: [{}]\n") +
                 route("deeper", "  hostnames: [\"*.b.example.com\"]\n  rules: [{}]\n") +
                 route("any", "  rules: [{matches: [{path: {type: Exact, value: /only}}]}]\n"));
  EXPECT_EQ(hit(*t, "/", "FOO.example.com:8080"), "ns/exact#0");
  EXPECT_EQ(hit(*t, "/", "bar.example.com"), "ns/wild#0");
  EXPECT_EQ(hit(*t, "/", "a.b.example.com"), "ns/deeper#0");
  EXPECT_EQ(hit(*t, "/", "x.y.example.com"), "ns/wild#0");
  EXPECT_EQ(hit(*t, "/", "example.com"), "404");  // catch-all route only serves /only
  EXPECT_EQ(hit(*t, "/only", "example.com"), "ns/any#0");
  // The most specific host wins even when its rules do not match: no fallback to less specific ones.
  EXPECT_EQ(hit(*t, "/only", "foo.example.com"), "ns/exact#0");
}

TEST(RouteTable, ListenerHostnameNarrowsRouteHostnames) {
  const std::string listeners = R"(  - {name: foo, port: 80, protocol: HTTP, hostname: foo.com}
  - {name: wild, port: 80, protocol: HTTP, hostname: "*.bar.com"}
)";
  auto t = build(gateway(listeners) + route("all", "  rules: [{}]\n") +
                 route("onlybar", "  hostnames: [x.bar.com, nomatch.org]\n  rules: [{}]\n"));
  ASSERT_EQ(t->listeners.size(), 1u);  // both sections share port 80
  EXPECT_EQ(t->listeners[0].section_names.size(), 2u);
  EXPECT_EQ(hit(*t, "/", "foo.com"), "ns/all#0");
  EXPECT_EQ(hit(*t, "/", "x.bar.com"), "ns/onlybar#0");
  EXPECT_EQ(hit(*t, "/", "y.bar.com"), "ns/all#0");
  EXPECT_EQ(hit(*t, "/", "nomatch.org"), "404");
  EXPECT_EQ(hit(*t, "/", "bar.com"), "404");
}

TEST(RouteTable, IntersectsHostnamesPerSpec) {
  EXPECT_EQ(intersect_hostnames("", "a.com"), "a.com");
  EXPECT_EQ(intersect_hostnames("*.a.com", ""), "*.a.com");
  EXPECT_EQ(intersect_hostnames("*.a.com", "x.a.com"), "x.a.com");
  EXPECT_EQ(intersect_hostnames("x.a.com", "*.a.com"), "x.a.com");
  EXPECT_EQ(intersect_hostnames("*.a.com", "*.b.a.com"), "*.b.a.com");
  EXPECT_EQ(intersect_hostnames("*.b.a.com", "*.a.com"), "*.b.a.com");
  EXPECT_EQ(intersect_hostnames("*.a.com", "a.com"), std::nullopt);
  EXPECT_EQ(intersect_hostnames("x.com", "y.com"), std::nullopt);
}

TEST(RouteTable, WeightsAndDedupedClusters) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - backendRefs: [{name: s1, port: 80, weight: 3}, {name: s2, port: 80}, {name: s3, port: 80, weight: 0}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s1, port: 80}, percent: 20}}]
)"));
  const Rule* r = t->listeners[0].match({"GET", "h", "/"});
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->backends.size(), 3u);
  EXPECT_EQ(r->backends[0].weight, 3u);
  EXPECT_EQ(r->backends[1].weight, 1u);
  EXPECT_EQ(r->backends[2].weight, 0u);
  EXPECT_EQ(r->total_weight, 4u);
  EXPECT_EQ(r->backends[0].name, "ns/s1:80");
  ASSERT_EQ(r->mirrors.size(), 1u);
  EXPECT_EQ(r->mirrors[0].cluster, r->backends[0].cluster);  // one cluster per ns/svc:port
  EXPECT_EQ(r->mirrors[0].numerator, 20u);
  EXPECT_EQ(r->mirrors[0].denominator, 100u);
  EXPECT_EQ(t->clusters.size(), 3u);
  const Cluster& s2 = t->clusters[r->backends[1].cluster];
  EXPECT_EQ(s2.name, "ns/s2:80");
  EXPECT_EQ(s2.authority, "s2.ns.svc:80");
  EXPECT_EQ(s2.service_namespace + "/" + s2.service, "ns/s2");  // whose slices give its endpoints
  EXPECT_EQ(s2.port.name, "http");
  EXPECT_TRUE(t->warnings.empty()) << t->warnings[0];
}

TEST(RouteTable, MissingServiceGivesInvalidBackendAndWarning) {
  auto t = build(gateway(kHttpListener) + route("r", R"(  rules:
  - backendRefs: [{name: nope, port: 80}, {name: s1, port: 80}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: gone, port: 80}}}]
)"));
  const Rule* r = t->listeners[0].match({"GET", "h", "/"});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->backends[0].cluster, -1);
  EXPECT_EQ(r->backends[0].name, "ns/nope:80");
  EXPECT_GE(r->backends[1].cluster, 0);
  EXPECT_EQ(r->mirrors[0].cluster, -1);
  ASSERT_EQ(t->warnings.size(), 2u);
  EXPECT_EQ(t->warnings[0], "HTTPRoute ns/r rule 0: backendRef Service ns/nope not found; requests get 500");
  EXPECT_EQ(t->warnings[1],
            "HTTPRoute ns/r rule 0: mirror backendRef Service ns/gone not found; mirrored copies fail");
}

TEST(RouteTable, UnsupportedKindAndCrossNamespaceNeedGrant) {
  const std::string svc_other = R"(
---
apiVersion: v1
kind: Service
metadata: {name: far, namespace: other}
spec: {ports: [{port: 80}]}
)";
  const std::string rules = R"(  rules:
  - backendRefs: [{name: far, namespace: other, port: 80}, {kind: ConfigMap, name: s1}]
)";
  auto t = build(gateway(kHttpListener) + svc_other + route("r", rules));
  const Rule* r = t->listeners[0].match({"GET", "h", "/"});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->backends[0].cluster, -1);
  EXPECT_EQ(r->backends[1].cluster, -1);
  EXPECT_EQ(t->warnings.size(), 2u);

  const std::string grant = R"(
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ns}]
  to: [{group: "", kind: Service}]
)";
  t = build(gateway(kHttpListener) + svc_other + grant + route("r", rules));
  r = t->listeners[0].match({"GET", "h", "/"});
  EXPECT_GE(r->backends[0].cluster, 0);
}

TEST(RouteTable, ListenerAddressComesFromGatewaySpec) {
  auto t = build(gateway(kHttpListener, "  addresses: [{type: IPAddress, value: 127.0.0.7}]\n"));
  ASSERT_EQ(t->listeners.size(), 1u);
  EXPECT_EQ(t->listeners[0].address, "127.0.0.7");
  EXPECT_EQ(t->listeners[0].port, 80);
  EXPECT_EQ(t->listeners[0].gateway, "ns/gw");
  EXPECT_EQ(t->listeners[0].name, "http");
  t = build(gateway(kHttpListener));
  EXPECT_EQ(t->listeners[0].address, "0.0.0.0");
}

TEST(RouteTable, SkipsNonHttpListenersAndForeignClasses) {
  auto t = build(
      gateway("  - {name: tcp, port: 9000, protocol: TCP}\n  - {name: http, port: 80, protocol: HTTP}\n"));
  ASSERT_EQ(t->listeners.size(), 1u);
  EXPECT_EQ(t->listeners[0].port, 80);
  EXPECT_EQ(t->listeners[0].tls, nullptr);
  ASSERT_EQ(t->warnings.size(), 1u);
  EXPECT_NE(t->warnings[0].find("protocol TCP is not supported; listener skipped"), std::string::npos);
  auto other = translate(config::load_string(kBase + gateway(kHttpListener), "t.yaml"), "example.com/other");
  EXPECT_TRUE(other->listeners.empty());
}

TEST(RouteTable, AllowedRoutesSameBlocksOtherNamespaces) {
  auto t = build(gateway(kHttpListener) + route("r", "  rules: [{}]\n", "other"));
  EXPECT_EQ(hit(*t, "/"), "404");
  ASSERT_EQ(t->warnings.size(), 1u);
  EXPECT_NE(t->warnings[0].find("does not allow routes from namespace other"), std::string::npos)
      << t->warnings[0];
}

TEST(RouteTable, AllowedRoutesSelectorUsesNamespaceLabels) {
  const std::string listener = R"(  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: b}}}}
)";
  auto t = build(gateway(listener) + route("in-ns", "  rules: [{matches: [{path: {value: /ns}}]}]\n") +
                 route("in-other", "  rules: [{matches: [{path: {value: /other}}]}]\n", "other"));
  EXPECT_EQ(hit(*t, "/other"), "other/in-other#0");
  EXPECT_EQ(hit(*t, "/ns"), "404");
}

TEST(RouteTable, ParentRefSectionNameAndPortSelectListener) {
  const std::string listeners = R"(  - {name: a, port: 80, protocol: HTTP}
  - {name: b, port: 8080, protocol: HTTP}
)";
  std::string r = route("r", "  rules: [{}]\n");
  r.replace(r.find("namespace: ns}]"), 15, "namespace: ns, sectionName: b}]");
  auto t = build(gateway(listeners) + r);
  ASSERT_EQ(t->listeners.size(), 2u);
  EXPECT_EQ(t->listeners[0].match({"GET", "h", "/"}), nullptr);
  EXPECT_NE(t->listeners[1].match({"GET", "h", "/"}), nullptr);
}

TEST(RouteTable, ConformanceBaseTranslatesCleanly) {
  const std::string dir = std::string(MG_SOURCE_DIR) + "/../shared/conformance/base/";
  if (!std::filesystem::exists(dir)) GTEST_SKIP();
  auto set = config::load_path(dir + "manifests.yaml");
  auto cls = config::load_string(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: mg}\nspec: "
      "{controllerName: "
      "mirrorgate.io/gateway-controller}\n",
      "class.yaml");
  set.gateway_classes = cls.gateway_classes;
  for (auto& gw : set.gateways) gw.gateway_class_name = "mg";
  test::give_each_gateway_an_address(set);
  auto t = translate(set);
  // The HTTPS-only Gateway is skipped: its Secret is generated by the suite, not in the base.
  EXPECT_EQ(t->listeners.size(), 3u);
}

}  // namespace
}  // namespace mg::route
