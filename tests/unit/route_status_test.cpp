// The computed Gateway API status must satisfy the status checks of the conformance suite. The checks
// are read from shared/conformance/cases.json and judged here the way its README ("Status checks")
// and tests/conformance/run_conformance.py judge them, so a new check in the data is covered for free.

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "config/loader.h"
#include "route/certificates.h"
#include "route/gateway_status_options.h"
#include "route/status.h"
#include "route/status_yaml.h"
#include "server/status_command.h"
#include "test_certificate.h"
#include "fixtures.h"

namespace mg::route {
namespace {

using nlohmann::json;

const std::filesystem::path kDir = std::filesystem::path(MG_SOURCE_DIR) / ".." / "shared" / "conformance";
constexpr std::string_view kController = "mirrorgate.io/gateway-controller";
constexpr std::string_view kTime = "2025-01-02T03:04:05Z";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string substituted(std::string text) {
  for (const auto& [from, to] :
       {std::pair<std::string_view, std::string_view>{"{GATEWAY_CLASS_NAME}", "mirrorgate"},
        {"{CONTROLLER_NAME}", kController}}) {
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  }
  return text;
}

// The Secret the Go suite generates at start-up for the HTTPS listeners of the base (suite.json
// programmaticResources): a real certificate, since status checks that it loads.
const std::string kGeneratedSecret = R"(
apiVersion: v1
kind: Secret
metadata: {name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}
type: kubernetes.io/tls
data: {tls.crt: )" + std::string(test::kCertBase64) + ", tls.key: " + std::string(test::kKeyBase64) + "}\n";

config::ObjectSet load_test(const std::string& name) {
  const std::string text = substituted(read_file(kDir / "base" / "manifests.yaml")) + "\n---\n" +
                           substituted(read_file(kDir / "base" / "gatewayclass.yaml")) + "\n---\n" +
                           std::string(kGeneratedSecret) + "\n---\n" +
                           substituted(read_file(kDir / "tests" / (name + ".yaml")));
  config::ObjectSet set = config::load_string(text, name);
  test::give_each_gateway_an_address(set);
  return set;
}

json status_of(const config::ObjectSet& objects) {
  StatusOptions options = gateway_status_options(objects);
  options.transition_time = std::string(kTime);
  return compute_status(objects, options);
}

// --- the checks of the README's "Status checks", on compute_status() output ---

std::pair<std::string, std::string> split_ref(const std::string& ref) {
  const auto slash = ref.find('/');
  return {ref.substr(0, slash), ref.substr(slash + 1)};
}

const json* find_object(const json& status, std::string_view kind, const std::string& ref) {
  const auto [ns, name] = split_ref(ref);
  for (const auto& o : status.at("items"))
    if (o.at("kind") == kind && o.at("metadata").value("namespace", "") == ns &&
        o.at("metadata").at("name") == name)
      return &o;
  return nullptr;
}

const json* find_condition(const json& conditions, const std::string& type) {
  for (const auto& c : conditions)
    if (c.at("type") == type) return &c;
  return nullptr;
}

bool condition_matches(const json& conditions, const json& want) {
  const json* c = find_condition(conditions, want.at("type"));
  return c && c->at("status") == want.at("status") &&
         (want.value("reason", "").empty() || c->at("reason") == want.at("reason"));
}

bool latest(const json& conditions, const json& generation) {
  for (const auto& c : conditions)
    if (c.at("observedGeneration") != generation) return false;
  return true;
}

std::string dump_condition(const json& conditions, const std::string& type) {
  const json* c = find_condition(conditions, type);
  return c ? c->dump() : "none";
}

const json* route_parent(const json& route, const std::string& gw_ref) {
  const auto [ns, name] = split_ref(gw_ref);
  for (const auto& p : route.at("status").at("parents")) {
    const json& r = p.at("parentRef");
    if (r.value("group", "gateway.networking.k8s.io") == "gateway.networking.k8s.io" &&
        r.value("kind", "Gateway") == "Gateway" && r.at("name") == name &&
        r.value("namespace", route.at("metadata").at("namespace").get<std::string>()) == ns)
      return &p;
  }
  return nullptr;
}

// nullopt when the check holds, else why not. `skip` lists Gateways the Go suite leaves out of
// readiness checks (annotation gateway-api/skip-this-for-readiness).
std::optional<std::string> check(const json& st, const json& c, const std::set<std::string>& skip) {
  const std::string kind = c.at("check");
  if (kind == "namespacesReady") {
    for (const auto& o : st.at("items")) {
      if (o.at("kind") != "Gateway") continue;
      const std::string ref = o.at("metadata").at("namespace").get<std::string>() + "/" +
                              o.at("metadata").at("name").get<std::string>();
      const auto& namespaces = c.at("namespaces");
      if (skip.count(ref) ||
          std::find(namespaces.begin(), namespaces.end(), split_ref(ref).first) == namespaces.end())
        continue;
      const json& conds = o.at("status").at("conditions");
      for (const char* t : {"Accepted", "Programmed"})
        if (!condition_matches(conds, {{"type", t}, {"status", "True"}}))
          return "Gateway " + ref + ": " + t + " is " + dump_condition(conds, t);
      if (!latest(conds, o.at("metadata").at("generation"))) return "Gateway " + ref + ": not latest";
    }
    return std::nullopt;
  }
  if (kind == "gatewayAndRoutesAccepted") {
    const json* gw = find_object(st, "Gateway", c.at("gateway"));
    if (!gw) return "Gateway missing";
    if (!gw->at("status").contains("addresses") || gw->at("status").at("addresses").empty())
      return "no address";
    for (const auto& r : c.at("routes")) {
      const json* route = find_object(st, "HTTPRoute", r);
      if (!route) return "HTTPRoute " + r.get<std::string>() + " missing";
      const json* p = route_parent(*route, c.at("gateway"));
      if (!p) return "HTTPRoute " + r.get<std::string>() + ": no parent entry";
      if (p->at("controllerName") != kController) return "wrong controllerName";
      if (!p->at("parentRef").contains("namespace")) return "parentRef without namespace";
      const json& conds = p->at("conditions");
      if (!condition_matches(conds, {{"type", "Accepted"}, {"status", "True"}, {"reason", "Accepted"}}))
        return "HTTPRoute " + r.get<std::string>() + ": Accepted is " + dump_condition(conds, "Accepted");
      if (!latest(conds, route->at("metadata").at("generation"))) return "route conditions not latest";
    }
    const json& listeners = gw->at("status").at("listeners");
    if (listeners.empty()) return "no listeners";
    for (const auto& l : listeners)
      for (const char* t : {"ResolvedRefs", "Accepted", "Programmed"})
        if (!condition_matches(l.at("conditions"), {{"type", t}, {"status", "True"}}))
          return "listener " + l.at("name").get<std::string>() + ": " + t + " is " +
                 dump_condition(l.at("conditions"), t);
    return std::nullopt;
  }
  if (kind == "routeCondition") {
    const json* route = find_object(st, "HTTPRoute", c.at("route"));
    if (!route) return "route missing";
    const json* p = route_parent(*route, c.at("gateway"));
    if (!p) return "no parent entry for " + c.at("gateway").get<std::string>();
    const json& want = c.at("condition");
    if (!condition_matches(p->at("conditions"), want))
      return "expected " + want.dump() + ", got " + dump_condition(p->at("conditions"), want.at("type"));
    if (!latest(p->at("conditions"), route->at("metadata").at("generation"))) return "not latest";
    return std::nullopt;
  }
  if (kind == "routeParents") {
    const json* route = find_object(st, "HTTPRoute", c.at("route"));
    if (!route) return "route missing";
    const json& actual = route->at("status").at("parents");
    for (const auto& want : c.at("parents")) {
      json wref = want.at("parentRef");
      bool ok = false;
      for (const auto& p : actual) {
        if (p.at("controllerName") != substituted(want.at("controllerName"))) continue;
        bool same = true;
        for (const auto& [k, v] : wref.items())
          if (k != "namespace" || c.value("namespaceRequired", false) ||
              p.at("parentRef").contains("namespace"))
            same = same && p.at("parentRef").value(k, json()) == v;
        if (!same) continue;
        bool all = true;
        for (const auto& w : want.value("conditions", json::array()))
          all = all && condition_matches(p.at("conditions"), w);
        ok = ok || all;
      }
      if (!ok) return "no parent like " + want.dump() + " in " + actual.dump();
    }
    return std::nullopt;
  }
  if (kind == "routeHasNoAcceptedParents") {
    const json* route = find_object(st, "HTTPRoute", c.at("route"));
    if (!route) return "route missing";
    const json& parents = route->at("status").at("parents");
    if (parents.empty() ||
        (parents.size() == 1 &&
         condition_matches(parents[0].at("conditions"), {{"type", "Accepted"}, {"status", "False"}})))
      return std::nullopt;
    return "parents " + parents.dump();
  }
  if (kind == "gatewayHasZeroRoutes") {
    const json* gw = find_object(st, "Gateway", c.at("gateway"));
    if (!gw) return "Gateway missing";
    const json& ls = gw->at("status").at("listeners");
    if (ls.empty() || (ls.size() == 1 && ls[0].at("attachedRoutes") == 0)) return std::nullopt;
    return "listeners " + ls.dump();
  }
  if (kind == "gatewayListeners") {
    const json* gw = find_object(st, "Gateway", c.at("gateway"));
    if (!gw) return "Gateway missing";
    std::map<std::string, json> actual;
    for (const auto& l : gw->at("status").at("listeners")) actual[l.at("name")] = l;
    if (actual.size() != c.at("listeners").size()) return "listener count " + std::to_string(actual.size());
    for (const auto& w : c.at("listeners")) {
      const auto it = actual.find(w.at("name"));
      if (it == actual.end()) return "listener " + w.at("name").get<std::string>() + " missing";
      const json& a = it->second;
      for (const auto& k : w.value("supportedKinds", json::array()))
        if (std::find(a.at("supportedKinds").begin(), a.at("supportedKinds").end(), k) ==
            a.at("supportedKinds").end())
          return "listener " + a.at("name").get<std::string>() + " lacks kind " + k.dump();
      if (a.at("attachedRoutes") != w.at("attachedRoutes"))
        return "listener " + a.at("name").get<std::string>() + ": attachedRoutes " +
               a.at("attachedRoutes").dump() + ", expected " + w.at("attachedRoutes").dump();
      for (const auto& cond : w.value("conditions", json::array()))
        if (!condition_matches(a.at("conditions"), cond))
          return "listener " + a.at("name").get<std::string>() + ": expected " + cond.dump() + ", got " +
                 dump_condition(a.at("conditions"), cond.at("type"));
    }
    return std::nullopt;
  }
  return "unknown check " + kind;
}

// A check we know fails, and why. Listed so the gap is visible; when it closes, the test says so.
struct KnownGap {
  std::string test;
  std::string check;
  std::string because;
};
const std::vector<KnownGap> kKnownGaps = {};

// Runs every status check of one test (preconditions, group preconditions, status cases) in order,
// applying `delete` actions to the objects as the harness does.
void expect_conformance_status(const std::string& test_name) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  const json cases = json::parse(read_file(kDir / "cases.json"));
  const auto test =
      std::find_if(cases.begin(), cases.end(), [&](const json& t) { return t.at("name") == test_name; });
  ASSERT_NE(test, cases.end()) << test_name;
  config::ObjectSet objects = load_test(test_name);
  std::set<std::string> skip;
  for (const auto& gw : objects.gateways)
    if (gw.metadata.annotations.count("gateway-api/skip-this-for-readiness"))
      skip.insert(gw.metadata.namespace_ + "/" + gw.metadata.name);
  json st = status_of(objects);

