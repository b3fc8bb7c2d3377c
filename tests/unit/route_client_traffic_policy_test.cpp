// ClientTrafficPolicy attachment: which policy each route::Listener gets (precedence, shared ports) and
// the GEP-713 status of each policy.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/loader.h"
#include "route/client_traffic_policy.h"
#include "route/status.h"
#include "route/status_yaml.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using nlohmann::json;

// Gateway gateway-ns/gw: "http" and "http-alt" share port 80, "admin" is alone on 81, "tcp" is TCP.
const std::string kBase = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: theirs}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: gateway-ns}
spec:
  gatewayClassName: mg
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: http-alt, port: 80, protocol: HTTP, hostname: alt.example.com}
  - {name: admin, port: 81, protocol: HTTP}
  - {name: tcp, port: 82, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other-gw, namespace: gateway-ns}
spec:
  gatewayClassName: theirs
  listeners:
  - {name: http, port: 90, protocol: HTTP}
)";

// sections: "" targets the whole Gateway; several entries give several targetRefs.
std::string policy(const std::string& name, std::vector<std::string> sections, const std::string& limits,
                   const std::string& created = "", const std::string& gateway = "gw") {
  std::string out =
      "---\napiVersion: mirrorgate.io/v1alpha1\nkind: ClientTrafficPolicy\nmetadata: {name: " + name +
      ", namespace: gateway-ns" + (created.empty() ? "" : ", creationTimestamp: \"" + created + "\"") +
      "}\nspec:\n  targetRefs:\n";
  for (const auto& s : sections)
    out += "  - {group: gateway.networking.k8s.io, kind: Gateway, name: " + gateway +
           (s.empty() ? "" : ", sectionName: " + s) + "}\n";
  return out + "  limits: " + limits + "\n";
}

config::ObjectSet load(const std::string& policies) {
  return config::load_string(kBase + policies, "test.yaml");
}

// The policy governing port `port` of gateway-ns/gw, or "" for none.
std::string policy_on_port(const RouteTable& table, uint16_t port) {
  for (const auto& l : table.listeners)
    if (l.gateway == "gateway-ns/gw" && l.port == port)
      return l.client_traffic ? l.client_traffic->policy : "";
  ADD_FAILURE() << "no listener on port " << port;
  return "?";
}

const PolicyAncestor& ancestor(const ClientTrafficResolution& r, const std::string& policy, size_t i = 0) {
  static const PolicyAncestor kMissing{};
  const auto it = r.ancestors.find("gateway-ns/" + policy);
  if (it == r.ancestors.end() || it->second.size() <= i) {
    ADD_FAILURE() << "no ancestor " << i << " for " << policy;
    return kMissing;
  }
  return it->second[i];
}

ClientTrafficResolution resolve(const config::ObjectSet& set) {
  return resolve_client_traffic_policies(set, kDefaultControllerName);
}

TEST(ClientTrafficPolicy, SectionPolicyAppliesToItsPortOnly) {
  const auto set = load(policy("strict", {"admin"}, "{maxHeaders: 10, maxRequestBodySize: 1Ki}"));
  const auto table = translate(set);
  EXPECT_EQ(policy_on_port(*table, 81), "gateway-ns/strict");
  EXPECT_EQ(policy_on_port(*table, 80), "");
  for (const auto& l : table->listeners) {
    if (l.port != 81) continue;
    EXPECT_EQ(l.client_traffic->max_headers, 10u);
    EXPECT_EQ(l.client_traffic->max_request_body, 1024u);
    EXPECT_FALSE(l.client_traffic->max_request_line);  // unset: the flag's default applies
  }
  const auto r = resolve(set);
  EXPECT_TRUE(ancestor(r, "strict").accepted);
  EXPECT_EQ(ancestor(r, "strict").message, "applies to listener admin");
}

TEST(ClientTrafficPolicy, SectionPolicyBeatsGatewayPolicy) {
  const auto set = load(policy("whole", {""}, "{maxHeaders: 50}", "2024-01-01T00:00:00Z") +
                        policy("narrow", {"admin"}, "{maxHeaders: 10}", "2025-01-01T00:00:00Z"));
  const auto table = translate(set);
  EXPECT_EQ(policy_on_port(*table, 81), "gateway-ns/narrow");  // newer, but more specific
  EXPECT_EQ(policy_on_port(*table, 80), "gateway-ns/whole");
  const auto r = resolve(set);
  EXPECT_TRUE(ancestor(r, "narrow").accepted);
  EXPECT_TRUE(ancestor(r, "whole").accepted);
  EXPECT_EQ(ancestor(r, "whole").message,
            "applies to listeners http, http-alt; overridden on listener admin by gateway-ns/narrow");
}

