#pragma once
// /topology: what the admin page draws, in one answer. The route table in use (listeners, their rules, each
// rule's backends and mirrors, ready endpoints) with, beside each edge, the counters /metrics renders for it.
// Counts are cumulative and come with a monotonic time: the page turns two polls into rates, so the
// gateway keeps no window and does no work for a page nobody has open. The objects' conditions are
// /status's, which the page reads beside it.

#include <string>

#include "route/cluster_set.h"
#include "route/route_table.h"
#include "stats/worker_stats.h"

namespace mg::admin {

// `time_s`: seconds on a monotonic clock, the time of `merged`. `table_version`: changes whenever the table
// does, and with it the objects of /status (the page asks for those again only then).
std::string topology_json(const route::RouteTable& table, const route::ClusterSet& clusters,
                          const stats::WorkerStats& merged, double time_s, uint64_t table_version);

}  // namespace mg::admin