  int checked = 0;
  auto run = [&](const json& c, const std::string& where) {
    SCOPED_TRACE(where + ": " + c.dump());
    const auto failure = check(st, c, skip);
    ++checked;
    const auto gap = std::find_if(kKnownGaps.begin(), kKnownGaps.end(), [&](const KnownGap& g) {
      return g.test == test_name && g.check == c.at("check");
    });
    if (gap != kKnownGaps.end()) {
      EXPECT_TRUE(failure.has_value()) << "known gap closed, remove it from kKnownGaps: " << gap->because;
      return;
    }
    EXPECT_FALSE(failure.has_value()) << *failure;
  };
  for (const auto& c : test->at("preconditions")) run(c, "precondition");
  std::vector<std::string> groups = {""};
  for (const auto& g : test->value("groups", json::array())) groups.push_back(g.at("name"));
  for (const auto& group : groups) {
    for (const auto& g : test->value("groups", json::array()))
      if (g.at("name") == group)
        for (const auto& c : g.at("preconditions")) run(c, "group " + group + " precondition");
    for (const auto& c : test->at("cases")) {
      if (c.value("group", "") != group) continue;
      if (c.at("kind") == "status") run(c, c.at("name"));
      if (c.at("kind") == "action" && c.at("action") == "delete" &&
          c.at("object").at("kind") == "ReferenceGrant") {
        const auto& o = c.at("object");
        std::erase_if(objects.reference_grants, [&](const auto& g) {
          return g.metadata.namespace_ == o.at("namespace") && g.metadata.name == o.at("name");
        });
        st = status_of(objects);
      }
    }
  }
  EXPECT_GT(checked, 0) << "no status checks found for " << test_name;
}

