#include "upstream/load_balancer.h"

#include "common/fast_random.h"

namespace mg::upstream {

void LoadBalancer::reset(size_t cluster_count) {
  next_.resize(cluster_count);
  for (auto& n : next_) n = static_cast<uint32_t>(fast_random_below(1u << 16));
}

const route::Endpoint* LoadBalancer::pick_endpoint(const route::ClusterSet& clusters, int cluster) {
  const route::ClusterEndpoints* c = clusters.find(cluster);
  if (!c || c->endpoints.empty()) return nullptr;
  const auto& endpoints = c->endpoints;
  if (next_.size() != clusters.clusters.size()) reset(clusters.clusters.size());
  uint32_t i = next_[static_cast<size_t>(cluster)]++;
  return &endpoints[i % endpoints.size()];
}

const route::BackendChoice* LoadBalancer::pick_backend(const route::Rule& rule) {
  if (rule.backends.empty() || rule.total_weight == 0) return nullptr;
  if (rule.backends.size() == 1) return &rule.backends.front();
  uint64_t point = fast_random_below(rule.total_weight);
  for (const auto& backend : rule.backends) {
    if (point < backend.weight) return &backend;
    point -= backend.weight;
  }
  return &rule.backends.back();
}

}  // namespace mg::upstream
