#pragma once

// Gateway API status as JSON: what `kubectl get -o json` would show for every GatewayClass of our
// controller, every Gateway of such a class, every HTTPRoute and every MirrorPolicy and
// ClientTrafficPolicy (GEP-713 policy status), had mirrorgate written status back. The conditions are
// decided once per translation by the translator (RouteTable::status, status_snapshot.h); this only
// prints them. The admin /status endpoint and `mirrorgate status` show it; docs/status.md lists every
// condition we set and why.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/objects.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace mg::route {

struct StatusOptions {
  // --- read by status_json and compute_status ---
  std::vector<std::string> supported_features;  // GatewayClass status.supportedFeatures
  // A parentRef naming a Gateway that does not exist gets Accepted=False/NoMatchingParent. Right for
  // objects read from files, which are all ours; a cluster provider leaves such parents out.
  bool report_missing_parents = true;

  // --- inputs of compute_status's own translation (status_json reads what the table's translation
  // decided: its controller, its Gateways' bind addresses, its route problems and its times) ---
  std::string controller_name = std::string(kDefaultControllerName);
  // The address each Gateway got, "ns/name" -> address. A Gateway missing here has no address:
  // Programmed=False/AddressNotAssigned.
  std::map<std::string, std::string> gateway_addresses;
  // Routes the data plane cannot serve for a reason only the caller knows, "ns/name" -> message: every
  // parent gets Accepted=False/UnsupportedValue with it, instead of the translator's own problems.
  std::map<std::string, std::string> route_problems;
  // The translation's time (RFC 3339), every condition's lastTransitionTime; empty: now, to the second.
  std::string transition_time;
};

// {"items": [GatewayClass..., Gateway..., HTTPRoute..., MirrorPolicy..., ClientTrafficPolicy...]}, each
// {apiVersion, kind, metadata{name, namespace, generation}, status}; spec is left out to keep it small.
// Objects of other controllers are not ours to describe and are left out; HTTPRoutes are all listed (with
// no parents when none is ours), and policies too (status.ancestors, GEP-713, with no entry for other
// controllers' Gateways). An empty list when the table has no status (a table not made by translate()).
nlohmann::json status_json(const RouteTable& table, const StatusOptions& options);

// Translates `objects` with the options' controller, addresses, route problems and time, and returns
// status_json of the result: the status of a configuration that is not being served (tests, tools).
nlohmann::json compute_status(const config::ObjectSet& objects, const StatusOptions& options);

}  // namespace mg::route