TEST(RouteStatusConformance, HTTPRouteInvalidCrossNamespaceParentRef) {
  expect_conformance_status("HTTPRouteInvalidCrossNamespaceParentRef");
}
TEST(RouteStatusConformance, HTTPRouteInvalidParentRefNotMatchingSectionName) {
  expect_conformance_status("HTTPRouteInvalidParentRefNotMatchingSectionName");
}
TEST(RouteStatusConformance, HTTPRouteInvalidNonExistentBackendRef) {
  expect_conformance_status("HTTPRouteInvalidNonExistentBackendRef");
}
TEST(RouteStatusConformance, HTTPRouteInvalidBackendRefUnknownKind) {
  expect_conformance_status("HTTPRouteInvalidBackendRefUnknownKind");
}
TEST(RouteStatusConformance, HTTPRouteInvalidCrossNamespaceBackendRef) {
  expect_conformance_status("HTTPRouteInvalidCrossNamespaceBackendRef");
}
TEST(RouteStatusConformance, HTTPRouteHostnameIntersection) {
  expect_conformance_status("HTTPRouteHostnameIntersection");
}
TEST(RouteStatusConformance, GatewayWithAttachedRoutes) {
  expect_conformance_status("GatewayWithAttachedRoutes");
}
TEST(RouteStatusConformance, HTTPRouteReferenceGrant) {
  expect_conformance_status("HTTPRouteReferenceGrant");
}

// --- behaviour not covered by the suite's checks ---

const json& parent_conditions(const json& st, const std::string& route, const std::string& gw) {
  const json* r = find_object(st, "HTTPRoute", route);
  EXPECT_NE(r, nullptr) << route;
  const json* p = route_parent(*r, gw);
  EXPECT_NE(p, nullptr) << route << " -> " << gw;
  return p->at("conditions");
}

const json& listener(const json& st, const std::string& gw, const std::string& name) {
  const json* g = find_object(st, "Gateway", gw);
  EXPECT_NE(g, nullptr) << gw;
  for (const auto& l : g->at("status").at("listeners"))
    if (l.at("name") == name) return l;
  ADD_FAILURE() << "no listener " << name;
  static const json kEmpty = json::object();
  return kEmpty;
}

