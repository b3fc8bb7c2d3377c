#include "route/listener_rules.h"

#include <algorithm>

#include "route/translator.h"

namespace mg::route {
namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

}  // namespace

GatewayBindAddress gateway_bind_address(const config::Gateway& gw) {
  if (gw.addresses.empty()) return {"0.0.0.0", ""};
  if (gw.addresses[0].type == "IPAddress") return {gw.addresses[0].value, ""};
  return {"0.0.0.0", gw.addresses[0].type};
}

bool serves_http(const config::Listener& l) { return l.protocol == "HTTP" || l.protocol == "HTTPS"; }

bool serves_tls_passthrough(const config::Listener& l) {
  return l.protocol == "TLS" && l.tls && l.tls->mode == "Passthrough";
}

bool binds_socket(const config::Listener& l) { return serves_http(l) || serves_tls_passthrough(l); }

namespace {

// Listeners that may share a port, told apart by hostname: HTTP ones by Host; HTTPS and TLS ones of
// one TLS mode by SNI. Terminated and passed-through TLS on one port (TLSRouteModeMixed) is not
// served: a ProtocolConflict, as the Gateway API asks of implementations without it.
std::string port_family(const config::Listener& l) {
  if (l.protocol == "HTTPS") return "TLS:Terminate";
  if (l.protocol == "TLS") return "TLS:" + (l.tls ? l.tls->mode : std::string("Terminate"));
  return l.protocol;
}

}  // namespace

ListenerConflict listener_conflict(const config::Gateway& gw, const config::Listener& a) {
  ListenerConflict out;
  for (const auto& b : gw.listeners) {
    if (&a == &b || a.port != b.port || a.protocol == "UDP" || b.protocol == "UDP") continue;
    if (port_family(a) != port_family(b))
      return {"ProtocolConflict", "port " + std::to_string(a.port) + " is also used with protocol " + b.protocol +
                                      " by listener " + b.name};
    if (a.hostname.value_or("") == b.hostname.value_or(""))
      out = {"HostnameConflict", "listener " + b.name + " uses the same port and hostname"};
  }
  return out;
}

ListenerRouteKinds listener_route_kinds(const config::Listener& l) {
  ListenerRouteKinds out;
  const std::string_view served = serves_http(l) ? "HTTPRoute" : serves_tls_passthrough(l) ? "TLSRoute" : "";
  if (l.allowed_routes.kinds.empty()) {
    if (!served.empty())
      out.supported.push_back(config::RouteGroupKind{std::string(kGatewayGroup), std::string(served)});
    return out;
  }
  for (const auto& k : l.allowed_routes.kinds) {
    if (!served.empty() && k.group == kGatewayGroup && k.kind == served) {
      out.supported.push_back(k);
    } else {
      out.invalid.push_back("route kind " + (k.group.empty() ? "" : k.group + "/") + k.kind +
                            " is not supported on a " + l.protocol + " listener");
    }
  }
  return out;
}

bool namespace_allowed(const config::Gateway& gw, const config::Listener& l, const std::string& route_ns,
                       const std::map<std::string, std::string>& namespace_labels) {
  const auto& from = l.allowed_routes.namespaces.from;
  if (from == "All") return true;
  if (from == "Same") return route_ns == gw.metadata.namespace_;
  if (from == "Selector" && l.allowed_routes.namespaces.selector) {
    auto labels = namespace_labels;
    labels.emplace("kubernetes.io/metadata.name", route_ns);  // set by the API server on every Namespace
    return selector_matches(*l.allowed_routes.namespaces.selector, labels);
  }
  return false;
}

ListenerMatch match_listener(const config::Gateway& gw, const config::Listener& l, std::string_view route_kind,
                             const std::string& route_namespace, const std::vector<std::string>& route_hostnames,
                             const config::ParentReference& ref,
                             const std::map<std::string, std::string>& route_namespace_labels) {
  if (ref.section_name && *ref.section_name != l.name) return ListenerMatch::kNotSelected;
  if (ref.port && *ref.port != l.port) return ListenerMatch::kNotSelected;
  const ListenerRouteKinds kinds = listener_route_kinds(l);
  if (std::none_of(kinds.supported.begin(), kinds.supported.end(),
                   [&](const config::RouteGroupKind& k) { return k.kind == route_kind; }))
    return ListenerMatch::kKindNotAllowed;
  if (!namespace_allowed(gw, l, route_namespace, route_namespace_labels)) return ListenerMatch::kNamespaceNotAllowed;
  const std::string lh = l.hostname.value_or("");
  const bool common = route_hostnames.empty() ||
                      std::any_of(route_hostnames.begin(), route_hostnames.end(), [&](const std::string& rh) {
                        return intersect_hostnames(lh, rh).has_value();
                      });
  return common ? ListenerMatch::kAttached : ListenerMatch::kNoHostname;
}

}  // namespace mg::route
