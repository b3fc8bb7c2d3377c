#include "admin/topology.h"

#include <nlohmann/json.hpp>

namespace mg::admin {
namespace {

using nlohmann::json;

template <typename V>
const V* find(const stats::StringMap<V>& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

// Answers in all and those of 500 and above (a 5xx share is what the page shows).
json code_counts(const stats::CodeCounts* codes) {
  uint64_t all = 0, errors = 0;
  if (codes)
    for (const auto& [code, n] : *codes) {
      all += n;
      if (code >= 500) errors += n;
    }
  return {{"requests", all}, {"5xx", errors}};
}

// Not cumulative, as recorded; the bounds are the document's latency_bounds_s (+Inf last).
json histogram(const stats::LatencyHistogram* h) {
  if (!h) return {{"count", 0}, {"buckets", json::array()}};
  return {{"count", h->count()}, {"buckets", h->buckets}};
}

template <typename Enum, size_t N>
json by_reason(const std::array<uint64_t, N>& counts) {
  json out = json::object();
  for (size_t i = 0; i < N; ++i) out[std::string(stats::to_string(static_cast<Enum>(i)))] = counts[i];
  return out;
}

json mirror_counters(const stats::MirrorCounters* c) {
  const stats::MirrorCounters none;
  if (!c) c = &none;
  json completed = json::object();
  uint64_t completed_all = 0;
  for (size_t i = 0; i < c->completed.size(); ++i) {
    completed[std::to_string(i + 2) + "xx"] = c->completed[i];
    completed_all += c->completed[i];
  }
  return {{"sent", c->sent},
          {"sampled_out", c->sampled_out},
          {"completed", completed_all},
          {"completed_by_class", completed},
          {"failed", by_reason<stats::MirrorFailure>(c->failed)},
          {"dropped", by_reason<stats::MirrorDrop>(c->dropped)},
          {"comparisons", by_reason<stats::ComparisonResult>(c->comparisons)},
          {"latency", histogram(&c->response_latency)}};
}

size_t ready_endpoints(const route::ClusterSet& clusters, int cluster) {
  if (cluster < 0 || static_cast<size_t>(cluster) >= clusters.clusters.size()) return 0;
  return clusters.clusters[static_cast<size_t>(cluster)].endpoints.size();
}

json mirrors_of(const std::vector<route::MirrorTarget>& mirrors, const route::Rule& rule,
                const route::ClusterSet& clusters, const stats::WorkerStats& s) {
  json out = json::array();
  const auto* by_rule = find(s.mirrors, rule.route);
  const auto* by_backend = by_rule ? find(*by_rule, rule.label) : nullptr;
  for (const auto& m : mirrors)
    out.push_back({{"name", m.name},
                   {"resolved", m.cluster >= 0},
                   {"endpoints", ready_endpoints(clusters, m.cluster)},
                   {"percent", 100.0 * m.numerator / (m.denominator ? m.denominator : 1)},
                   {"counters", mirror_counters(by_backend ? find(*by_backend, m.name) : nullptr)}});
  return out;
}

}  // namespace

std::string topology_json(const route::RouteTable& table, const route::ClusterSet& clusters,
                          const stats::WorkerStats& s, double time_s, uint64_t table_version) {
  json bounds = json::array();
  for (uint64_t us : stats::LatencyHistogram::kBoundsUs) bounds.push_back(static_cast<double>(us) / 1e6);
  json listeners = json::array();
  json routes = json::object();
  json backends = json::object();
  for (const auto& l : table.listeners) {
    json rules = json::array();
    for (const auto& r : l.rules) {
      routes[r.route] = code_counts(find(s.downstream_requests, r.route));
      const auto* latency = find(s.upstream_latency, r.route);
      json rule_backends = json::array();
      for (const auto& b : r.backends) {
        backends[b.name] = code_counts(find(s.upstream_requests, b.name));
        backends[b.name]["endpoints"] = ready_endpoints(clusters, b.cluster);
        // The primary's answers from this backend on this route: a rate, and p99 from the buckets.
        rule_backends.push_back({{"name", b.name},
                                 {"weight", b.weight},
                                 {"resolved", b.cluster >= 0},
                                 {"latency", histogram(latency ? find(*latency, b.name) : nullptr)},
                                 {"mirrors", mirrors_of(b.mirrors, r, clusters, s)}});
      }
      json rule = {{"route", r.route},
                   {"rule", r.rule_index},
                   {"label", r.label},
                   {"backends", std::move(rule_backends)},
                   {"mirrors", mirrors_of(r.mirrors, r, clusters, s)}};
      if (!r.name.empty()) rule["name"] = r.name;
      rules.push_back(std::move(rule));
    }
    listeners.push_back({{"gateway", l.gateway},
                         {"name", l.name},
                         {"sections", l.section_names},
                         {"address", l.address},
                         {"port", l.port},
                         {"protocol", l.tls ? "HTTPS" : "HTTP"},
                         {"rules", std::move(rules)}});
  }
  json doc = {{"time_s", time_s},
              {"table_version", table_version},
              {"latency_bounds_s", std::move(bounds)},
              {"listeners", std::move(listeners)},
              {"routes", std::move(routes)},
              {"unmatched", code_counts(find(s.downstream_requests, ""))},
              {"backends", std::move(backends)},
              {"mirrors_in_flight", s.mirror_in_flight}};
  return doc.dump() + "\n";
}

}  // namespace mg::admin