TEST(RouteStatus, DeletingTheReferenceGrantMakesTheBackendRefNotPermitted) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  config::ObjectSet objects = load_test("HTTPRouteReferenceGrant");
  const std::string route = "gateway-conformance-infra/reference-grant",
                    gw = "gateway-conformance-infra/same-namespace";
  EXPECT_TRUE(condition_matches(parent_conditions(status_of(objects), route, gw),
                                {{"type", "ResolvedRefs"}, {"status", "True"}, {"reason", "ResolvedRefs"}}));
  objects.reference_grants.clear();
  const json st = status_of(objects);
  EXPECT_TRUE(
      condition_matches(parent_conditions(st, route, gw),
                        {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", "RefNotPermitted"}}));
  // An unresolved backend does not detach the route (the data plane answers 500 for it).
  EXPECT_TRUE(
      condition_matches(parent_conditions(st, route, gw), {{"type", "Accepted"}, {"status", "True"}}));
  EXPECT_EQ(listener(st, gw, "http").at("attachedRoutes"), 1);
}

TEST(RouteStatus, HttpsListenerWithValidSecretIsProgrammed) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  config::ObjectSet objects = load_test("HTTPRouteSimpleSameNamespace");
  json st = status_of(objects);
  const std::string gw = "gateway-conformance-infra/same-namespace-with-https-listener";
  const json& l = listener(st, gw, "https");
  EXPECT_TRUE(condition_matches(l.at("conditions"), {{"type", "ResolvedRefs"}, {"status", "True"}}));
  EXPECT_TRUE(condition_matches(l.at("conditions"), {{"type", "Programmed"}, {"status", "True"}}));
  EXPECT_TRUE(condition_matches(l.at("conditions"), {{"type", "Accepted"}, {"status", "True"}}));
  const json& conds = find_object(st, "Gateway", gw)->at("status").at("conditions");
  EXPECT_TRUE(condition_matches(conds, {{"type", "Programmed"}, {"status", "True"}}));
  // The plain HTTP Gateways next to it are served.
  const json& same = find_object(st, "Gateway", "gateway-conformance-infra/same-namespace")->at("status");
  EXPECT_TRUE(condition_matches(same.at("conditions"), {{"type", "Programmed"}, {"status", "True"}}));
  EXPECT_TRUE(condition_matches(same.at("conditions"),
                                {{"type", "Accepted"}, {"status", "True"}, {"reason", "Accepted"}}));
  // The address it binds: the one spec.addresses gives (test::give_each_gateway_an_address).
  const auto gw_same = std::find_if(objects.gateways.begin(), objects.gateways.end(),
                                    [](const auto& g) { return g.metadata.name == "same-namespace"; });
  ASSERT_NE(gw_same, objects.gateways.end());
  EXPECT_EQ(same.at("addresses"), json::array({{{"type", "IPAddress"}, {"value", gw_same->addresses[0].value}}}));
}

TEST(RouteStatus, HttpsListenerWithBrokenCertificateIsNotProgrammed) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  config::ObjectSet objects = load_test("HTTPRouteSimpleSameNamespace");
  for (auto& secret : objects.secrets) secret.data["tls.crt"] = "Y2VydA==";  // "cert": not PEM
  const json st = status_of(objects);
  const std::string gw = "gateway-conformance-infra/same-namespace-with-https-listener";
  const json& l = listener(st, gw, "https");
  EXPECT_TRUE(condition_matches(l.at("conditions"),
                                {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", "InvalidCertificateRef"}}));
  EXPECT_TRUE(condition_matches(l.at("conditions"), {{"type", "Programmed"}, {"status", "False"}}));
  const json& conds = find_object(st, "Gateway", gw)->at("status").at("conditions");
  EXPECT_TRUE(condition_matches(conds, {{"type", "Programmed"}, {"status", "False"}, {"reason", "Invalid"}}));
}

TEST(RouteStatus, HttpsPassthroughIsUnsupported) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  config::ObjectSet objects = load_test("HTTPRouteSimpleSameNamespace");
  for (auto& g : objects.gateways)
    for (auto& l : g.listeners)
      if (l.tls) l.tls->mode = "Passthrough";
  const json st = status_of(objects);
  const json& l = listener(st, "gateway-conformance-infra/same-namespace-with-https-listener", "https");
  EXPECT_TRUE(condition_matches(
      l.at("conditions"), {{"type", "Accepted"}, {"status", "False"}, {"reason", "UnsupportedProtocol"}}));
  EXPECT_TRUE(condition_matches(l.at("conditions"), {{"type", "Programmed"}, {"status", "False"}}));
}

const std::string kSmall = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: ns}
spec:
  gatewayClassName: other
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns, generation: 3}
spec:
  gatewayClassName: mg
  addresses: [{value: 127.0.0.5}]
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: GRPCRoute}]}}
  - {name: tcp, port: 9000, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns, generation: 7}
spec:
  parentRefs: [{name: gw}, {name: theirs}]
  rules:
  - backendRefs: [{name: svc, port: 80}, {name: svc, port: 81}]
)";

TEST(RouteStatus, ListsOnlyOurClassesAndGateways) {
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  options.supported_features = {"HTTPRoute", "Gateway"};
  const json st = compute_status(config::load_string(kSmall, "small"), options);
  std::vector<std::string> kinds_names;
  for (const auto& o : st.at("items"))
    kinds_names.push_back(o.at("kind").get<std::string>() + " " +
                          o.at("metadata").at("name").get<std::string>());
  EXPECT_EQ(kinds_names, (std::vector<std::string>{"GatewayClass mg", "Gateway gw", "HTTPRoute r"}));
  const json& gc = st.at("items")[0];
  EXPECT_FALSE(gc.at("metadata").contains("namespace"));
  EXPECT_EQ(gc.at("status").at("supportedFeatures"),
            json::parse(R"([{"name":"Gateway"},{"name":"HTTPRoute"}])"));
  // The route has one parent: the Gateway of another controller is not ours to answer for.
  EXPECT_EQ(find_object(st, "HTTPRoute", "ns/r")->at("status").at("parents").size(), 1u);
}

