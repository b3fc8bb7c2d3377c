#pragma once
// What the gateway serves, and what one provider snapshot makes of it. Routes change rarely and
// endpoints all the time (Envoy sends them apart too, RDS and EDS): a snapshot whose only change is in
// EndpointSlices gets a new ClusterSet for the table in use, and the table (its matchers, its
// listeners' TLS contexts) stays the very same object; any other change is translated as a whole, into
// a new table with its ClusterSet. Apart from run_gateway, so that a test can hold it to that.

#include <memory>
#include <string_view>

#include "config/objects.h"
#include "route/cluster_set.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace mg::server {

struct ServedConfig {
  // The provider's latest snapshot, generations counted: the next one is compared with it and counts
  // its generations from it. The table may come from an older one (EndpointSlices changed since).
  std::shared_ptr<const config::ObjectSet> objects;
  std::shared_ptr<const route::RouteTable> table;
  std::shared_ptr<const route::ClusterSet> clusters;  // built for `table`, from `objects`' slices
};

// The config to serve after `objects`, given the one served now (null: the first snapshot). The same
// `table` as `current`'s when only EndpointSlices changed; a snapshot without any change is translated
// again, as a SIGHUP asks. Only GatewayClasses of the options' controller_name (and their Gateways and
// routes) are served; `options.previous` is set here.
ServedConfig next_served_config(const ServedConfig* current, config::ObjectSet objects,
                                route::TranslateOptions options = {});

}  // namespace mg::server
