#pragma once
// Endpoint and backend selection for one worker: round robin over a cluster's ready endpoints
// (each worker starts at a random offset so workers do not move in lockstep), and weighted random
// choice among a rule's backendRefs.

#include <cstdint>
#include <vector>

#include "route/cluster_set.h"
#include "route/route_table.h"

namespace mg::upstream {

class LoadBalancer {
 public:
  // Called whenever the worker pins a new cluster set: cluster indices are per set.
  void reset(size_t cluster_count);

  // Next endpoint of the cluster in round-robin order, or nullptr when it has none ready.
  const route::Endpoint* pick_endpoint(const route::ClusterSet& clusters, int cluster);

  // Weighted choice among the rule's backends; nullptr when there is nothing to choose from
  // (no backendRefs, or all weights 0), which the spec answers with 500.
  static const route::BackendChoice* pick_backend(const route::Rule& rule);

 private:
  std::vector<uint32_t> next_;
};

}  // namespace mg::upstream