TEST(RouteStatus, UnsupportedRouteKindsAndProtocolsAreReported) {
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  const json st = compute_status(config::load_string(kSmall, "small"), options);
  const json& http = listener(st, "ns/gw", "http");
  EXPECT_EQ(http.at("supportedKinds"),
            json::parse(R"([{"group":"gateway.networking.k8s.io","kind":"HTTPRoute"}])"));
  EXPECT_TRUE(
      condition_matches(http.at("conditions"),
                        {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", "InvalidRouteKinds"}}));
  EXPECT_TRUE(condition_matches(http.at("conditions"), {{"type", "Programmed"}, {"status", "True"}}));
  EXPECT_EQ(http.at("attachedRoutes"), 1);
  const json& tcp = listener(st, "ns/gw", "tcp");
  EXPECT_TRUE(tcp.at("supportedKinds").empty());
  EXPECT_TRUE(condition_matches(
      tcp.at("conditions"), {{"type", "Accepted"}, {"status", "False"}, {"reason", "UnsupportedProtocol"}}));
  EXPECT_EQ(tcp.at("attachedRoutes"), 0);
  // One listener is not valid: the Gateway is still accepted, and says why not fully.
  const json& gw = find_object(st, "Gateway", "ns/gw")->at("status");
  EXPECT_TRUE(condition_matches(gw.at("conditions"),
                                {{"type", "Accepted"}, {"status", "True"}, {"reason", "ListenersNotValid"}}));
  EXPECT_TRUE(condition_matches(gw.at("conditions"), {{"type", "Programmed"}, {"status", "True"}}));
}

// Upstream GatewayListenerUnsupportedProtocol: some listeners accepted keeps the Gateway Accepted, none does not.
TEST(RouteStatus, GatewayWithNoAcceptedListenerIsNotAccepted) {
  std::string only_tcp = kSmall;
  const std::string http_listener =
      "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: GRPCRoute}]}}\n";
  const auto at = only_tcp.find(http_listener);
  ASSERT_NE(at, std::string::npos);
  only_tcp.erase(at, http_listener.size());
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  const json st = compute_status(config::load_string(only_tcp, "only-tcp"), options);
  const json& gw = find_object(st, "Gateway", "ns/gw")->at("status");
  EXPECT_TRUE(condition_matches(gw.at("conditions"),
                                {{"type", "Accepted"}, {"status", "False"}, {"reason", "ListenersNotValid"}}));
  EXPECT_TRUE(condition_matches(gw.at("conditions"), {{"type", "Programmed"}, {"status", "False"}}));
  EXPECT_TRUE(condition_matches(listener(st, "ns/gw", "tcp").at("conditions"),
                                {{"type", "Accepted"}, {"status", "False"}, {"reason", "UnsupportedProtocol"}}));
}

// Gateway API: listeners that are not distinct are Conflicted, and none of them is served ("no picking one
// of the conflicting listeners as the winner"). HTTPS and TLS listeners may share a port by hostname, and
// UDP clashes with no TCP protocol.
TEST(RouteStatus, ConflictedListenersAreNotServedAndTheOthersAre) {
  const std::string yaml =
      std::string(test::kGatewayClass) + "---\n" +
      test::dated_gateway_yaml(
          "gw", "2026-01-01T00:00:00Z",
          "[{name: plain, port: 80, protocol: HTTP},\n"
          "    {name: mixed-http, port: 8081, protocol: HTTP, hostname: a.example.com},\n"
          "    {name: mixed-https, port: 8081, protocol: HTTPS, hostname: b.example.com,\n"
          "     tls: {certificateRefs: [{name: c}]}},\n"
          "    {name: same-a, port: 8082, protocol: HTTP, hostname: x.example.com},\n"
          "    {name: same-b, port: 8082, protocol: HTTP, hostname: x.example.com},\n"
          "    {name: other, port: 8082, protocol: HTTP, hostname: y.example.com},\n"
          "    {name: tls-pass, port: 8443, protocol: TLS, hostname: p.example.com, tls: {mode: Passthrough}},\n"
          "    {name: tcp, port: 9000, protocol: TCP}, {name: udp, port: 9000, protocol: UDP}]",
          "  addresses: [{type: IPAddress, value: 127.0.0.5}]\n");
  const config::ObjectSet objects = config::load_string(yaml, "conflicts.yaml");
  StatusOptions options;
  options.gateway_addresses["default/gw"] = "127.0.0.5";
  const json st = compute_status(objects, options);
  auto conds = [&](const std::string& name) { return listener(st, "default/gw", name).at("conditions"); };
  auto has = [&](const std::string& name, const std::string& type, const std::string& status,
                 const std::string& reason = "") {
    json want = {{"type", type}, {"status", status}};
    if (!reason.empty()) want["reason"] = reason;
    return condition_matches(conds(name), want);
  };
  for (const std::string name : {"mixed-http", "mixed-https"}) {
    EXPECT_TRUE(has(name, "Conflicted", "True", "ProtocolConflict")) << dump_condition(conds(name), "Conflicted");
    EXPECT_TRUE(has(name, "Accepted", "False", "ProtocolConflict")) << name;
    EXPECT_TRUE(has(name, "Programmed", "False")) << name;
  }
  for (const std::string name : {"same-a", "same-b"}) {
    EXPECT_TRUE(has(name, "Conflicted", "True", "HostnameConflict")) << name;
    EXPECT_TRUE(has(name, "Programmed", "False")) << name;
  }
  for (const std::string name : {"plain", "other", "tls-pass", "tcp", "udp"})
    EXPECT_TRUE(has(name, "Conflicted", "False", "NoConflicts")) << dump_condition(conds(name), "Conflicted");
  EXPECT_TRUE(has("other", "Programmed", "True"));
  const json& gw = find_object(st, "Gateway", "default/gw")->at("status");
  EXPECT_TRUE(condition_matches(gw.at("conditions"),
                                {{"type", "Accepted"}, {"status", "True"}, {"reason", "ListenersNotValid"}}));

  // The data plane agrees: port 8081 is not bound at all, port 8082 serves only the listener in no conflict.
  const auto table = translate(objects);
  std::map<uint16_t, std::vector<std::string>> sections;
  for (const auto& l : table->listeners) sections[l.port] = l.section_names;
  EXPECT_EQ(sections.count(8081), 0u);
  EXPECT_EQ(sections[80], std::vector<std::string>{"plain"});
  EXPECT_EQ(sections[8082], std::vector<std::string>{"other"});
}

TEST(RouteStatus, ConditionsCarryGenerationTimeAndAMessage) {
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  options.transition_time = std::string(kTime);
  const json st = compute_status(config::load_string(kSmall, "small"), options);
  const json& conds = parent_conditions(st, "ns/r", "ns/gw");
  for (const auto& c : conds) {
    EXPECT_EQ(c.at("observedGeneration"), 7);
    EXPECT_EQ(c.at("lastTransitionTime"), kTime);
    EXPECT_FALSE(c.at("message").get<std::string>().empty());
  }
  // A Service port that does not exist is a missing backend; the message names it.
  const json* rr = find_condition(conds, "ResolvedRefs");
  ASSERT_NE(rr, nullptr);
  EXPECT_EQ(rr->at("reason"), "BackendNotFound");
  EXPECT_NE(rr->at("message").get<std::string>().find("has no port 81"), std::string::npos);
  for (const auto& c : find_object(st, "Gateway", "ns/gw")->at("status").at("conditions"))
    EXPECT_EQ(c.at("observedGeneration"), 3);
  // The parentRef is as written with the defaults filled in, namespace included.
  const json& ref = find_object(st, "HTTPRoute", "ns/r")->at("status").at("parents")[0].at("parentRef");
  EXPECT_EQ(
      ref,
      json::parse(R"({"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gw","namespace":"ns"})"));
}

TEST(RouteStatus, RouteProblemsRejectTheRouteAndDetachIt) {
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  options.route_problems["ns/r"] = "filter X is not supported";
  const json st = compute_status(config::load_string(kSmall, "small"), options);
  EXPECT_TRUE(condition_matches(parent_conditions(st, "ns/r", "ns/gw"),
                                {{"type", "Accepted"}, {"status", "False"}, {"reason", "UnsupportedValue"}}));
  EXPECT_EQ(listener(st, "ns/gw", "http").at("attachedRoutes"), 0);
}

TEST(RouteStatus, GatewayWithoutAddressIsNotProgrammed) {
  const json st = compute_status(config::load_string(kSmall, "small"), StatusOptions{});
  const json& gw = find_object(st, "Gateway", "ns/gw")->at("status");
  EXPECT_FALSE(gw.contains("addresses"));
  EXPECT_TRUE(condition_matches(
      gw.at("conditions"), {{"type", "Programmed"}, {"status", "False"}, {"reason", "AddressNotAssigned"}}));
}

TEST(RouteStatus, YamlKeepsConditionStatusesAsStrings) {
  StatusOptions options;
  options.gateway_addresses["ns/gw"] = "127.0.0.5";
  options.transition_time = std::string(kTime);
  const json st = compute_status(config::load_string(kSmall, "small"), options);
  const std::string text = status_as_yaml(st);
  const auto docs = YAML::LoadAll(text);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "Gateway");
  const YAML::Node cond = docs[1]["status"]["conditions"][0];
  EXPECT_EQ(cond["status"].Tag(), "!");  // quoted, so a YAML 1.1 reader does not make it a boolean
  EXPECT_EQ(cond["status"].as<std::string>(), "True");
  EXPECT_EQ(docs[1]["status"]["listeners"][0]["attachedRoutes"].as<int>(), 1);
  EXPECT_NE(text.find("---\n"), std::string::npos);
}

// The upstream GatewayInvalidFrontendClientCertificateValidation and
// GatewayFrontendClientCertificateValidationInsecureFallback cases: a listener whose client certificate
// validation has no usable CA is neither Accepted nor Programmed, and its neighbours are unaffected.
std::string client_validation_gateway(std::string_view name, std::string_view frontend) {
  std::string ca;
  for (std::string_view rest = test::kCertPem; !rest.empty();) {
    const auto nl = rest.find('\n');
    ca += "      " + std::string(rest.substr(0, nl)) + "\n";
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  return substituted(read_file(kDir / "base" / "manifests.yaml")) + "\n---\n" +
         substituted(read_file(kDir / "base" / "gatewayclass.yaml")) + "\n---\n" + kGeneratedSecret +
         "\n---\napiVersion: v1\nkind: ConfigMap\n"
         "metadata: {name: good-ca, namespace: gateway-conformance-infra}\ndata:\n  ca.crt: |\n" + ca +
         "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
         "metadata: {name: " + std::string(name) + ", namespace: gateway-conformance-infra}\n"
         "spec:\n  gatewayClassName: mirrorgate\n  tls:\n    frontend:\n" + std::string(frontend) +
         "  listeners:\n"
         "  - {name: http, port: 80, protocol: HTTP}\n"
         "  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}}\n"
         "  - {name: https-unresolved, port: 7443, hostname: a.example.org, protocol: HTTPS,"
         " tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}}\n"
         "  - {name: https-invalid-kind, port: 8443, hostname: b.example.org, protocol: HTTPS,"
         " tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}}\n"
         "  - {name: https-grant-missing, port: 6443, hostname: c.example.org, protocol: HTTPS,"
         " tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}}\n";
}

json client_validation_status(std::string_view name, std::string_view frontend) {
  config::ObjectSet set = config::load_string(client_validation_gateway(name, frontend), std::string(name));
  test::give_each_gateway_an_address(set);
  return status_of(set);
}

TEST(RouteStatus, ListenersWithoutAUsableClientCaAreNotAccepted) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  const json st = client_validation_status("invalid-ca", R"(      default:
        validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: good-ca}]}
      perPort:
      - {port: 7443, tls: {validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: no-such-cm}]}}}
      - {port: 8443, tls: {validation: {caCertificateRefs: [{kind: Service, group: "", name: infra-backend-v2}]}}}
      - port: 6443
        tls: {validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: good-ca, namespace: gateway-conformance-web-backend}]}}
)");
  const std::string gw = "gateway-conformance-infra/invalid-ca";
  for (const std::string name : {"http", "https"}) {
    const json& conds = listener(st, gw, name).at("conditions");
    for (const std::string type : {"ResolvedRefs", "Accepted", "Programmed"})
      EXPECT_TRUE(condition_matches(conds, {{"type", type}, {"status", "True"}})) << name << " " << type;
  }
  for (const auto& [name, reason] : {std::pair<std::string, std::string>{"https-unresolved", "InvalidCACertificateRef"},
                                     {"https-invalid-kind", "InvalidCACertificateKind"},
                                     {"https-grant-missing", "RefNotPermitted"}}) {
    const json& conds = listener(st, gw, name).at("conditions");
    EXPECT_TRUE(condition_matches(conds, {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", reason}}))
        << name << ": " << dump_condition(conds, "ResolvedRefs");
    EXPECT_TRUE(condition_matches(conds, {{"type", "Accepted"}, {"status", "False"}, {"reason", "NoValidCACertificate"}}))
        << name << ": " << dump_condition(conds, "Accepted");
    EXPECT_TRUE(condition_matches(conds, {{"type", "Programmed"}, {"status", "False"}})) << name;
  }
  const json& conds = find_object(st, "Gateway", gw)->at("status").at("conditions");
  EXPECT_EQ(find_condition(conds, "InsecureFrontendValidationMode"), nullptr);
}

// The API takes a listener out only when all of its caCertificateRefs are invalid: with one good and one
// bad, it says which is bad (ResolvedRefs) and serves with the good one.
TEST(RouteStatus, AListenerWithSomeUsableClientCasServesWithThem) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  constexpr std::string_view frontend = R"(      perPort:
      - port: 7443
        tls:
          validation:
            caCertificateRefs: [{kind: ConfigMap, group: "", name: no-such-cm}, {kind: ConfigMap, group: "", name: good-ca}]
)";
  const json st = client_validation_status("some-ca", frontend);
  const std::string gw = "gateway-conformance-infra/some-ca";
  const json& conds = listener(st, gw, "https-unresolved").at("conditions");
  EXPECT_TRUE(condition_matches(conds, {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", "InvalidCACertificateRef"}}))
      << dump_condition(conds, "ResolvedRefs");
  EXPECT_NE(find_condition(conds, "ResolvedRefs")->at("message").get<std::string>().find("no-such-cm"), std::string::npos);
  EXPECT_TRUE(condition_matches(conds, {{"type", "Accepted"}, {"status", "True"}})) << dump_condition(conds, "Accepted");
  EXPECT_TRUE(condition_matches(conds, {{"type", "Programmed"}, {"status", "True"}})) << dump_condition(conds, "Programmed");

  config::ObjectSet set = config::load_string(client_validation_gateway("some-ca", frontend), "some-ca");
  const config::Gateway& gateway = *std::find_if(set.gateways.begin(), set.gateways.end(),
                                                 [](const config::Gateway& g) { return g.metadata.name == "some-ca"; });
  const config::Listener& l = *std::find_if(gateway.listeners.begin(), gateway.listeners.end(),
                                            [](const config::Listener& x) { return x.name == "https-unresolved"; });
  const route::ListenerCertificate served = route::resolve_listener_certificate(set, gateway, l);
  ASSERT_TRUE(served.certificate.has_value());
  EXPECT_FALSE(served.no_valid_ca_certificate);
  EXPECT_TRUE(served.certificate->client_ca_pem.starts_with("-----BEGIN CERTIFICATE"))
      << served.certificate->client_ca_pem;  // good-ca's
}

TEST(RouteStatus, InvalidDefaultClientValidationAffectsOnlyHttpsListeners) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  const json st = client_validation_status("invalid-default", R"(      default:
        validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: does-not-exist}]}
      perPort:
      - {port: 80, tls: {validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: good-ca}]}}}
)");
  const std::string gw = "gateway-conformance-infra/invalid-default";
  EXPECT_TRUE(condition_matches(listener(st, gw, "http").at("conditions"), {{"type", "Accepted"}, {"status", "True"}}));
  EXPECT_TRUE(condition_matches(listener(st, gw, "http").at("conditions"), {{"type", "Programmed"}, {"status", "True"}}));
  const json& conds = listener(st, gw, "https").at("conditions");
  EXPECT_TRUE(condition_matches(conds, {{"type", "ResolvedRefs"}, {"status", "False"}, {"reason", "InvalidCACertificateRef"}}));
  EXPECT_TRUE(condition_matches(conds, {{"type", "Accepted"}, {"status", "False"}, {"reason", "NoValidCACertificate"}}));
  EXPECT_TRUE(condition_matches(conds, {{"type", "Programmed"}, {"status", "False"}}));
}

