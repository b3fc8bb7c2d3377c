// MirrorPolicy from objects to the data plane and to status: which mirrors get which settings
// (sectionName precedence, oldest-then-name conflicts, TargetNotFound, Invalid), and the GEP-713
// status `mirrorgate status` and admin /status print for each policy.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"
#include "route/gateway_status_options.h"
#include "route/mirror_policies.h"
#include "route/status.h"
#include "route/translator.h"
#include "server/status_command.h"

namespace mg::route {
namespace {

using nlohmann::json;

// A managed Gateway "ns/gw" and Services s1 (primary) and s2 (mirror). Route "ns/r" has three rules:
// rule-a with a rule-level mirror, rule-b with a backendRef-level mirror, and an unnamed rule with a
// mirror of each kind.
const std::string kBase = R"(
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
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: s1, namespace: ns}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: s2, namespace: ns}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules:
  - name: rule-a
    matches: [{path: {value: /a}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}}}]
    backendRefs: [{name: s1, port: 80}]
  - name: rule-b
    matches: [{path: {value: /b}}]
    backendRefs:
    - name: s1
      port: 80
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}}}]
  - matches: [{path: {value: /c}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}}}]
    backendRefs:
    - name: s1
      port: 80
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}}}]
)";

// A MirrorPolicy in namespace ns; `section` empty targets the whole route.
std::string policy(const std::string& name, const std::string& route, const std::string& section,
                   const std::string& created, const std::string& spec = "  timeout: 1s\n") {
  std::string out =
      "\n---\napiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: " + name +
      ", namespace: ns";
  if (!created.empty()) out += ", creationTimestamp: \"" + created + "\"";
  out += "}\nspec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: " + route;
  if (!section.empty()) out += ", sectionName: " + section;
  return out + "}]\n" + spec;
}

std::shared_ptr<const RouteTable> build(const std::string& extra) {
  return translate(config::load_string(kBase + extra, "test.yaml"));
}

const Rule& rule(const RouteTable& t, size_t index) {
  return t.listeners.at(0).rules.at(index);
}

// The policy governing rule `index`'s first mirror ("" when none); every mirror of the rule must agree.
std::string governing(const RouteTable& t, size_t index) {
  const Rule& r = rule(t, index);
  std::vector<const MirrorTarget*> mirrors;
  for (const auto& m : r.mirrors) mirrors.push_back(&m);
  for (const auto& b : r.backends)
    for (const auto& m : b.mirrors) mirrors.push_back(&m);
  EXPECT_FALSE(mirrors.empty());
  for (const auto* m : mirrors) EXPECT_EQ(m->settings, mirrors.front()->settings) << "rule " << index;
  return mirrors.front()->settings ? mirrors.front()->settings->policy : "";
}

json status_of(const std::string& extra) {
  StatusOptions options;
  options.transition_time = "2025-01-02T03:04:05Z";
  return compute_status(config::load_string(kBase + extra, "test.yaml"), options);
}

const json& policy_status(const json& st, const std::string& name) {
  for (const auto& o : st.at("items"))
    if (o.at("kind") == "MirrorPolicy" && o.at("metadata").at("name") == name) return o.at("status");
  ADD_FAILURE() << "no MirrorPolicy " << name;
  static const json none;
  return none;
}

// "<reason>: <message>" of the Accepted condition of ancestor i.
std::string accepted(const json& st, const std::string& name, size_t i = 0) {
  const json& c = policy_status(st, name).at("ancestors").at(i).at("conditions").at(0);
  EXPECT_EQ(c.at("type"), "Accepted");
  EXPECT_EQ(c.at("status"), c.at("reason") == "Accepted" ? "True" : "False");
  return c.at("reason").get<std::string>() + ": " + c.at("message").get<std::string>();
}

TEST(MirrorPolicyTranslation, WithoutPolicyMirrorsHaveNoSettings) {
  const auto t = build("");
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(governing(*t, i), "") << i;
}

