#pragma once

// `mirrorgate status -c PATH` and the admin /status endpoint: the status mirrorgate would write back
// for a configuration, from the same inputs the gateway itself uses (addresses, claimed features).

#include <ostream>
#include <string>

#include "config/objects.h"
#include "route/status.h"

namespace mg::route {

// The options a running gateway computes status with: its controller name, the features of
// src/proxy/supported_features.h, and for each of our Gateways the address it binds (the first
// spec.addresses entry of type IPAddress, else 0.0.0.0, as the translator does).
StatusOptions gateway_status_options(const config::ObjectSet& objects);

// Loads PATH (config::load_path), prints the status as multi-document YAML to out and returns 0; a
// configuration error goes to err as one line and returns 1.
int run_status_command(const std::string& config_path, std::ostream& out, std::ostream& err);

}  // namespace mg::route
