#pragma once
// ClientTrafficPolicy attachment (GEP-713): which policy governs which listener, and the status of every
// policy toward each Gateway it targets. A pure function of the objects, shared by the translator (which
// puts the settings on each route::Listener) and by status (which reports the ancestors), so the two can
// never disagree. docs/config.md describes the rules; in short:
//  - a policy whose targetRef names a listener (sectionName) beats one that targets the whole Gateway;
//  - among equals the oldest (creationTimestamp, then name) wins and the others are Conflicted;
//  - the limits act before the Host header picks a listener, so listeners sharing a port must end up
//    with the same policy: when sectionName policies would split a port, they are Conflicted on it and
//    the port keeps the whole-Gateway policy (or the command-line defaults).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "route/client_traffic_settings.h"

namespace mg::route {

// One entry of a policy's status.ancestors: a Gateway (narrowed to a listener when the targetRef was).
struct PolicyAncestor {
  std::string gateway_namespace;
  std::string gateway_name;
  std::optional<std::string> section_name;
  bool accepted = true;
  std::string reason;  // Accepted, TargetNotFound, Conflicted, Invalid
  std::string message;
};

struct ClientTrafficResolution {
  // Gateway "namespace/name" -> listener port -> the settings its connections get (absent: no policy).
  std::map<std::string, std::map<int32_t, std::shared_ptr<const ClientTrafficSettings>>> by_port;
  // Policy "namespace/name" -> its ancestors, in targetRefs order (duplicates once). Gateways of
  // other controllers are not ours to answer for and are left out.
  std::map<std::string, std::vector<PolicyAncestor>> ancestors;
};

ClientTrafficResolution resolve_client_traffic_policies(const config::ObjectSet& objects,
                                                        std::string_view controller_name);

}  // namespace mg::route
