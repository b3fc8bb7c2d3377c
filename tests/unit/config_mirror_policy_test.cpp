// Loading MirrorPolicy (mirrorgate.io/v1alpha1): every field, and for each way a field can be wrong the
// exact one-line error (file:line, object, field path, problem).

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"

namespace mg::config {
namespace {

// Lines 1-5; the spec lines given start at line 6.
std::string policy(const std::string& spec_lines,
                   const std::string& target_refs =
                       "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n") {
  return "apiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: p, namespace: "
         "ns}\nspec:\n" +
         target_refs + spec_lines;
}

std::string load_error(const std::string& yaml) {
  try {
    load_string(yaml, "x.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigMirrorPolicy, LoadsEveryField) {
  const std::string yaml = R"(apiVersion: mirrorgate.io/v1alpha1
kind: MirrorPolicy
metadata: {name: shadow, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r, sectionName: rule-a}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: other}
  timeout: 2s
  maxInFlight: 256
  maxBytesInFlight: 64Mi
  maxBodySize: 8388608
  hostSuffix: "-shadow"
  requestHeaderModifier:
    set: [{name: X-Shadow, value: "1"}]
    add: [{name: X-Env, value: staging}]
    remove: [Authorization, Cookie]
  allowedMethods: [GET, HEAD]
  responseComparison:
    percent: 10
    headers: [Content-Type]
    ignoreJSONPaths: ["/pod", "/headers/Date", "/a~1b"]
    maxBodySize: 64Ki
)";
  const ObjectSet set = load_string(yaml, "x.yaml");
  ASSERT_EQ(set.mirror_policies.size(), 1u);
  const MirrorPolicy& p = set.mirror_policies[0];
  EXPECT_EQ(p.metadata.namespace_, "default");
  EXPECT_EQ(p.metadata.creation_timestamp, "2025-01-01T00:00:00Z");
  EXPECT_EQ(p.source.line, 1);
  ASSERT_EQ(p.target_refs.size(), 2u);
  EXPECT_EQ(p.target_refs[0].kind, "HTTPRoute");
  EXPECT_EQ(p.target_refs[0].name, "r");
  EXPECT_EQ(p.target_refs[0].section_name, "rule-a");
  EXPECT_FALSE(p.target_refs[1].section_name.has_value());
  ASSERT_TRUE(p.timeout.has_value());
  EXPECT_EQ(p.timeout->milliseconds, 2000);
  EXPECT_EQ(p.max_in_flight, 256);
  EXPECT_EQ(p.max_bytes_in_flight, uint64_t{64} << 20);
  EXPECT_EQ(p.max_body_size, uint64_t{8} << 20);
  EXPECT_EQ(p.host_suffix, "-shadow");
  ASSERT_TRUE(p.request_header_modifier.has_value());
  EXPECT_EQ(p.request_header_modifier->set.at(0).name, "X-Shadow");
  EXPECT_EQ(p.request_header_modifier->add.at(0).value, "staging");
  EXPECT_EQ(p.request_header_modifier->remove, (std::vector<std::string>{"Authorization", "Cookie"}));
  EXPECT_EQ(p.allowed_methods, (std::vector<std::string>{"GET", "HEAD"}));
  ASSERT_TRUE(p.response_comparison.has_value());
  EXPECT_EQ(p.response_comparison->percent, 10);
  EXPECT_EQ(p.response_comparison->headers, (std::vector<std::string>{"Content-Type"}));
  EXPECT_EQ(p.response_comparison->ignore_json_paths.size(), 3u);
  EXPECT_EQ(p.response_comparison->max_body_size, 65536u);
}

TEST(ConfigMirrorPolicy, OnlyTargetRefsIsRequiredAndEmptyComparisonTurnsItOn) {
  const ObjectSet set = load_string(policy("  responseComparison: {}\n"), "x.yaml");
  const MirrorPolicy& p = set.mirror_policies.at(0);
  EXPECT_FALSE(p.timeout || p.max_in_flight || p.max_bytes_in_flight || p.max_body_size || p.host_suffix ||
               p.request_header_modifier);
  EXPECT_TRUE(p.allowed_methods.empty());
  ASSERT_TRUE(p.response_comparison.has_value());
  EXPECT_EQ(p.response_comparison->percent, 100);
  EXPECT_FALSE(p.response_comparison->max_body_size.has_value());
  EXPECT_FALSE(load_string(policy(""), "x.yaml").mirror_policies.at(0).response_comparison.has_value());
}

TEST(ConfigMirrorPolicy, EachInvalidFieldGivesItsPathAndProblem) {
  const std::string at = "x.yaml:6: MirrorPolicy ns/p: ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  tiemout: 2s\n", "spec.tiemout: unknown field"},
      {"  timeout: 2 seconds\n",
       R"(spec.timeout: invalid duration "2 seconds" (e.g. "500ms", "10s", "1m30s"))"},
      {"  timeout: 0s\n", "spec.timeout: must be longer than 0s (a mirror copy always has a deadline)"},
      {"  maxInFlight: 0\n", "spec.maxInFlight: must be between 1 and 1000000, got 0"},
      {"  maxInFlight: \"10\"\n", R"(spec.maxInFlight: expected an integer, got string "10")"},
      {"  maxBytesInFlight: 64MB\n",
       R"(spec.maxBytesInFlight: invalid byte size "64MB" (an integer, or a quantity such as "64Ki", "8Mi"))"},
      {"  maxBytesInFlight: 0\n", "spec.maxBytesInFlight: must be at least 1 byte"},
      {"  maxBodySize: [1]\n", "spec.maxBodySize: expected a byte size, got a list"},
      {"  hostSuffix: _shadow\n",
       R"(spec.hostSuffix: invalid host suffix "_shadow" (1 to 63 lowercase letters, digits, "-" and ".", e.g. "-shadow"))"},
      {"  hostSuffix: \"-a..b\"\n",
       R"(spec.hostSuffix: invalid host suffix "-a..b" (1 to 63 lowercase letters, digits, "-" and ".", e.g. "-shadow"))"},
      {"  requestHeaderModifier: {set: [{name: \"bad header\", value: x}]}\n",
       R"(spec.requestHeaderModifier.set[0].name: invalid header name "bad header")"},
      {"  requestHeaderModifier: {remove: [Cookie, \"Author ization\"]}\n",
       R"(spec.requestHeaderModifier.remove[1]: invalid header name "Author ization")"},
      {"  requestHeaderModifier: {rename: []}\n", "spec.requestHeaderModifier.rename: unknown field"},
      {"  requestHeaderModifier: {set: [{name: X-Request-ID, value: x}]}\n",
       R"(spec.requestHeaderModifier.set[0]: "X-Request-ID" is set by the gateway on every copy and cannot be edited)"},
      {"  requestHeaderModifier: {set: [{name: traceparent, value: x}]}\n",
       R"(spec.requestHeaderModifier.set[0]: "traceparent" is set by the gateway on every copy and cannot be edited)"},
      {"  requestHeaderModifier: {add: [{name: Content-Length, value: \"1\"}]}\n",
       R"(spec.requestHeaderModifier.add[0]: "Content-Length" is set by the gateway on every copy and cannot be edited)"},
      {"  requestHeaderModifier: {remove: [Cookie, host]}\n",
       R"(spec.requestHeaderModifier.remove[1]: "host" is set by the gateway on every copy and cannot be edited (use hostSuffix to tell copies apart))"},
      {"  allowedMethods: [GET, GET]\n", R"(spec.allowedMethods[1]: duplicate value "GET")"},
      {"  allowedMethods: [get]\n",
       R"(spec.allowedMethods[0]: methods are case-sensitive, "get" would never match; write "GET")"},
      {"  allowedMethods: [\"GE T\"]\n",
       R"(spec.allowedMethods[0]: invalid method "GE T" (an HTTP method token such as GET))"},
      {"  allowedMethods: []\n", "spec.allowedMethods: must not be empty (leave the field out instead)"},
      {"  allowedMethods: GET\n", R"(spec.allowedMethods: expected a list, got "GET")"},
      {"  responseComparison: {percent: 101}\n",
       "spec.responseComparison.percent: must be between 0 and 100, got 101"},
      {"  responseComparison: {headers: [Content-Type, content-type]}\n",
       R"(spec.responseComparison.headers[1]: duplicate value "content-type")"},
      {"  responseComparison: {headers: [\"a:b\"]}\n",
       R"(spec.responseComparison.headers[0]: invalid header name "a:b")"},
      // The CRDs' maxLength (HTTPHeaderName), so that a file and the API server refuse the same names.
      {"  requestHeaderModifier: {remove: [" + std::string(257, 'x') + "]}\n",
       "spec.requestHeaderModifier.remove[0]: header name of 257 characters (at most 256)"},
      {"  responseComparison: {ignoreJSONPaths: [pod]}\n",
       R"(spec.responseComparison.ignoreJSONPaths[0]: invalid JSON Pointer "pod" (RFC 6901: starts with "/", "~" only as "~0" or "~1", e.g. "/headers/Date"))"},
      {"  responseComparison: {ignoreJSONPaths: [\"/a~2b\"]}\n",
       R"(spec.responseComparison.ignoreJSONPaths[0]: invalid JSON Pointer "/a~2b" (RFC 6901: starts with "/", "~" only as "~0" or "~1", e.g. "/headers/Date"))"},
      {"  responseComparison: {maxBodySize: 1.5Mi}\n",
       R"(spec.responseComparison.maxBodySize: invalid byte size "1.5Mi" (an integer, or a quantity such as "64Ki", "8Mi"))"},
      {"  responseComparison: {enabled: true}\n", "spec.responseComparison.enabled: unknown field"},
  };
  for (const auto& [spec, error] : cases) EXPECT_EQ(load_error(policy(spec)), at + error) << spec;
}

