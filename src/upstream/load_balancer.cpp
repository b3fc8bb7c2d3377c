#include "upstream/load_balancer.h"

#include "common/fast_random.h"

namespace mg::upstream {
namespace {

uint32_t random_offset() { return static_cast<uint32_t>(fast_random_below(1u << 16)); }

}  // namespace

void LoadBalancer::follow(std::shared_ptr<const route::ClusterSet> clusters) {
  std::unordered_map<std::string, uint32_t> kept;  // only the new set's clusters: the map does not grow
  followed_cursors_.clear();
  for (const auto& c : clusters->clusters) {
    const auto before = cursors_.find(c.name);
    const uint32_t next = before != cursors_.end() ? before->second : random_offset();
    followed_cursors_.push_back(&kept.try_emplace(c.name, next).first->second);
  }
  cursors_.swap(kept);  // a swap keeps the nodes, and so followed_cursors_ valid
  followed_ = std::move(clusters);
}

uint32_t& LoadBalancer::cursor_by_name(const std::string& cluster) {
  const auto [it, inserted] = cursors_.try_emplace(cluster, 0);
  if (inserted) it->second = random_offset();
  return it->second;
}

const route::Endpoint* LoadBalancer::pick_endpoint(const route::ClusterSet& clusters, int cluster) {
  const route::ClusterEndpoints* c = clusters.find(cluster);
  if (!c || c->endpoints.empty()) return nullptr;
  uint32_t& next = &clusters == followed_.get() ? *followed_cursors_[static_cast<size_t>(cluster)]
                                                 : cursor_by_name(c->name);
  return &c->endpoints[next++ % c->endpoints.size()];
}

const route::BackendChoice* LoadBalancer::pick_backend(std::span<const route::BackendChoice> backends,
                                                       uint64_t total_weight) {
  if (backends.empty() || total_weight == 0) return nullptr;
  if (backends.size() == 1) return &backends.front();
  uint64_t point = fast_random_below(total_weight);
  for (const auto& backend : backends) {
    if (point < backend.weight) return &backend;
    point -= backend.weight;
  }
  return &backends.back();
}

}  // namespace mg::upstream
