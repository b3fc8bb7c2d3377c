#pragma once

// Gateway API status, computed from the objects alone: what `kubectl get -o json` would show for every
// GatewayClass of our controller, every Gateway of such a class, every HTTPRoute and every MirrorPolicy
// (GEP-713 policy status), had mirrorgate written status back. A pure function (the clock is an input too),
// so the same objects always give the same answer; the admin /status endpoint and `mirrorgate status` print
// it. The rules are the Gateway API v1 ones; docs/status.md lists every condition we set and why.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/objects.h"
#include "route/translator.h"

namespace mg::route {

struct StatusOptions {
  std::string controller_name = std::string(kDefaultControllerName);
  std::vector<std::string> supported_features;  // GatewayClass status.supportedFeatures
  // The address each Gateway got (spec.addresses[0] value or the bind address), "ns/name" -> address.
  // A Gateway missing here has no address: Programmed=False/AddressNotAssigned.
  std::map<std::string, std::string> gateway_addresses;
  // Routes the data plane cannot serve for a reason only the caller knows, "ns/name" -> message:
  // every parent gets Accepted=False/UnsupportedValue with that message.
  std::map<std::string, std::string> route_problems;
  // A parentRef naming a Gateway that does not exist gets Accepted=False/NoMatchingParent. Right for
  // objects read from files, which are all ours; a cluster provider leaves such parents out.
  bool report_missing_parents = true;
  // lastTransitionTime of every condition (RFC 3339); empty: the current time, to the second.
  std::string transition_time;
};

// {"items": [GatewayClass..., Gateway..., HTTPRoute..., MirrorPolicy..., ClientTrafficPolicy...]}, each
// {apiVersion, kind, metadata{name, namespace, generation}, status}; spec is left out to keep it small.
// Objects of other controllers are not ours to describe and are left out; HTTPRoutes are all listed (with
// no parents when none is ours), and policies too (status.ancestors, GEP-713, with no entry for other
// controllers' Gateways).
nlohmann::json compute_status(const config::ObjectSet& objects, const StatusOptions& options);

// The items of compute_status as multi-document YAML, one document per object, kubectl's spelling
// (keys sorted, "True"/"False" quoted so they stay strings).
std::string status_as_yaml(const nlohmann::json& items);

}  // namespace mg::route
