#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/loader.h"
#include "fixtures.h"

namespace mg::config {
namespace {

// Expects load_string to throw and returns the message so tests can assert on its exact text.
std::string load_error(std::string_view yaml, std::string_view file = "x.yaml") {
  try {
    load_string(yaml, file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return {};
}

constexpr std::string_view kRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: mirror
spec:
  parentRefs:
  - name: gw
  rules:
  - matches:
    - path:
        tpye: Exact
        value: /
)";

TEST(ConfigLoader, RejectsUnknownFieldWithPath) {
  EXPECT_EQ(load_error(kRoute, "examples/mirror/route.yaml"),
            "examples/mirror/route.yaml:11: HTTPRoute default/mirror: spec.rules[0].matches[0].path.tpye: "
            "unknown field");
}

TEST(ConfigLoader, RejectsWrongTypeWithPathAndValue) {
  const std::string yaml = R"(# comment
apiVersion: v1
kind: Service
metadata: {name: foo}
spec:
  ports:
  - port: eighty
)";
  EXPECT_EQ(load_error(yaml),
            R"(x.yaml:7: Service default/foo: spec.ports[0].port: expected an integer, got "eighty")");
}

TEST(ConfigLoader, RejectsQuotedIntegerLikeTheApiServer) {
  const std::string yaml =
      "apiVersion: v1\nkind: Service\nmetadata: {name: foo}\nspec:\n  ports:\n  - port: \"80\"\n";
  EXPECT_EQ(load_error(yaml),
            R"(x.yaml:6: Service default/foo: spec.ports[0].port: expected an integer, got string "80")");
}

TEST(ConfigLoader, RejectsUnknownKind) {
  EXPECT_EQ(load_error("apiVersion: gateway.networking.k8s.io/v1\nkind: Gatway\nmetadata: {name: g}\n"),
            R"(x.yaml:1: unknown kind "Gatway" (apiVersion gateway.networking.k8s.io/v1))");
}

TEST(ConfigLoader, RejectsUnsupportedApiVersion) {
  EXPECT_EQ(load_error("apiVersion: gateway.networking.k8s.io/v2\nkind: Gateway\nmetadata: {name: g}\n"),
            "x.yaml:1: Gateway: unsupported apiVersion \"gateway.networking.k8s.io/v2\" (supported: "
            "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1)");
}

TEST(ConfigLoader, ReportsYamlParseErrorWithLine) {
  const std::string msg = load_error("apiVersion: v1\nkind: Service\nmetadata: {name: [x\n");
  EXPECT_EQ(msg.rfind("x.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML parse error: "), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(ConfigLoader, ReportsLineOfLaterDocument) {
  const std::string yaml = R"(apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g, namespace: a}
spec:
  gatewayClassName: c
  listeners:
  - {name: http, port: 80, protocol: HTTP, bogus: 1}
)";
  EXPECT_EQ(load_error(yaml), "x.yaml:11: Gateway a/g: spec.listeners[0].bogus: unknown field");
}

TEST(ConfigLoader, RejectsMissingRequiredField) {
  const std::string yaml =
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec: {}\n";
  EXPECT_EQ(load_error(yaml), "x.yaml:4: GatewayClass c: spec.controllerName: required field is missing");
}

TEST(ConfigLoader, RejectsBadEnumValue) {
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  rules:
  - matches:
    - path: {type: Prefix, value: /}
)";
  EXPECT_EQ(load_error(yaml),
            "x.yaml:7: HTTPRoute ns/r: spec.rules[0].matches[0].path.type: unsupported value \"Prefix\", "
            "expected one of: Exact, PathPrefix, RegularExpression");
}

// HTTPHeaderName: an RFC 9110 token of at most 256 characters, as the Gateway API CRD says.
TEST(ConfigLoader, HeaderNamesAreTokensOfAtMost256Characters) {
  auto route = [](const std::string& name) {
    return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: ns}\n"
           "spec:\n  rules:\n  - matches:\n    - headers: [{name: \"" + name + "\", value: v}]\n";
  };
  EXPECT_NO_THROW(load_string(route(std::string(256, 'h')), "x.yaml"));
  EXPECT_EQ(load_error(route(std::string(257, 'h'))),
            "x.yaml:7: HTTPRoute ns/r: spec.rules[0].matches[0].headers[0].name: header name of 257 characters "
            "(at most 256)");
  EXPECT_EQ(load_error(route("a b")),
            "x.yaml:7: HTTPRoute ns/r: spec.rules[0].matches[0].headers[0].name: invalid header name \"a b\"");
}

TEST(ConfigLoader, RejectsFilterWithoutItsConfig) {
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters:
    - type: RequestMirror
)";
  EXPECT_EQ(load_error(yaml),
            "x.yaml:7: HTTPRoute default/r: spec.rules[0].filters[0].requestMirror: required when type is "
            "RequestMirror");
}