TEST(ClientTrafficPolicy, OldestPolicyWinsAndTheOthersAreConflicted) {
  const auto set = load(policy("a-newer", {""}, "{maxHeaders: 50}", "2025-01-01T00:00:00Z") +
                        policy("b-older", {""}, "{maxHeaders: 10}", "2024-01-01T00:00:00Z"));
  EXPECT_EQ(policy_on_port(*translate(set), 80), "gateway-ns/b-older");
  const auto r = resolve(set);
  EXPECT_TRUE(ancestor(r, "b-older").accepted);
  const PolicyAncestor& loser = ancestor(r, "a-newer");
  EXPECT_FALSE(loser.accepted);
  EXPECT_EQ(loser.reason, "Conflicted");
  EXPECT_EQ(loser.message,
            "ClientTrafficPolicy gateway-ns/b-older also targets Gateway gateway-ns/gw and takes precedence "
            "(older creationTimestamp, then name)");
}

TEST(ClientTrafficPolicy, NameBreaksTheTieBetweenEquallyOldPolicies) {
  const auto set =
      load(policy("zeta", {"admin"}, "{maxHeaders: 50}") + policy("alpha", {"admin"}, "{maxHeaders: 10}"));
  const auto table = translate(set);
  EXPECT_EQ(policy_on_port(*table, 81), "gateway-ns/alpha");
  const auto r = resolve(set);
  EXPECT_EQ(ancestor(r, "zeta").reason, "Conflicted");
  EXPECT_NE(std::find_if(table->warnings.begin(), table->warnings.end(),
                         [](const std::string& w) {
                           return w.starts_with(
                               "ClientTrafficPolicy gateway-ns/zeta: Gateway gateway-ns/gw listener "
                               "admin: Conflicted: ");
                         }),
            table->warnings.end());
}

TEST(ClientTrafficPolicy, PolicyThatWouldSplitASharedPortIsConflictedThere) {
  const auto set =
      load(policy("whole", {""}, "{maxHeaders: 50}") + policy("only-http", {"http"}, "{maxHeaders: 10}"));
  // The limits act before the Host header picks http or http-alt: the port keeps the Gateway's policy.
  EXPECT_EQ(policy_on_port(*translate(set), 80), "gateway-ns/whole");
  const auto r = resolve(set);
  const PolicyAncestor& split = ancestor(r, "only-http");
  EXPECT_FALSE(split.accepted);
  EXPECT_EQ(split.reason, "Conflicted");
  EXPECT_NE(split.message.find(
                "listener http shares port 80 of Gateway gateway-ns/gw with listeners http, http-alt"),
            std::string::npos)
      << split.message;
  EXPECT_EQ(ancestor(r, "whole").message, "applies to listeners http, http-alt, admin");

  // Without a Gateway-wide policy the shared port gets the command-line defaults.
  EXPECT_EQ(policy_on_port(*translate(load(policy("only-http", {"http"}, "{maxHeaders: 10}"))), 80), "");
}

TEST(ClientTrafficPolicy, OnePolicyOnEverySectionOfASharedPortApplies) {
  const auto set = load(policy("both", {"http", "http-alt"}, "{maxHeaders: 10}"));
  EXPECT_EQ(policy_on_port(*translate(set), 80), "gateway-ns/both");
  const auto r = resolve(set);
  EXPECT_TRUE(ancestor(r, "both", 0).accepted);
  EXPECT_TRUE(ancestor(r, "both", 1).accepted);
}

TEST(ClientTrafficPolicy, MissingTargetsAreTargetNotFound) {
  const auto r = resolve(load(policy("no-gw", {""}, "{maxHeaders: 10}", "", "nope") +
                              policy("no-section", {"nope"}, "{maxHeaders: 10}")));
  EXPECT_EQ(ancestor(r, "no-gw").reason, "TargetNotFound");
  EXPECT_EQ(ancestor(r, "no-gw").message, "Gateway gateway-ns/nope not found");
  EXPECT_EQ(ancestor(r, "no-section").reason, "TargetNotFound");
  EXPECT_EQ(ancestor(r, "no-section").message, "Gateway gateway-ns/gw has no listener named nope");
}

TEST(ClientTrafficPolicy, InvalidPoliciesApplyNowhere) {
  const auto set = load(policy("line-over-head", {""}, "{maxRequestLineSize: 2Ki, maxHeaderSize: 1Ki}") +
                        policy("on-tcp", {"tcp"}, "{maxHeaders: 10}"));
  EXPECT_EQ(policy_on_port(*translate(set), 80), "");
  const auto r = resolve(set);
  EXPECT_EQ(ancestor(r, "line-over-head").reason, "Invalid");
  EXPECT_EQ(ancestor(r, "line-over-head").message,
            "spec.limits.maxRequestLineSize (2048) is larger than spec.limits.maxHeaderSize (1024), which "
            "includes the request line");
  EXPECT_EQ(ancestor(r, "on-tcp").reason, "Invalid");
  EXPECT_EQ(ancestor(r, "on-tcp").message,
            "listener tcp has protocol TCP; limits apply to HTTP and HTTPS listeners only");
}

TEST(ClientTrafficPolicy, GatewaysOfOtherControllersAreNotAnswered) {
  const auto r = resolve(load(policy("theirs", {""}, "{maxHeaders: 10}", "", "other-gw")));
  ASSERT_TRUE(r.ancestors.count("gateway-ns/theirs"));
  EXPECT_TRUE(r.ancestors.at("gateway-ns/theirs").empty());
}

