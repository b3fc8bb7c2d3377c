#pragma once
// What a request to a backend needs from its worker: the worker's idle connections and balancer
// state, and its counters. Per worker thread, so nothing here is locked.

#include "stats/worker_stats.h"
#include "upstream/connection_pool.h"
#include "upstream/load_balancer.h"

namespace mg::upstream {

struct UpstreamContext {
  ConnectionPool& pool;
  LoadBalancer& balancer;
  stats::WorkerStats& stats;
};

}  // namespace mg::upstream