TEST(ConfigLoader, RejectsBadDuration) {
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - timeouts: {request: 10 seconds}
)";
  EXPECT_EQ(
      load_error(yaml),
      "x.yaml:6: HTTPRoute default/r: spec.rules[0].timeouts.request: invalid duration \"10 seconds\" (e.g. "
      "\"500ms\", \"10s\", \"1m30s\")");
}

TEST(ConfigLoader, RejectsDuplicateObjectNamingBothLocations) {
  const std::string yaml = R"(apiVersion: v1
kind: Service
metadata: {name: foo}
---
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: default}
)";
  EXPECT_EQ(load_error(yaml), "x.yaml:5: Service default/foo: duplicate object, first defined at x.yaml:1");
}

TEST(ConfigLoader, RejectsDuplicateFieldInMap) {
  const std::string yaml =
      "apiVersion: v1\nkind: Service\nmetadata: {name: foo}\nspec:\n  type: ClusterIP\n  type: NodePort\n";
  const std::string msg = load_error(yaml);
  EXPECT_NE(msg.find("Service default/foo: spec.type: duplicate field"), std::string::npos) << msg;
}

TEST(ConfigLoader, AppliesSchemaDefaults) {
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: svc, port: 8080}]
  - matches: [{headers: [{name: x, value: y}]}]
)";
  const ObjectSet set = load_string(yaml, "x.yaml");
  ASSERT_EQ(set.http_routes.size(), 1u);
  const HTTPRoute& r = set.http_routes[0];
  EXPECT_EQ(r.metadata.namespace_, "default");
  EXPECT_EQ(r.metadata.generation, 1);
  EXPECT_EQ(r.source.line, 1);
  EXPECT_EQ(r.parent_refs[0].group, "gateway.networking.k8s.io");
  EXPECT_EQ(r.parent_refs[0].kind, "Gateway");
  EXPECT_FALSE(r.parent_refs[0].namespace_.has_value());
  ASSERT_EQ(r.rules.size(), 2u);
  ASSERT_EQ(r.rules[0].matches.size(), 1u);
  EXPECT_EQ(r.rules[0].matches[0].path.type, "PathPrefix");
  EXPECT_EQ(r.rules[0].matches[0].path.value, "/");
  EXPECT_EQ(r.rules[0].backend_refs[0].weight, 1);
  EXPECT_EQ(r.rules[0].backend_refs[0].ref.kind, "Service");
  EXPECT_EQ(r.rules[0].backend_refs[0].ref.group, "");
  EXPECT_EQ(r.rules[1].matches[0].path.type, "PathPrefix");
  EXPECT_EQ(r.rules[1].matches[0].headers[0].type, "Exact");
}

TEST(ConfigLoader, DefaultsListenerAllowedRoutesToSame) {
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: c
  listeners: [{name: http, port: 80, protocol: HTTP}]
  addresses: [{value: 127.0.0.2}]
)";
  const ObjectSet set = load_string(yaml, "x.yaml");
  ASSERT_EQ(set.gateways.size(), 1u);
  EXPECT_EQ(set.gateways[0].listeners[0].allowed_routes.namespaces.from, "Same");
  EXPECT_EQ(set.gateways[0].addresses[0].type, "IPAddress");
  EXPECT_EQ(set.gateways[0].addresses[0].value, "127.0.0.2");
}

