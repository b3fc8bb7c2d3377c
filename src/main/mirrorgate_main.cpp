// mirrorgate: a Kubernetes Gateway API gateway. Entry point: options, config, run.

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "net/gateway.h"

int main(int argc, char** argv) {
  mg::net::GatewayOptions options;
  CLI::App app{"mirrorgate: a Kubernetes Gateway API gateway with provable traffic mirroring"};
  app.add_option("-c,--config", options.config_path,
                 "YAML file or directory of Kubernetes objects (GatewayClass, Gateway, HTTPRoute, Service, "
                 "EndpointSlice, ...)")
      ->required();
  app.add_option("--workers", options.workers, "worker threads (default: one per core)");
  app.add_option("--admin", options.admin_address, "admin listener ADDRESS:PORT")->capture_default_str();
  app.add_option("--access-log", options.access_log, "access log: '-' (stdout), 'off', or a file path")
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("mirrorgate");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  // A client or log reader that goes away must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  std::shared_ptr<const mg::route::RouteTable> table;
  try {
    table = mg::net::load_route_table(options);
  } catch (const mg::config::ConfigError& e) {
    std::cerr << "mirrorgate: config error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mirrorgate: " << e.what() << std::endl;
    return 1;
  }
  try {
    return mg::net::run_gateway(options, std::move(table));
  } catch (const std::exception& e) {
    std::cerr << "mirrorgate: " << e.what() << std::endl;
    return 1;
  }
}
