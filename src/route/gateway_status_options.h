#pragma once

// The options the gateway prints status with: its admin /status endpoint and `mirrorgate status`
// (server/status_command.h).

#include "config/objects.h"
#include "route/status.h"

namespace mg::route {

// What a running gateway prints status with: the features of route/supported_features.h. Enough for
// status_json, whose conditions the table's translation decided.
StatusOptions gateway_status_options();

// The same, plus for compute_status the address each Gateway binds (listener_rules.h, the rule the
// translator binds by), so compute_status describes `objects` as the gateway would serve them.
StatusOptions gateway_status_options(const config::ObjectSet& objects);

}  // namespace mg::route