TEST(ConfigLoader, LoadsMultipleDocumentsAndIgnoresKnownUnusedKinds) {
  const std::string yaml = R"(
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {anything: [goes, here]}
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
data: {tls.crt: Zm9v, tls.key: YmFy}
---
apiVersion: v1
kind: Service
metadata:
  name: s
  uid: "1234"
  resourceVersion: "5"
  creationTimestamp: "2024-01-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
spec:
  selector: {app: s}
  ports: [{name: http, port: 80, targetPort: http}]
status: {loadBalancer: {}}
---
)";
  const ObjectSet set = load_string(yaml, "x.yaml");
  EXPECT_EQ(set.ignored_objects, 1u);
  ASSERT_EQ(set.secrets.size(), 1u);
  EXPECT_EQ(set.secrets[0].data.at("tls.crt"), "Zm9v");
  ASSERT_EQ(set.services.size(), 1u);
  EXPECT_EQ(std::get<std::string>(set.services[0].ports[0].target_port), "http");
  EXPECT_EQ(set.services[0].metadata.creation_timestamp, "2024-01-01T00:00:00Z");
  EXPECT_EQ(set.services[0].source.document_index, 2);
}

TEST(ConfigLoader, RejectsUidThatIsNotAString) {
  // The API server would reject it too; this guards the string check on metadata.
  const std::string msg = load_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: n, uid: 12}\n");
  EXPECT_EQ(msg, "x.yaml:3: Namespace n: metadata.uid: expected a string, got integer 12 (quote it)");
}

TEST(ConfigLoader, ServiceTargetPortDefaultsToPort) {
  const ObjectSet set = load_string(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 8080}]\n", "x.yaml");
  EXPECT_EQ(std::get<int32_t>(set.services[0].ports[0].target_port), 8080);
}

TEST(ConfigLoader, LoadsEndpointSlice) {
  const std::string yaml = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: s-abc
  labels: {kubernetes.io/service-name: s}
addressType: IPv4
ports: [{name: http, port: 3000, protocol: TCP}]
endpoints:
- addresses: [10.0.0.1]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: n1
  zone: z
  targetRef: {kind: Pod, name: p, namespace: default, uid: u}
)";
  const ObjectSet set = load_string(yaml, "x.yaml");
  ASSERT_EQ(set.endpoint_slices.size(), 1u);
  EXPECT_EQ(set.endpoint_slices[0].service_name(), "s");
  EXPECT_EQ(set.endpoint_slices[0].endpoints[0].conditions.ready, true);
  EXPECT_EQ(set.endpoint_slices[0].ports[0].port, 3000);
}

TEST(ConfigLoader, ParsesDurations) {
  int64_t ms = 0;
  EXPECT_TRUE(parse_duration("1m30s", ms));
  EXPECT_EQ(ms, 90000);
  EXPECT_TRUE(parse_duration("200ms", ms));
  EXPECT_EQ(ms, 200);
  EXPECT_FALSE(parse_duration("1.5s", ms));
  EXPECT_FALSE(parse_duration("", ms));
  EXPECT_FALSE(parse_duration("1h1h1h1h1h", ms));
}

TEST(ConfigLoader, ParsesByteQuantities) {
  uint64_t bytes = 0;
  EXPECT_TRUE(parse_byte_quantity("65536", bytes));
  EXPECT_EQ(bytes, 65536u);
  EXPECT_TRUE(parse_byte_quantity("64Ki", bytes));
  EXPECT_EQ(bytes, 65536u);
  EXPECT_TRUE(parse_byte_quantity("8Mi", bytes));
  EXPECT_EQ(bytes, 8u << 20);
  EXPECT_TRUE(parse_byte_quantity("2k", bytes));
  EXPECT_EQ(bytes, 2000u);
  EXPECT_FALSE(parse_byte_quantity("", bytes));
  EXPECT_FALSE(parse_byte_quantity("-1", bytes));
  EXPECT_FALSE(parse_byte_quantity("1.5Mi", bytes));
  EXPECT_FALSE(parse_byte_quantity("8mi", bytes));
  EXPECT_FALSE(parse_byte_quantity("99999999999Ti", bytes));
  EXPECT_FALSE(parse_byte_quantity("99999999999999999999", bytes));
}

