#pragma once

// Gateway API objects -> RouteTable. A pure function: no I/O, no logging; everything a person should
// know about (unsupported listener, missing Service, refused cross-namespace reference) comes back
// as one-line warnings in RouteTable::warnings for the caller to log or show. Rules the spec calls invalid
// (forbidden filter combinations, ReplacePrefixMatch without a single PathPrefix match, backendRequest
// longer than request...) are kept but answer 500, and are listed in RouteTable::route_problems for status.
// The translator is also where every status condition is decided (RouteTable::status): the rules that
// build the table decide what status says of it, once per translation. EndpointSlices are not read here:
// build_cluster_set (cluster_set.h) gives the table's clusters their endpoints.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "route/address_pool.h"
#include "route/route_table.h"

namespace mg::route {

inline constexpr std::string_view kDefaultControllerName = "mirrorgate.io/gateway-controller";

struct TranslateOptions {
  std::string_view controller_name = kDefaultControllerName;
  // The translation this one replaces: a condition equal to its predecessor there (type, status, reason,
  // message, observedGeneration) keeps that one's lastTransitionTime. Null: every condition is new.
  const RouteTable* previous = nullptr;
  // The time (RFC 3339) new and changed conditions get; empty: now, to the second.
  std::string time;
  // For status of a configuration that is not served (compute_status): the addresses its Gateways got,
  // "ns/name" -> address, instead of the ones they bind (one missing: no address); and problems only the
  // caller knows, "ns/name" -> message, which make a route's parents Accepted=False (replacing the
  // translator's own message for that route). Neither changes the data plane.
  const std::map<std::string, std::string>* assigned_addresses = nullptr;
  const std::map<std::string, std::string>* extra_route_problems = nullptr;
  // "ns/name" of the Service clients reach the Gateways through (--publish-service): a Gateway that asks
  // for no address reports that Service's load-balancer ingress as its status.addresses, as other
  // controllers do; none yet is Programmed=False/AddressNotAssigned. Empty: the address it binds.
  std::string publish_service;
  // --gateway-address-pool: a Gateway that asks for no address gets one of these (address_pool.h), keeps
  // it across translations (from `previous`), and binds and reports it; none left: AddressNotAssigned,
  // nothing served. Null: such a Gateway binds 0.0.0.0.
  const AddressPool* address_pool = nullptr;
};

std::shared_ptr<const RouteTable> translate(const config::ObjectSet&, const TranslateOptions&);

std::shared_ptr<const RouteTable> translate(const config::ObjectSet&,
                                            std::string_view controller_name = kDefaultControllerName,
                                            const RouteTable* previous = nullptr);

// Gateway API hostname intersection of a listener hostname (empty = any) and a route hostname (empty =
// any). Returns the effective hostname ("" = any) or nullopt when they do not intersect.
std::optional<std::string> intersect_hostnames(std::string_view listener, std::string_view route);

// Whether the labels satisfy a Kubernetes label selector (matchLabels and matchExpressions).
bool selector_matches(const config::LabelSelector&, const std::map<std::string, std::string>& labels);

}  // namespace mg::route
