#pragma once

// The rules for references between objects, one copy each: whether a ReferenceGrant opens another
// namespace to a reference, and whether an HTTPRoute's backendRef resolves. The translator (which
// programs the backend, or answers 500 and warns) and status (ResolvedRefs) both ask here, so the
// reason status gives is always the one behind the data plane's behaviour.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/objects.h"

namespace mg::route {

// Whether a ReferenceGrant in `to_ns` lets objects of kind `from_kind` (Gateway API group) in `from_ns`
// refer to the core object `to_kind`/`name` there.
bool reference_granted(const config::ObjectSet& objects, std::string_view from_kind,
                       const std::string& from_ns, std::string_view to_kind, const std::string& to_ns,
                       const std::string& name);

// Services by "namespace/name", built once per translation.
using ServiceIndex = std::unordered_map<std::string, const config::Service*>;

struct BackendRefProblem {
  std::string
      reason;  // the ResolvedRefs reason: InvalidKind, RefNotPermitted, BackendNotFound, UnsupportedValue
  std::string problem;  // what is wrong, to follow the reference's name: "not found", "has no port 81"
};

// Why a backendRef of a route (of `route_kind`) in `route_ns` cannot be served; nullopt when it names an existing
// port of a core Service the route may reach. Checked in this order, the first problem wins.
std::optional<BackendRefProblem> backend_ref_problem(const config::ObjectSet& objects,
                                                     const ServiceIndex& services,
                                                     const std::string& route_ns,
                                                     const config::BackendObjectReference& ref,
                                                     std::string_view route_kind = "HTTPRoute");

}  // namespace mg::route