using test::TempDir;

TEST(ConfigLoader, LoadsDirectoryInNameOrderSkippingOtherFiles) {
  TempDir dir;
  dir.write("b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
  dir.write("a.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  dir.write("README.md", "not yaml: [");
  const ObjectSet set = load_path(dir.path());
  ASSERT_EQ(set.namespaces.size(), 2u);
  EXPECT_EQ(set.namespaces[0].metadata.name, "a");
  EXPECT_EQ(set.namespaces[1].metadata.name, "b");
  EXPECT_EQ(set.namespaces[1].source.file, (dir.path() / "b.yaml").string());
}

TEST(ConfigLoader, DuplicateAcrossFilesNamesBothFiles) {
  TempDir dir;
  dir.write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n");
  dir.write("b.yaml", "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n");
  try {
    load_path(dir.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), (dir.path() / "b.yaml").string() +
                                         ":2: Namespace n: duplicate object, first defined at " +
                                         (dir.path() / "a.yaml").string() + ":1");
  }
}

TEST(ConfigLoader, MissingPathIsAnError) {
  EXPECT_THROW(load_path("/nonexistent/mirrorgate.yaml"), ConfigError);
}

// --- object by object ---

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& p : result.problems) out.push_back(p.message);
  return out;
}

TEST(ConfigLoaderPartial, BadObjectAmongGoodOnesIsLeftOutAndNamedWithItsField) {
  const std::string bad_route = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefz: [{name: s1, port: 80}]}]
)";
  const LoadResult result =
      load_string_partial(test::join_docs({test::kGatewayClass, test::kGateway, bad_route, test::kService,
                                           test::kRoute}),
                          "x.yaml");
  ASSERT_EQ(result.problems.size(), 1u);
  const ConfigProblem& p = result.problems[0];
  EXPECT_EQ(p.message, "x.yaml:19: HTTPRoute ns/bad: spec.rules[0].backendRefz: unknown field");
  EXPECT_EQ(p.file, "x.yaml");
  EXPECT_EQ(p.kind, "HTTPRoute");
  EXPECT_EQ(p.namespace_, "ns");
  EXPECT_EQ(p.name, "bad");
  EXPECT_FALSE(p.whole_file);
  EXPECT_EQ(result.objects.gateway_classes.size(), 1u);
  EXPECT_EQ(result.objects.gateways.size(), 1u);
  EXPECT_EQ(result.objects.services.size(), 1u);
  ASSERT_EQ(result.objects.http_routes.size(), 1u);
  EXPECT_EQ(result.objects.http_routes[0].metadata.name, "r");
  // The all-or-nothing loader throws the same line.
  EXPECT_EQ(load_error(test::join_docs({test::kGateway, bad_route})),
            "x.yaml:14: HTTPRoute ns/bad: spec.rules[0].backendRefz: unknown field");
}