TEST(RouteStatus, InsecureFallbackIsFlaggedOnTheGateway) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  for (const std::string_view frontend :
       {R"(      default:
        validation: {mode: AllowInsecureFallback, caCertificateRefs: [{kind: ConfigMap, group: "", name: good-ca}]}
)",
        R"(      perPort:
      - {port: 8443, tls: {validation: {mode: AllowInsecureFallback, caCertificateRefs: [{kind: ConfigMap, group: "", name: good-ca}]}}}
)"}) {
    const json st = client_validation_status("fallback", frontend);
    const json& conds = find_object(st, "Gateway", "gateway-conformance-infra/fallback")->at("status").at("conditions");
    EXPECT_TRUE(condition_matches(
        conds, {{"type", "InsecureFrontendValidationMode"}, {"status", "True"}, {"reason", "ConfigurationChanged"}}))
        << frontend;
    EXPECT_TRUE(condition_matches(conds, {{"type", "Accepted"}, {"status", "True"}})) << frontend;
  }
}

// The listener's own tls.frontendValidation (the field before Gateway API v1.5) flags the Gateway too.
TEST(RouteStatus, InsecureFallbackOnAListenerIsFlaggedOnTheGateway) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  std::string yaml = client_validation_gateway("listener-fallback", "");
  const std::string plain = "tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}}\n";
  const size_t https = yaml.find("- {name: https, port: 443");
  ASSERT_NE(https, std::string::npos);
  const size_t tls = yaml.find(plain, https);
  ASSERT_NE(tls, std::string::npos);
  yaml.replace(tls, plain.size(),
               "tls: {certificateRefs: [{name: tls-validity-checks-certificate}], frontendValidation: "
               "{mode: AllowInsecureFallback, caCertificateRefs: [{kind: ConfigMap, group: \"\", name: good-ca}]}}}\n");
  // No spec.tls.frontend at all: drop the empty `frontend:` key the helper wrote.
  const std::string frontend = "  tls:\n    frontend:\n";
  ASSERT_NE(yaml.find(frontend), std::string::npos);
  yaml.erase(yaml.find(frontend), frontend.size());
  config::ObjectSet set = config::load_string(yaml, "listener-fallback");
  test::give_each_gateway_an_address(set);
  const json st = status_of(set);
  const std::string gw = "gateway-conformance-infra/listener-fallback";
  const json& conds = find_object(st, "Gateway", gw)->at("status").at("conditions");
  EXPECT_TRUE(condition_matches(conds, {{"type", "InsecureFrontendValidationMode"}, {"status", "True"}}))
      << dump_condition(conds, "InsecureFrontendValidationMode");
  EXPECT_TRUE(condition_matches(listener(st, gw, "https").at("conditions"), {{"type", "Accepted"}, {"status", "True"}}));
}

TEST(RouteStatus, StatusCommandPrintsYamlOrTheConfigError) {
  const auto dir = std::filesystem::temp_directory_path() / ("mg_status_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "good.yaml") << kSmall;
    std::ofstream(dir / "bad.yaml") << "apiVersion: v1\nkind: Gatway\nmetadata: {name: x}\n";
  }
  std::ostringstream out, err;
  EXPECT_EQ(server::run_status_command((dir / "good.yaml").string(), out, err), 0);
  EXPECT_NE(out.str().find("kind: HTTPRoute"), std::string::npos);
  EXPECT_NE(out.str().find("value: 127.0.0.5"), std::string::npos);
  // Only translation warnings go to err for a config that loads (kSmall's Service has no endpoints).
  std::istringstream warnings(err.str());
  for (std::string line; std::getline(warnings, line);) EXPECT_TRUE(line.starts_with("warning: ")) << line;
  EXPECT_NE(err.str().find("has no ready endpoints"), std::string::npos) << err.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(server::run_status_command((dir / "bad.yaml").string(), out2, err2), 1);
  EXPECT_TRUE(out2.str().empty());
  EXPECT_NE(err2.str().find("bad.yaml"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mg::route
