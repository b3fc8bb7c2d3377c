// TLSRoute on TLS Passthrough listeners, through the translator and status: attachment by kind,
// namespace and hostname intersection, the SNI routes the data plane picks from (exact, then the
// longest wildcard), backend references, and the listener cases the Gateway API's TLS tests check:
// an HTTPRoute on a TLSRoute-only listener (HTTPRouteDisallowedKind), a TLS listener in Terminate mode,
// terminated and passed-through TLS on one port.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "config/loader.h"
#include "fixtures.h"
#include "route/status.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using nlohmann::json;

constexpr std::string_view kServices = R"(---
apiVersion: v1
kind: Service
metadata: {name: tls-a, namespace: default}
spec: {ports: [{port: 443, targetPort: 8443}]}
---
apiVersion: v1
kind: Service
metadata: {name: tls-b, namespace: default}
spec: {ports: [{port: 443, targetPort: 8443}]}
---
apiVersion: v1
kind: Service
metadata: {name: other-ns, namespace: backends}
spec: {ports: [{port: 443, targetPort: 8443}]}
)";

std::string tls_route(std::string_view name, std::string_view hostnames, std::string_view backends,
                      std::string_view parent = "{name: gw}") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: " + std::string(name) +
         ", namespace: default}\nspec:\n  parentRefs: [" + std::string(parent) + "]\n  hostnames: " +
         std::string(hostnames) + "\n  rules: [{backendRefs: " + std::string(backends) + "}]\n";
}

std::string manifests(std::string_view listeners, std::string_view more) {
  return std::string(test::kGatewayClass) + "---\n" +
         test::dated_gateway_yaml("gw", "2026-01-01T00:00:00Z", listeners,
                                  "  addresses: [{type: IPAddress, value: 127.0.0.5}]\n") +
         std::string(kServices) + std::string(more);
}

const json& object(const json& status, std::string_view kind, std::string_view name) {
  for (const auto& o : status.at("items"))
    if (o.at("kind") == kind && o.at("metadata").at("name") == name) return o;
  ADD_FAILURE() << kind << " " << name << " has no status";
  static const json none = json::object();
  return none;
}

// The condition of `type` in a list, or an empty object.
json condition(const json& conditions, std::string_view type) {
  for (const auto& c : conditions)
    if (c.at("type") == type) return c;
  return json::object();
}

json route_condition(const json& status, std::string_view kind, std::string_view name, std::string_view type) {
  const json& parents = object(status, kind, name).at("status").at("parents");
  return parents.empty() ? json::object() : condition(parents.at(0).at("conditions"), type);
}

const json& listener(const json& status, std::string_view name) {
  for (const auto& l : object(status, "Gateway", "gw").at("status").at("listeners"))
    if (l.at("name") == name) return l;
  ADD_FAILURE() << "no listener " << name;
  static const json none = json::object();
  return none;
}

json status_of(const std::string& yaml) {
  StatusOptions options;
  options.gateway_addresses["default/gw"] = "127.0.0.5";
  return compute_status(config::load_string(yaml, "tls.yaml"), options);
}

TEST(TlsRoute, AttachesToAPassthroughListenerAndRoutesBySni) {
  const std::string yaml = manifests(
      "[{name: tls, port: 8443, protocol: TLS, hostname: \"*.example.com\", tls: {mode: Passthrough}}]",
      tls_route("exact", "[a.example.com, elsewhere.org]", "[{name: tls-a, port: 443}]") +
          tls_route("wild", "[\"*.example.com\"]", "[{name: tls-b, port: 443, weight: 3}]"));
  const json st = status_of(yaml);
  for (const char* name : {"exact", "wild"}) {
    EXPECT_EQ(route_condition(st, "TLSRoute", name, "Accepted").value("status", ""), "True") << name;
    EXPECT_EQ(route_condition(st, "TLSRoute", name, "ResolvedRefs").value("status", ""), "True") << name;
  }
  const json& l = listener(st, "tls");
  EXPECT_EQ(l.at("attachedRoutes"), 2);
  EXPECT_EQ(l.at("supportedKinds"), json::parse(R"([{"group":"gateway.networking.k8s.io","kind":"TLSRoute"}])"));
  EXPECT_EQ(condition(l.at("conditions"), "Programmed").value("status", ""), "True");

  const auto table = translate(config::load_string(yaml, "tls.yaml"));
  ASSERT_EQ(table->listeners.size(), 1u);
  const Listener& out = table->listeners[0];
  EXPECT_TRUE(out.passthrough);
  EXPECT_EQ(out.port, 8443);
  EXPECT_TRUE(out.rules.empty());
  const SniRoute* a = out.route_sni("A.Example.com");  // SNI is matched without case
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->route, "default/exact");
  ASSERT_EQ(a->backends.size(), 1u);
  EXPECT_EQ(table->clusters.at(static_cast<size_t>(a->backends[0].cluster)).service, "tls-a");
  const SniRoute* deep = out.route_sni("x.y.example.com");
  ASSERT_NE(deep, nullptr);
  EXPECT_EQ(deep->route, "default/wild");
  EXPECT_EQ(deep->total_weight, 3u);
  EXPECT_EQ(out.route_sni("elsewhere.org"), nullptr);  // outside the listener's hostname
  EXPECT_EQ(out.route_sni("example.com"), nullptr);    // a wildcard does not cover the bare domain
  EXPECT_EQ(out.route_sni(""), nullptr);               // no SNI, and no route without hostname
}

