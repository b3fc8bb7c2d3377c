#pragma once

// The ready endpoints of every cluster a RouteTable routes or mirrors to, kept apart from the table:
// pods come and go all the time, routes rarely, so a change of EndpointSlices alone builds a new
// ClusterSet for the table in use and leaves the table (its matchers, its TLS contexts) as it is
// (Envoy's EDS beside its RDS). Immutable like the table; a request pins both, and a ClusterSet is only
// ever paired with the table it was built for, whose cluster indices it shares.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/objects.h"
#include "route/route_table.h"

namespace mg::route {

struct Endpoint {  // one ready pod address
  std::string ip;
  uint16_t port = 0;
  std::string pod;  // EndpointSlice targetRef name (the pod), for logs and the mirror trace; may be empty
  std::string address;  // "ip:port", built once: the connection-pool key and the logged upstream host

  bool operator==(const Endpoint&) const = default;
};

struct ClusterEndpoints {
  std::string name;                 // RouteTable::clusters[i].name: "namespace/service:port"
  std::vector<Endpoint> endpoints;  // ready endpoints only, ordered by EndpointSlice name then position
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;  // RouteTable::clusters[i].protocol
  std::shared_ptr<const net::UpstreamTlsContext> tls = nullptr;  // RouteTable::clusters[i].tls
};

struct ClusterSet {
  std::vector<ClusterEndpoints> clusters;  // indexed as RouteTable::clusters
  // "Service ns/s:80 has no ready endpoints; ...": they follow the slices, not the routes.
  std::vector<std::string> warnings;

  // clusters[index], or nullptr for an unresolved backend (-1) or an index of another table.
  const ClusterEndpoints* find(int index) const {
    return index >= 0 && static_cast<size_t>(index) < clusters.size() ? &clusters[static_cast<size_t>(index)]
                                                                       : nullptr;
  }
};

// The endpoints of `table`'s clusters in `objects`' EndpointSlices. Pure, like translate().
std::shared_ptr<const ClusterSet> build_cluster_set(const RouteTable& table,
                                                    const config::ObjectSet& objects);

// How many clusters' endpoints differ between two sets, matched by name (one only in either counts).
size_t changed_clusters(const ClusterSet& before, const ClusterSet& after);

}  // namespace mg::route