TEST(MirrorPolicyTranslation, WholeRoutePolicyReachesRuleAndBackendMirrorsThroughOneSharedObject) {
  const auto t = build(policy("p", "r", "", "", R"(  timeout: 1m30s
  maxInFlight: 7
  maxBytesInFlight: 1Mi
  maxBodySize: 64Ki
  hostSuffix: "-shadow"
  requestHeaderModifier: {set: [{name: X-Copy, value: "1"}], remove: [Authorization]}
  allowedMethods: [GET, HEAD]
  responseComparison: {percent: 5, headers: [Content-Type], ignoreJSONPaths: [/date], maxBodySize: 1Ki}
)"));
  const auto& settings = rule(*t, 0).mirrors.at(0).settings;
  ASSERT_NE(settings, nullptr);
  EXPECT_EQ(settings->policy, "ns/p");
  EXPECT_EQ(settings->timeout, std::chrono::milliseconds(90'000));
  EXPECT_EQ(settings->max_in_flight, 7u);
  EXPECT_EQ(settings->max_bytes_in_flight, uint64_t{1} << 20);
  EXPECT_EQ(settings->max_body_bytes, 65536u);
  EXPECT_EQ(settings->host_suffix, "-shadow");
  EXPECT_EQ(settings->request_headers.set.at(0), (std::pair<std::string, std::string>{"X-Copy", "1"}));
  EXPECT_EQ(settings->request_headers.remove, (std::vector<std::string>{"authorization"}));
  EXPECT_EQ(settings->allowed_methods, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_TRUE(settings->comparison.enabled);
  EXPECT_EQ(settings->comparison.percent, 5u);
  EXPECT_EQ(settings->comparison.headers, (std::vector<std::string>{"content-type"}));
  EXPECT_EQ(settings->comparison.ignore_json_paths, (std::vector<std::string>{"/date"}));
  EXPECT_EQ(settings->comparison.max_body_bytes, 1024u);
  // Rule-level and backendRef-level mirrors of every rule share the one immutable object.
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(governing(*t, i), "ns/p") << i;
  EXPECT_EQ(rule(*t, 1).backends.at(0).mirrors.at(0).settings, settings);
  EXPECT_EQ(rule(*t, 2).mirrors.at(0).settings, settings);
  for (const auto& w : t->warnings)  // the test's Services have no endpoints; nothing else may be wrong
    EXPECT_NE(w.find("has no ready endpoints"), std::string::npos) << w;
  // Unset fields stay unset, so the command-line defaults apply; comparison stays off.
  const auto bare = build(policy("p", "r", "", ""));
  const auto& defaults = rule(*bare, 0).mirrors.at(0).settings;
  ASSERT_NE(defaults, nullptr);
  EXPECT_FALSE(defaults->max_in_flight || defaults->max_bytes_in_flight || defaults->max_body_bytes);
  EXPECT_TRUE(defaults->host_suffix.empty() && defaults->allowed_methods.empty());
  EXPECT_FALSE(defaults->comparison.enabled);
}

TEST(MirrorPolicyTranslation, SectionNamePolicyBeatsAnOlderWholeRoutePolicy) {
  const std::string objects = policy("whole", "r", "", "2025-01-01T00:00:00Z") +
                              policy("only-b", "r", "rule-b", "2025-06-01T00:00:00Z");
  const auto t = build(objects);
  EXPECT_EQ(governing(*t, 0), "ns/whole");
  EXPECT_EQ(governing(*t, 1), "ns/only-b");
  EXPECT_EQ(governing(*t, 2), "ns/whole");
  const json st = status_of(objects);
  EXPECT_EQ(
      accepted(st, "whole"),
      "Accepted: applies to the mirrors of HTTPRoute ns/r rules[0] (rule-a), rules[2]; rules[1] (rule-b) is "
      "governed by MirrorPolicy ns/only-b, which names that rule by sectionName");
  EXPECT_EQ(accepted(st, "only-b"), "Accepted: applies to the mirrors of HTTPRoute ns/r rules[1] (rule-b)");
}

TEST(MirrorPolicyTranslation, AmongEqualsTheOldestWinsAndTheOtherIsConflicted) {
  const std::string objects =
      policy("a-new", "r", "", "2025-06-01T00:00:00Z") + policy("z-old", "r", "", "2025-01-01T00:00:00Z");
  const auto t = build(objects);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(governing(*t, i), "ns/z-old");
  const json st = status_of(objects);
  EXPECT_EQ(accepted(st, "z-old"),
            "Accepted: applies to the mirrors of HTTPRoute ns/r rules[0] (rule-a), "
            "rules[1] (rule-b), rules[2]");
  EXPECT_EQ(
      accepted(st, "a-new"),
      "Conflicted: not applied: rules[0] (rule-a) is governed by MirrorPolicy ns/z-old, which is older "
      "(created 2025-01-01T00:00:00Z); rules[1] (rule-b) is governed by MirrorPolicy ns/z-old, which is "
      "older (created 2025-01-01T00:00:00Z); rules[2] is governed by MirrorPolicy ns/z-old, which is older "
      "(created 2025-01-01T00:00:00Z)");
  bool warned = false;
  for (const auto& w : t->warnings)
    warned |= w.starts_with("MirrorPolicy ns/a-new spec.targetRefs[0]: Conflicted: not applied: ");
  EXPECT_TRUE(warned);
}

TEST(MirrorPolicyTranslation, SameAgeFallsBackToNamespaceAndName) {
  const std::string objects =
      policy("b", "r", "rule-a", "2025-01-01T00:00:00Z") + policy("a", "r", "rule-a", "2025-01-01T00:00:00Z");
  const auto t = build(objects);
  EXPECT_EQ(governing(*t, 0), "ns/a");
  EXPECT_EQ(governing(*t, 1), "");
  EXPECT_EQ(
      accepted(status_of(objects), "b"),
      "Conflicted: not applied: rules[0] (rule-a) is governed by MirrorPolicy ns/a, which comes first by "
      "namespace/name");
}

TEST(MirrorPolicyTranslation, MissingRouteOrRuleIsTargetNotFound) {
  const std::string objects = policy("no-route", "nope", "", "") + policy("no-rule", "r", "rule-z", "") +
                              "\n---\napiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\n"
                              "metadata: {name: elsewhere, namespace: other}\nspec:\n  targetRefs: "
                              "[{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n";
  const auto t = build(objects);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(governing(*t, i), "") << i;
  const json st = status_of(objects);
  EXPECT_EQ(accepted(st, "no-route"), "TargetNotFound: HTTPRoute ns/nope not found");
  EXPECT_EQ(accepted(st, "no-rule"), "TargetNotFound: HTTPRoute ns/r has no rule named \"rule-z\"");
  // A policy only reaches routes of its own namespace.
  EXPECT_EQ(accepted(st, "elsewhere"), "TargetNotFound: HTTPRoute other/r not found");
  const std::vector<std::string> expected = {
      "MirrorPolicy ns/no-route spec.targetRefs[0]: TargetNotFound: HTTPRoute ns/nope not found",
      "MirrorPolicy ns/no-rule spec.targetRefs[0]: TargetNotFound: HTTPRoute ns/r has no rule named "
      "\"rule-z\"",
      "MirrorPolicy other/elsewhere spec.targetRefs[0]: TargetNotFound: HTTPRoute other/r not found"};
  for (const auto& w : expected)
    EXPECT_NE(std::find(t->warnings.begin(), t->warnings.end(), w), t->warnings.end()) << w;
}

TEST(MirrorPolicyTranslation, InvalidPolicyIsNeverAppliedAndDoesNotShadowAValidOne) {
  const std::string objects =
      policy("valid", "r", "", "2025-06-01T00:00:00Z") +
      policy("twice", "r", "rule-a", "2025-01-01T00:00:00Z",
             "  requestHeaderModifier: {set: [{name: X-A, value: '1'}], remove: [x-a]}\n") +
      policy("too-big", "r", "rule-b", "2025-01-01T00:00:00Z",
             "  maxBodySize: 2Mi\n  maxBytesInFlight: 1Mi\n");
  const auto t = build(objects);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(governing(*t, i), "ns/valid") << i;
  const json st = status_of(objects);
  EXPECT_EQ(
      accepted(st, "twice"),
      "Invalid: spec.requestHeaderModifier: header x-a has more than one action (set, add, remove); the "
      "policy is not applied");
  EXPECT_EQ(accepted(st, "too-big"),
            "Invalid: spec.maxBodySize: 2097152 bytes is more than spec.maxBytesInFlight (1048576 bytes), so "
            "copies of a size between the two could never be sent; the policy is not applied");
  EXPECT_EQ(
      accepted(st, "valid"),
      "Accepted: applies to the mirrors of HTTPRoute ns/r rules[0] (rule-a), rules[1] (rule-b), rules[2]");
}

TEST(MirrorPolicyTranslation, PrecedenceIsDecidedPerRuleForEachTargetRef) {
  const std::string objects =
      "\n---\napiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: both, namespace: ns, "
      "creationTimestamp: \"2025-06-01T00:00:00Z\"}\nspec:\n  targetRefs:\n"
      "  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}\n"
      "  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r, sectionName: rule-a}\n" +
      policy("older", "r", "", "2020-01-01T00:00:00Z");
  const auto t = build(objects);
  EXPECT_EQ(governing(*t, 0), "ns/both");  // by sectionName
  EXPECT_EQ(governing(*t, 1), "ns/older");
  EXPECT_EQ(governing(*t, 2), "ns/older");
  const json st = status_of(objects);
  EXPECT_EQ(
      accepted(st, "both", 0),
      "Accepted: applies to the mirrors of HTTPRoute ns/r rules[0] (rule-a); rules[1] (rule-b) is governed "
      "by MirrorPolicy ns/older, which is older (created 2020-01-01T00:00:00Z); rules[2] is governed by "
      "MirrorPolicy ns/older, which is older (created 2020-01-01T00:00:00Z)");
  EXPECT_EQ(accepted(st, "both", 1), "Accepted: applies to the mirrors of HTTPRoute ns/r rules[0] (rule-a)");
  EXPECT_EQ(
      accepted(st, "older"),
      "Accepted: applies to the mirrors of HTTPRoute ns/r rules[1] (rule-b), rules[2]; rules[0] (rule-a) is "
      "governed by MirrorPolicy ns/both, which names that rule by sectionName");
}

TEST(MirrorPolicyTranslation, MissingTimestampCountsAsOldest) {
  const std::string objects =
      policy("dated", "r", "", "2020-01-01T00:00:00Z") + policy("undated", "r", "", "");
  const auto t = build(objects);
  EXPECT_EQ(governing(*t, 0), "ns/undated");
  EXPECT_EQ(accepted(status_of(objects), "dated")
                .rfind("Conflicted: not applied: rules[0] (rule-a) is governed "
                       "by MirrorPolicy ns/undated, which has no "
                       "creationTimestamp and so counts as older",
                       0),
            0u);
}

TEST(MirrorPolicyStatus, AncestorIsTheTargetedRouteWithControllerAndGeneration) {
  const std::string objects =
      "\n---\napiVersion: mirrorgate.io/v1alpha1\nkind: MirrorPolicy\nmetadata: {name: p, namespace: ns, "
      "generation: 4}\nspec:\n  targetRefs:\n  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: "
      "r, "
      "sectionName: rule-a}\n  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: gone}\n";
  const json st = status_of(objects);
  const json& item = st.at("items").back();
  EXPECT_EQ(item.at("apiVersion"), "mirrorgate.io/v1alpha1");
  EXPECT_EQ(item.at("kind"), "MirrorPolicy");
  EXPECT_EQ(item.at("metadata"), json::parse(R"({"name":"p","namespace":"ns","generation":4})"));
  const json& ancestors = item.at("status").at("ancestors");
  ASSERT_EQ(ancestors.size(), 2u);
  EXPECT_EQ(
      ancestors[0].at("ancestorRef"),
      json::parse(R"({"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"r","namespace":"ns",
                            "sectionName":"rule-a"})"));
  EXPECT_EQ(
      ancestors[1].at("ancestorRef"),
      json::parse(
          R"({"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"gone","namespace":"ns"})"));
  for (const auto& a : ancestors) {
    EXPECT_EQ(a.at("controllerName"), "mirrorgate.io/gateway-controller");
    const json& c = a.at("conditions").at(0);
    EXPECT_EQ(c.at("observedGeneration"), 4);
    EXPECT_EQ(c.at("lastTransitionTime"), "2025-01-02T03:04:05Z");
  }
  EXPECT_EQ(ancestors[0].at("conditions")[0].at("status"), "True");
  EXPECT_EQ(ancestors[1].at("conditions")[0].at("reason"), "TargetNotFound");
  EXPECT_EQ(ancestors[1].at("conditions")[0].at("status"), "False");
}

TEST(MirrorPolicyStatus, AcceptedMessageSaysWhenNoTargetedRuleMirrors) {
  const std::string objects =
      "\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: plain, namespace: "
      "ns}\n"
      "spec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: s1, port: 80}]}]\n" +
      policy("p", "plain", "", "");
  EXPECT_EQ(accepted(status_of(objects), "p"),
            "Accepted: applies to the mirrors of HTTPRoute ns/plain rules[0]; none of these rules has a "
            "RequestMirror filter, so nothing changes yet");
}

TEST(MirrorPolicyStatus, StatusCommandPrintsTheExamplePolicyAsAccepted) {
  const auto dir = std::filesystem::temp_directory_path() / ("mg_policy_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path src(MG_SOURCE_DIR);
  for (const auto* f : {"examples/mirror/gateway.yaml", "examples/mirror/backends.yaml",
                        "examples/mirror-policy/mirror-policy.yaml"})
    std::filesystem::copy_file(src / f, dir / std::filesystem::path(f).filename());
  std::ostringstream out, err;
  EXPECT_EQ(server::run_status_command(dir.string(), out, err), 0) << err.str();
  std::filesystem::remove_all(dir);
  const std::string text = out.str();
  const auto at = text.find("kind: MirrorPolicy");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string policy_doc = text.substr(at);
  EXPECT_NE(policy_doc.find("reason: Accepted"), std::string::npos) << policy_doc;
  EXPECT_NE(policy_doc.find("message: applies to the mirrors of HTTPRoute default/mirror rules[0]"),
            std::string::npos)
      << policy_doc;
  EXPECT_NE(policy_doc.find("kind: HTTPRoute"), std::string::npos) << policy_doc;
}

}  // namespace
}  // namespace mg::route
