#pragma once

// What a Gateway and its listeners admit, one copy of each rule: the address a Gateway binds, the route
// kinds a listener serves, the namespaces it takes routes from, and which listeners a parentRef attaches
// to. The translator routes by these and status reports them, so a route is Accepted exactly when it is
// routed.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"

namespace mg::route {

struct GatewayBindAddress {
  std::string value;         // spec.addresses[0] when it is an IPAddress, else "0.0.0.0"
  std::string ignored_type;  // set when spec.addresses[0] had another type, which we cannot bind
};

GatewayBindAddress gateway_bind_address(const config::Gateway&);

// HTTP and HTTPS listeners: the ones that serve HTTPRoutes.
bool serves_http(const config::Listener&);
// TLS listeners in Passthrough mode: connections go to a TLSRoute's backend unopened, chosen by SNI.
bool serves_tls_passthrough(const config::Listener&);
// The listeners mirrorgate serves, and binds a socket for: either of the above.
bool binds_socket(const config::Listener&);

// Why a listener is Conflicted with another of its Gateway on the same port, as the Gateway API defines
// distinct listeners: on one port, HTTP listeners, or HTTPS and TLS ones of one TLS mode (terminated and
// passed through may not mix: TLSRouteModeMixed is not served), may share it when their hostnames
// differ; UDP is another transport and clashes with nothing. Any other mix is a ProtocolConflict, two
// hostnames alike a HostnameConflict. The API forbids picking a winner, so no conflicted listener is
// served: the translator skips it and status says so. `reason` empty: no conflict.
struct ListenerConflict {
  std::string reason;  // ProtocolConflict or HostnameConflict
  std::string message;
};

ListenerConflict listener_conflict(const config::Gateway&, const config::Listener&);

struct ListenerRouteKinds {
  // HTTPRoute on HTTP and HTTPS listeners, TLSRoute on TLS Passthrough ones (the default when
  // allowedRoutes.kinds is empty, else the entries naming it); empty on other listeners: no route can
  // attach.
  std::vector<config::RouteGroupKind> supported;
  std::vector<std::string> invalid;  // one message per allowedRoutes.kinds entry we cannot serve
};

ListenerRouteKinds listener_route_kinds(const config::Listener&);

// Whether the listener's allowedRoutes.namespaces admits routes of `route_ns`, whose Namespace carries
// `namespace_labels` (the implicit kubernetes.io/metadata.name label is added here).
bool namespace_allowed(const config::Gateway&, const config::Listener&, const std::string& route_ns,
                       const std::map<std::string, std::string>& namespace_labels);

// How one listener of a Gateway answers one parentRef of a route (of `route_kind`, "HTTPRoute" or
// "TLSRoute") that names the Gateway, the checks in the order status reports them: not selected
// (sectionName or port differ), kind or namespace not allowed, no hostname in common, or attached.
enum class ListenerMatch { kNotSelected, kKindNotAllowed, kNamespaceNotAllowed, kNoHostname, kAttached };

ListenerMatch match_listener(const config::Gateway&, const config::Listener&, std::string_view route_kind,
                             const std::string& route_namespace, const std::vector<std::string>& route_hostnames,
                             const config::ParentReference&,
                             const std::map<std::string, std::string>& route_namespace_labels);

// The kind a route object is, as parentRefs, ReferenceGrants and status name it.
inline std::string_view route_kind(const config::HTTPRoute&) { return "HTTPRoute"; }
inline std::string_view route_kind(const config::TLSRoute&) { return "TLSRoute"; }

template <typename Route>
ListenerMatch match_listener(const config::Gateway& gw, const config::Listener& l, const Route& route,
                             const config::ParentReference& ref,
                             const std::map<std::string, std::string>& route_namespace_labels) {
  return match_listener(gw, l, route_kind(route), route.metadata.namespace_, route.hostnames, ref,
                        route_namespace_labels);
}

}  // namespace mg::route