TEST(TlsRoute, AnHttpRouteOnATlsRouteOnlyListenerIsNotAllowed) {
  // The Gateway API's HTTPRouteDisallowedKind.
  const std::string yaml =
      manifests("[{name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough},\n"
                "     allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}}]",
                "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: disallowed-kind, "
                "namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: tls-a, "
                "port: 443}]}]\n");
  const json st = status_of(yaml);
  const json accepted = route_condition(st, "HTTPRoute", "disallowed-kind", "Accepted");
  EXPECT_EQ(accepted.value("status", ""), "False");
  EXPECT_EQ(accepted.value("reason", ""), "NotAllowedByListeners");
  EXPECT_EQ(route_condition(st, "HTTPRoute", "disallowed-kind", "ResolvedRefs").value("status", ""), "True");
  EXPECT_EQ(listener(st, "tls").at("attachedRoutes"), 0);
  EXPECT_EQ(condition(listener(st, "tls").at("conditions"), "Accepted").value("status", ""), "True");
}

TEST(TlsRoute, TerminateModeOnATlsListenerIsUnsupportedAndMixedModesOnAPortConflict) {
  const std::string yaml = manifests(
      "[{name: tls-terminate, port: 9443, protocol: TLS, hostname: t.example.com, tls: {mode: Terminate, "
      "certificateRefs: [{name: c}]}},\n"
      "    {name: https, port: 8443, protocol: HTTPS, hostname: h.example.com, tls: {certificateRefs: [{name: c}]}},\n"
      "    {name: pass, port: 8443, protocol: TLS, hostname: p.example.com, tls: {mode: Passthrough}}]",
      "");
  const json st = status_of(yaml);
  const json terminate = condition(listener(st, "tls-terminate").at("conditions"), "Accepted");
  EXPECT_EQ(terminate.value("status", ""), "False");
  EXPECT_EQ(terminate.value("reason", ""), "UnsupportedValue");
  for (const char* name : {"https", "pass"}) {
    const json accepted = condition(listener(st, name).at("conditions"), "Accepted");
    EXPECT_EQ(accepted.value("reason", ""), "ProtocolConflict") << name;
    EXPECT_EQ(condition(listener(st, name).at("conditions"), "Programmed").value("status", ""), "False") << name;
  }
  EXPECT_TRUE(translate(config::load_string(yaml, "tls.yaml"))->listeners.empty());
}

TEST(TlsRoute, BackendReferencesAreCheckedAsForHttpRoutes) {
  const std::string listeners = "[{name: tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}]";
  const std::string routes = tls_route("missing", "[m.example.com]", "[{name: nope, port: 443}]") +
                             tls_route("cross", "[c.example.com]", "[{name: other-ns, namespace: backends, port: 443}]");
  json st = status_of(manifests(listeners, routes));
  EXPECT_EQ(route_condition(st, "TLSRoute", "missing", "ResolvedRefs").value("reason", ""), "BackendNotFound");
  EXPECT_EQ(route_condition(st, "TLSRoute", "cross", "ResolvedRefs").value("reason", ""), "RefNotPermitted");

  // A ReferenceGrant from TLSRoutes (not one from HTTPRoutes) lets the cross-namespace one through.
  auto grant = [](std::string_view from_kind) {
    return "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: g-" +
           std::string(from_kind) + ", namespace: backends}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: " +
           std::string(from_kind) + ", namespace: default}]\n  to: [{group: \"\", kind: Service}]\n";
  };
  st = status_of(manifests(listeners, routes + grant("HTTPRoute")));
  EXPECT_EQ(route_condition(st, "TLSRoute", "cross", "ResolvedRefs").value("reason", ""), "RefNotPermitted");
  const std::string granted = manifests(listeners, routes + grant("TLSRoute"));
  st = status_of(granted);
  EXPECT_EQ(route_condition(st, "TLSRoute", "cross", "ResolvedRefs").value("status", ""), "True");
  const auto table = translate(config::load_string(granted, "tls.yaml"));
  const SniRoute* cross = table->listeners.at(0).route_sni("c.example.com");
  ASSERT_NE(cross, nullptr);
  EXPECT_GE(cross->backends.at(0).cluster, 0);
  const SniRoute* missing = table->listeners.at(0).route_sni("m.example.com");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->backends.at(0).cluster, -1);  // the connection is closed
}

TEST(TlsRoute, NoHostnameInCommonIsNotAccepted) {
  const std::string yaml =
      manifests("[{name: tls, port: 8443, protocol: TLS, hostname: a.example.com, tls: {mode: Passthrough}}]",
                tls_route("elsewhere", "[b.example.com]", "[{name: tls-a, port: 443}]"));
  const json st = status_of(yaml);
  EXPECT_EQ(route_condition(st, "TLSRoute", "elsewhere", "Accepted").value("reason", ""), "NoMatchingListenerHostname");
  EXPECT_TRUE(translate(config::load_string(yaml, "tls.yaml"))->listeners.at(0).sni_routes.empty());
}

}  // namespace
}  // namespace mg::route
