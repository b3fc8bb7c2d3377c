#pragma once

// The conditions of a translation (status_snapshot.h), decided by the translator's own rules
// (listener_rules.h, references.h, certificates.h, mirror_policies.h, client_traffic_policy.h) from
// what the translation found. Called once per translation by translate(); docs/status.md lists every
// condition and why.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/objects.h"
#include "route/backend_tls_policies.h"
#include "route/certificates.h"
#include "route/client_traffic_policy.h"
#include "route/mirror_policies.h"
#include "route/port_claims.h"
#include "route/references.h"
#include "route/status_snapshot.h"

namespace mg::route {

// The addresses of the Service clients reach the Gateways through (--publish-service).
struct PublishedAddresses {
  std::string service;  // "ns/name"
  std::vector<config::GatewayAddress> addresses;  // its load-balancer ingress
  std::string missing_because;  // when there is none: "does not exist", "has no load-balancer address yet"
};

struct StatusInputs {
  const config::ObjectSet& objects;
  std::string_view controller_name;
  const std::set<std::string>& managed_classes;  // names of the GatewayClasses of our controller
  const ServiceIndex& services;
  const std::unordered_map<std::string, std::map<std::string, std::string>>& namespace_labels;
  // The address each of our Gateways has, "ns/name" -> address; absent: none (AddressNotAssigned).
  const std::map<std::string, std::string>& gateway_addresses;
  // Per HTTPRoute "ns/name": why the data plane cannot serve (some of) it; its parents get
  // Accepted=False/UnsupportedValue with these, joined by "; ".
  const std::map<std::string, std::vector<std::string>>& route_problems;
  // The certificate resolution of one listener, done once per translation and shared with the data plane.
  std::function<const ListenerCertificate&(const config::Gateway&, const config::Listener&)> certificate;
  const MirrorPolicies& mirror_policies;
  const ClientTrafficResolution& client_traffic;
  const BackendTlsResolution& backend_tls;
  const PortClaims& port_claims;  // listeners on a port another Gateway holds: not served
  const PublishedAddresses* published;  // null: no --publish-service
  // Why a Gateway that asks for no address has none (an exhausted --gateway-address-pool); empty: no pool.
  std::string no_pool_address_because;
};

// Every condition, with lastTransitionTime left empty (carry_transition_times fills it in).
StatusSnapshot build_status(const StatusInputs&);

}  // namespace mg::route