TEST(ClientTrafficPolicy, StatusListsAncestorsTheGep713Way) {
  const auto set =
      load(policy("whole", {""}, "{maxHeaders: 50}") + policy("only-http", {"http"}, "{maxHeaders: 10}"));
  StatusOptions options;
  options.transition_time = "2025-01-01T00:00:00Z";
  const json status = compute_status(set, options);
  const json* item = nullptr;
  for (const auto& i : status["items"])
    if (i["kind"] == "ClientTrafficPolicy" && i["metadata"]["name"] == "only-http") item = &i;
  ASSERT_NE(item, nullptr) << status.dump(2);
  EXPECT_EQ((*item)["apiVersion"], "mirrorgate.io/v1alpha1");
  const json& ancestors = (*item)["status"]["ancestors"];
  ASSERT_EQ(ancestors.size(), 1u);
  EXPECT_EQ(ancestors[0]["ancestorRef"], (json{{"group", "gateway.networking.k8s.io"},
                                               {"kind", "Gateway"},
                                               {"namespace", "gateway-ns"},
                                               {"name", "gw"},
                                               {"sectionName", "http"}}));
  EXPECT_EQ(ancestors[0]["controllerName"], "mirrorgate.io/gateway-controller");
  const json& accepted = ancestors[0]["conditions"][0];
  EXPECT_EQ(accepted["type"], "Accepted");
  EXPECT_EQ(accepted["status"], "False");
  EXPECT_EQ(accepted["reason"], "Conflicted");
  EXPECT_EQ(accepted["observedGeneration"], 1);
  EXPECT_NE(status_as_yaml(status).find("kind: ClientTrafficPolicy"), std::string::npos);
}

TEST(ClientTrafficSettings, UnsetFieldsFallBackToTheFlags) {
  ClientLimits flags;
  flags.head = {8192, 65536, 100};
  flags.max_request_body = 5000;
  flags.header_timeout = std::chrono::seconds(10);
  flags.idle_timeout = std::chrono::seconds(60);
  ClientTrafficSettings s;
  s.max_headers = 10;
  s.max_request_body = 0;
  s.idle_timeout = std::chrono::seconds(5);
  const ClientLimits got = effective_client_limits(&s, flags);
  EXPECT_EQ(got.head.max_request_line, 8192u);
  EXPECT_EQ(got.head.max_header_bytes, 65536u);
  EXPECT_EQ(got.head.max_headers, 10u);
  EXPECT_EQ(got.max_request_body, 0u);  // the policy lifts the flag's body limit
  EXPECT_EQ(got.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(got.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(effective_client_limits(nullptr, flags).max_request_body, 5000u);
}

}  // namespace
}  // namespace mg::route

namespace mg::route {
namespace {

std::string tls_policy(const std::string& name, const std::string& tls) {
  return "---\napiVersion: mirrorgate.io/v1alpha1\nkind: ClientTrafficPolicy\nmetadata: {name: " + name +
         ", namespace: gateway-ns}\nspec:\n  targetRefs:\n"
         "  - {group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: admin}\n"
         "  tls: " + tls + "\n";
}

TEST(ClientTrafficPolicy, TlsSettingsOpenSslDoesNotKnowAreInvalid) {
  const auto r = resolve(load(tls_policy("bad-cipher", "{ciphers: [ECDHE-RSA-NOPE-SHA256]}") +
                              tls_policy("suite13", "{ciphers: [TLS_AES_128_GCM_SHA256]}") +
                              tls_policy("good", "{minVersion: \"1.3\", ciphers: [ECDHE-RSA-AES128-GCM-SHA256]}")));
  EXPECT_EQ(ancestor(r, "bad-cipher").reason, "Invalid");
  EXPECT_NE(ancestor(r, "bad-cipher").message.find("spec.tls: cipher ECDHE-RSA-NOPE-SHA256"), std::string::npos)
      << ancestor(r, "bad-cipher").message;
  EXPECT_EQ(ancestor(r, "suite13").reason, "Invalid");
  EXPECT_TRUE(ancestor(r, "good").accepted) << ancestor(r, "good").message;
}

TEST(ClientTrafficPolicy, TlsSettingsReachTheListenersTlsContext) {
  // Only the TLS half of the chain is checked here: the policy's options land on every section of its port.
  const auto set = load(tls_policy("tls13", "{minVersion: \"1.3\", alpnProtocols: [http/1.0, http/1.1]}"));
  const auto r = resolve(set);
  ASSERT_TRUE(ancestor(r, "tls13").accepted) << ancestor(r, "tls13").message;
  const auto& settings = r.by_port.at("gateway-ns/gw").at(81);
  ASSERT_TRUE(settings->tls);
  EXPECT_EQ(settings->tls->min_version, "1.3");
  EXPECT_EQ(settings->tls->alpn_protocols, (std::vector<std::string>{"http/1.0", "http/1.1"}));
}

}  // namespace
}  // namespace mg::route
