#pragma once
// The gateway process: takes its objects from a config::Provider (the files of -c), translates each
// snapshot, starts one worker per core and the admin listener, and drains on SIGTERM/SIGINT.

#include "server/gateway_options.h"

namespace mg::server {

// Runs until SIGTERM or SIGINT; returns the process exit code. Throws config::ConfigError when the
// config path does not exist, std::runtime_error with a one-line reason when the first config cannot
// be served (two Gateways on one address, a port in use). Invalid objects do not stop it: they are
// logged, left out and listed in /status.
int run_gateway(const GatewayOptions& options);

}  // namespace mg::server
