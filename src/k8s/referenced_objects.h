#pragma once
// The Secrets and ConfigMaps that our Gateways name: listener certificates (certificateRefs) and the CA
// bundles of client certificate validation (caCertificateRefs, on a listener or in spec.tls.frontend),
// and the CA ConfigMaps of BackendTLSPolicies.
// Only these are ever read from the API server, each by a watch of its own: a gateway has no business
// holding every Secret of the cluster in memory, nor those of Gateways another controller serves.

#include <set>
#include <string>
#include <string_view>

#include "config/objects.h"

namespace mg::k8s {

struct ReferencedObject {
  std::string kind;  // Secret or ConfigMap
  std::string namespace_;
  std::string name;
  auto operator<=>(const ReferencedObject&) const = default;
};

// Every core Secret or ConfigMap referenced by a Gateway of `objects` whose GatewayClass names
// `controller_name`, whether or not a ReferenceGrant allows it (the translator decides that; a refused
// reference only costs a watch).
std::set<ReferencedObject> referenced_objects(const config::ObjectSet& objects, std::string_view controller_name);

}  // namespace mg::k8s