TEST(ConfigLoaderPartial, EveryKindOfProblemLeavesOutOnlyItsObject) {
  const std::string yaml = test::join_docs({
      "apiVersion: v1\nkind: Service\nmetadata: {name: bad-value, namespace: ns}\n"
      "spec: {ports: [{port: x}]}\n",
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: no-spec}\n",
      "apiVersion: gateway.networking.k8s.io/v2\nkind: Gateway\nmetadata: {name: future, namespace: ns}\n",
      "apiVersion: v1\nkind: Service\nmetadata: {name: s1, namespace: ns}\n",  // kService repeats it
      "apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: ns}\nbogus: 1\n",
      test::kService,
      test::kGateway,
  });
  const LoadResult result = load_string_partial(yaml, "x.yaml");
  EXPECT_EQ(messages(result),
            (std::vector<std::string>{
                R"(x.yaml:5: Service ns/bad-value: spec.ports[0].port: expected an integer, got "x")",
                "x.yaml:7: GatewayClass no-spec: spec: required field is missing",
                "x.yaml:11: Gateway: unsupported apiVersion \"gateway.networking.k8s.io/v2\" (supported: "
                "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1)",
                "x.yaml:22: Service ns/extra: bogus: unknown field",
                "x.yaml:24: Service ns/s1: duplicate object, first defined at x.yaml:15",
            }));
  ASSERT_EQ(result.problems.size(), 5u) << testing::PrintToString(messages(result));
  EXPECT_EQ(result.problems[2].kind, "Gateway");
  EXPECT_EQ(result.problems[2].name, "future");
  ASSERT_EQ(result.objects.services.size(), 1u);
  EXPECT_EQ(result.objects.services[0].metadata.name, "s1");
  EXPECT_EQ(result.objects.gateways.size(), 1u);
  EXPECT_TRUE(result.objects.gateway_classes.empty());
}

TEST(ConfigLoaderPartial, YamlSyntaxErrorLeavesOutItsFileOnly) {
  TempDir dir;
  dir.write("a.yaml", test::join_docs({test::kGatewayClass, test::kGateway}));
  dir.write("b.yaml", test::join_docs({test::kService}) + "---\nkind: [unclosed\n");
  const LoadResult result = load_path_partial(dir.path());
  ASSERT_EQ(result.problems.size(), 1u);
  const ConfigProblem& p = result.problems[0];
  EXPECT_TRUE(p.whole_file);
  EXPECT_EQ(p.file, (dir.path() / "b.yaml").string());
  EXPECT_EQ(p.message.rfind(p.file + ":8: YAML parse error: ", 0), 0u) << p.message;
  EXPECT_EQ(result.objects.gateways.size(), 1u);
  EXPECT_TRUE(result.objects.services.empty());  // b.yaml cannot be split into objects
}

TEST(ConfigLoaderPartial, MissingPathIsStillAnError) {
  EXPECT_THROW(load_path_partial("/nonexistent/mirrorgate.yaml"), ConfigError);
}

// One valid manifest per decoded kind; adding a kind to the loader's table without one here fails.
const std::map<std::string, std::string>& one_of_each_kind() {
  static const std::map<std::string, std::string> docs = {
      {"GatewayClass", std::string(test::kGatewayClass)},
      {"Gateway", std::string(test::kGateway)},
      {"HTTPRoute", std::string(test::kRoute)},
      {"TLSRoute", "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: t, namespace: ns}\n"
                   "spec:\n  parentRefs: [{name: gw}]\n  hostnames: [a.example.com]\n"
                   "  rules: [{backendRefs: [{name: s1, port: 80}]}]\n"},
      {"Service", std::string(test::kService)},
      {"ReferenceGrant",
       "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
       "metadata: {name: g, namespace: ns}\n"
       "spec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}]\n"
       "  to: [{group: '', kind: Service}]\n"},
      {"EndpointSlice",
       "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
       "metadata: {name: s1-a, namespace: ns, labels: {kubernetes.io/service-name: s1}}\n"
       "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n"},
      {"Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n"},
      {"Secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: ns}\ndata: {a: Zm9v}\n"},
      {"ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca, namespace: ns}\ndata: {ca.crt: x}\n"},
      {"MirrorPolicy",
       "apiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: m, namespace: ns}\n"
       "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n"},
      {"ClientTrafficPolicy",
       "apiVersion: mirrorgate.io/v1alpha1\nkind: ClientTrafficPolicy\nmetadata: {name: c, namespace: ns}\n"
       "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n"},
      {"BackendTLSPolicy",
       "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: b, namespace: ns}\n"
       "spec:\n  targetRefs: [{group: \"\", kind: Service, name: s}]\n"
       "  validation: {wellKnownCACertificates: System, hostname: s.example.org}\n"},
  };
  return docs;
}