TEST(ConfigMirrorPolicy, TargetRefsMustNameHTTPRoutesOnce) {
  EXPECT_EQ(load_error(policy("", "  timeout: 1s\n")),
            "x.yaml:5: MirrorPolicy ns/p: spec.targetRefs: required field is missing");
  EXPECT_EQ(load_error(policy("", "  targetRefs: []\n")),
            "x.yaml:5: MirrorPolicy ns/p: spec.targetRefs: must name at least one target");
  EXPECT_EQ(
      load_error(policy("", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: g}]\n")),
      "x.yaml:5: MirrorPolicy ns/p: spec.targetRefs[0]: unsupported target gateway.networking.k8s.io/Gateway "
      "(supported: kind HTTPRoute of group gateway.networking.k8s.io)");
  EXPECT_EQ(load_error(policy("", "  targetRefs: [{kind: HTTPRoute, name: r}]\n")),
            "x.yaml:5: MirrorPolicy ns/p: spec.targetRefs[0].group: required field is missing");
  EXPECT_EQ(
      load_error(policy("",
                        "  targetRefs:\n  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}\n"
                        "  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}\n")),
      "x.yaml:7: MirrorPolicy ns/p: spec.targetRefs[1]: same target as targetRefs[0]");
  // The same route once whole and once by rule is two different targets.
  EXPECT_NO_THROW(load_string(
      policy("",
             "  targetRefs:\n  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}\n"
             "  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r, sectionName: a}\n"),
      "x.yaml"));
}

TEST(ConfigMirrorPolicy, KindIsNamespacedWithItsOwnApiVersion) {
  EXPECT_EQ(load_error("apiVersion: gateway.networking.k8s.io/v1\nkind: MirrorPolicy\nmetadata: {name: p}\n"),
            "x.yaml:1: MirrorPolicy: unsupported apiVersion \"gateway.networking.k8s.io/v1\" (supported: "
            "mirrorgate.io/v1alpha1)");
  EXPECT_EQ(load_error("apiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: p}\n"),
            "x.yaml:1: MirrorPolicy default/p: spec: required field is missing");
  const std::string twice = policy("") + "---\n" + policy("");
  EXPECT_EQ(load_error(twice), "x.yaml:7: MirrorPolicy ns/p: duplicate object, first defined at x.yaml:1");
}

}  // namespace
}  // namespace mg::config
