#include "route/references.h"

#include <algorithm>

namespace mg::route {
namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

}  // namespace

bool reference_granted(const config::ObjectSet& objects, std::string_view from_kind,
                       const std::string& from_ns, std::string_view to_kind, const std::string& to_ns,
                       const std::string& name) {
  for (const auto& g : objects.reference_grants) {
    if (g.metadata.namespace_ != to_ns) continue;
    const bool from = std::any_of(g.from.begin(), g.from.end(), [&](const auto& f) {
      return f.group == kGatewayGroup && f.kind == from_kind && f.namespace_ == from_ns;
    });
    const bool to = std::any_of(g.to.begin(), g.to.end(), [&](const auto& t) {
      return t.group.empty() && t.kind == to_kind && (!t.name || *t.name == name);
    });
    if (from && to) return true;
  }
  return false;
}

std::optional<BackendRefProblem> backend_ref_problem(const config::ObjectSet& objects,
                                                     const ServiceIndex& services,
                                                     const std::string& route_ns,
                                                     const config::BackendObjectReference& ref,
                                                     std::string_view route_kind) {
  const std::string ns = ref.namespace_.value_or(route_ns);
  if (!(ref.group.empty() || ref.group == "core") || ref.kind != "Service")
    return BackendRefProblem{"InvalidKind", "is not supported (only core Services are)"};
  if (ns != route_ns && !reference_granted(objects, route_kind, route_ns, "Service", ns, ref.name))
    return BackendRefProblem{"RefNotPermitted",
                             "is in another namespace and no ReferenceGrant in " + ns + " allows it"};
  const auto svc = services.find(ns + "/" + ref.name);
  if (svc == services.end()) return BackendRefProblem{"BackendNotFound", "not found"};
  if (!ref.port) return BackendRefProblem{"UnsupportedValue", "has no port (required for Services)"};
  const auto& ports = svc->second->ports;
  if (std::none_of(ports.begin(), ports.end(), [&](const auto& p) { return p.port == *ref.port; }))
    return BackendRefProblem{"BackendNotFound", "has no port " + std::to_string(*ref.port)};
  return std::nullopt;
}

}  // namespace mg::route