TEST(ConfigLoaderKinds, TableDispatchesEveryKindToItsOwnList) {
  std::vector<std::string> listed;
  for_each_kind([&](std::string_view kind, auto) { listed.emplace_back(kind); });
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(decoded_kinds(), listed) << "the loader's table and for_each_kind() disagree";
  for (const auto& kind : decoded_kinds()) {
    SCOPED_TRACE(kind);
    const auto doc = one_of_each_kind().find(kind);
    ASSERT_NE(doc, one_of_each_kind().end()) << "no test manifest for kind " << kind;
    const ObjectSet set = load_string(doc->second, "x.yaml");
    for_each_kind([&](std::string_view list_kind, auto member) {
      EXPECT_EQ((set.*member).size(), list_kind == kind ? 1u : 0u) << "list of " << list_kind;
    });
    // An unknown top-level field leaves out an object of every kind, not just some.
    const LoadResult bad = load_string_partial(doc->second + "bogusField: 1\n", "x.yaml");
    ASSERT_EQ(bad.problems.size(), 1u);
    EXPECT_NE(bad.problems[0].message.find(kind + " "), std::string::npos) << bad.problems[0].message;
    EXPECT_NE(bad.problems[0].message.find("bogusField: unknown field"), std::string::npos);
    for_each_kind([&](std::string_view, auto member) { EXPECT_TRUE((bad.objects.*member).empty()); });
  }
}

TEST(ConfigLoaderMetadata, KeepsResourceVersionAndTheRest) {
  const ObjectSet set = load_string(R"(apiVersion: v1
kind: Service
metadata:
  name: s
  namespace: ns
  uid: 0b1c2d3e
  resourceVersion: "48213"
  generation: 3
  labels: {app: s}
  annotations: {note: kept}
)",
                                    "x.yaml");
  ASSERT_EQ(set.services.size(), 1u);
  const ObjectMeta& m = set.services[0].metadata;
  EXPECT_EQ(m.resource_version, "48213");
  EXPECT_EQ(m.uid, "0b1c2d3e");
  EXPECT_EQ(m.generation, 3);
  EXPECT_EQ(m.labels.at("app"), "s");
  EXPECT_EQ(m.annotations.at("note"), "kept");
  EXPECT_EQ(load_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: n, resourceVersion: 7}\n"),
            "x.yaml:3: Namespace n: metadata.resourceVersion: expected a string, got integer 7 (quote it)");
}

}  // namespace
}  // namespace mg::config

namespace mg::config {
namespace {

constexpr std::string_view kFrontendGateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
      perPort:
      - port: 8443
        tls:
          validation:
            mode: AllowInsecureFallback
            caCertificateRefs: [{group: "", kind: Secret, name: ca-secret}]
  listeners:
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
)";

TEST(ConfigLoaderGateway, LoadsFrontendClientCertificateValidation) {
  const ObjectSet set = load_string(std::string(kFrontendGateway), "x.yaml");
  ASSERT_EQ(set.gateways.size(), 1u);
  const auto& f = set.gateways[0].tls_frontend;
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->default_validation);
  ASSERT_EQ(f->default_validation->ca_certificate_refs.size(), 1u);
  EXPECT_EQ(f->default_validation->ca_certificate_refs[0].kind, "ConfigMap");
  EXPECT_EQ(f->default_validation->mode, std::nullopt);
  ASSERT_EQ(f->per_port.size(), 1u);
  EXPECT_EQ(f->per_port[0].port, 8443);
  EXPECT_EQ(f->per_port[0].validation.mode, "AllowInsecureFallback");
  EXPECT_EQ(f->per_port[0].validation.ca_certificate_refs[0].name, "ca-secret");
}

TEST(ConfigLoaderGateway, RejectsUnknownFrontendValidationMode) {
  std::string yaml(kFrontendGateway);
  yaml.replace(yaml.find("AllowInsecureFallback"), std::string_view("AllowInsecureFallback").size(), "Sometimes");
  const std::string error = load_error(yaml);
  EXPECT_NE(error.find("spec.tls.frontend.perPort[0].tls.validation.mode"), std::string::npos) << error;
}

}  // namespace
}  // namespace mg::config
