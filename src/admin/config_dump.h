#pragma once
// The route table in use as JSON (like Envoy's /config_dump): listeners, the rules they route to,
// clusters with their ready endpoints (from the table's current ClusterSet), and the warnings of both.

#include <string>

#include "route/cluster_set.h"
#include "route/route_table.h"

namespace mg::admin {

std::string config_dump_json(const route::RouteTable& table, const route::ClusterSet& clusters);

}  // namespace mg::admin
