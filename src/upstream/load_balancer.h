#pragma once
// Endpoint and backend selection for one worker: round robin over a cluster's ready endpoints
// (each worker starts a cluster at a random offset so workers do not move in lockstep), and weighted
// random choice among a rule's backendRefs. A cluster's place in its rotation is kept by name, so a new
// ClusterSet (pods come and go, or a new table numbers its clusters otherwise) does not restart it.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "route/cluster_set.h"
#include "route/route_table.h"

namespace mg::upstream {

class LoadBalancer {
 public:
  // The worker pins `clusters` from now on: its clusters keep their cursors (a cluster new to this
  // worker gets a random one), and picks in it need no lookup. Cursors of clusters it lacks are dropped.
  void follow(std::shared_ptr<const route::ClusterSet> clusters);

  // Next endpoint of the cluster in round-robin order, or nullptr when it has none ready. `clusters` is
  // the set the request pinned: the followed one, or one a request in flight still holds (its clusters
  // are found by name then).
  const route::Endpoint* pick_endpoint(const route::ClusterSet& clusters, int cluster);

  // Weighted choice among the rule's backends; nullptr when there is nothing to choose from
  // (no backendRefs, or all weights 0), which the spec answers with 500.
  static const route::BackendChoice* pick_backend(const route::Rule& rule) {
    return pick_backend(rule.backends, rule.total_weight);
  }
  static const route::BackendChoice* pick_backend(std::span<const route::BackendChoice> backends,
                                                  uint64_t total_weight);

 private:
  uint32_t& cursor_by_name(const std::string& cluster);

  std::unordered_map<std::string, uint32_t> cursors_;  // by cluster name; its nodes never move
  std::shared_ptr<const route::ClusterSet> followed_;
  std::vector<uint32_t*> followed_cursors_;  // into cursors_, by followed_'s cluster index
};

}  // namespace mg::upstream
