#pragma once
// The route table in use as JSON (like Envoy's /config_dump): listeners, the rules they route to,
// clusters with their ready endpoints, and translation warnings.

#include <string>

#include "route/route_table.h"

namespace mg::admin {

std::string config_dump_json(const route::RouteTable& table);

}  // namespace mg::admin
