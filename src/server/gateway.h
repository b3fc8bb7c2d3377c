#pragma once
// The gateway process: loads and translates the config, starts one worker per core and the admin
// listener, and handles signals (SIGTERM/SIGINT drain and exit, SIGHUP reloads the config).

#include <memory>
#include <vector>

#include "server/gateway_options.h"
#include "route/route_table.h"

namespace mg::server {

// Loads and translates options.config_path; throws config::ConfigError (or std::runtime_error) with
// a one-line reason. Translation warnings are logged.
// Logs the table's warnings, or with `previous`, only those that it did not have.
std::shared_ptr<const route::RouteTable> load_route_table(const GatewayOptions& options,
                                                          const route::RouteTable* previous = nullptr);

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_gateway(const GatewayOptions& options, std::shared_ptr<const route::RouteTable> table);

}  // namespace mg::server
