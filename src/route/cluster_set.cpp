#include "route/cluster_set.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>

namespace mg::route {
namespace {

// EndpointSlices by "namespace/service", each list in slice name order (the endpoints' order).
using SliceIndex = std::unordered_map<std::string, std::vector<const config::EndpointSlice*>>;

SliceIndex index_slices(const config::ObjectSet& objects) {
  SliceIndex slices;
  for (const auto& es : objects.endpoint_slices)
    slices[es.metadata.namespace_ + "/" + es.service_name()].push_back(&es);
  for (auto& [service, list] : slices)
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->metadata.name < b->metadata.name; });
  return slices;
}

// The slice port carrying this Service port: by the Service port's name (how the EndpointSlice
// controller names them), else by the targetPort's name or number.
std::optional<uint16_t> slice_port(const config::EndpointSlice& es, const config::ServicePort& sp) {
  for (const auto& p : es.ports)
    if (p.port && p.name.value_or("") == sp.name && (!sp.name.empty() || es.ports.size() == 1))
      return static_cast<uint16_t>(*p.port);
  for (const auto& p : es.ports) {
    if (!p.port) continue;
    if (const auto* n = std::get_if<std::string>(&sp.target_port); n && p.name == *n)
      return static_cast<uint16_t>(*p.port);
    if (const auto* n = std::get_if<int32_t>(&sp.target_port); n && *p.port == *n)
      return static_cast<uint16_t>(*p.port);
  }
  return std::nullopt;
}

std::vector<Endpoint> endpoints_for(const Cluster& cluster, const SliceIndex& slices) {
  std::vector<Endpoint> out;
  const auto it = slices.find(cluster.service_namespace + "/" + cluster.service);
  if (it == slices.end()) return out;
  // An address in several slices (a rollout moving it) is one endpoint. A set, not a scan of `out`: a
  // Service of 50,000 endpoints took seconds to build that way.
  std::unordered_set<std::string> seen;
  for (const auto* es : it->second) {
    if (es->address_type == "FQDN") continue;
    const auto port = slice_port(*es, cluster.port);
    if (!port) continue;
    for (const auto& ep : es->endpoints) {
      if (ep.conditions.ready.has_value() && !*ep.conditions.ready) continue;
      for (const auto& addr : ep.addresses) {
        Endpoint e{addr, *port, ep.target_ref ? ep.target_ref->name : std::string(),
                   addr + ":" + std::to_string(*port)};
        if (seen.insert(e.address).second) out.push_back(std::move(e));
      }
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<const ClusterSet> build_cluster_set(const RouteTable& table,
                                                    const config::ObjectSet& objects) {
  const SliceIndex slices = index_slices(objects);
  auto set = std::make_shared<ClusterSet>();
  set->clusters.reserve(table.clusters.size());
  for (const auto& c : table.clusters) {
    set->clusters.push_back(ClusterEndpoints{c.name, endpoints_for(c, slices), c.protocol, c.tls});
    // A Service whose pods are all gone or unready answers every request with 503: say so before the 503s.
    if (set->clusters.back().endpoints.empty())
      set->warnings.push_back("Service " + c.name + " has no ready endpoints; requests routed to it get 503");
  }
  return set;
}

size_t changed_clusters(const ClusterSet& before, const ClusterSet& after) {
  std::map<std::string_view, const std::vector<Endpoint>*> unmatched;
  for (const auto& c : before.clusters) unmatched.emplace(c.name, &c.endpoints);
  size_t changed = 0;
  for (const auto& c : after.clusters) {
    const auto it = unmatched.find(c.name);
    if (it == unmatched.end()) {
      ++changed;
      continue;
    }
    if (*it->second != c.endpoints) ++changed;
    unmatched.erase(it);
  }
  return changed + unmatched.size();  // the clusters that are gone
}

}  // namespace mg::route
