// mirrorgate: a Kubernetes Gateway API gateway. Entry point: options, config, run.

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "admin/mirror_diff_command.h"
#include "admin/mirrors_command.h"
#include "common/version.h"
#include "config/loader.h"
#include "route/address_pool.h"
#include "route/supported_features.h"
#include "server/gateway.h"
#include "server/status_command.h"

int main(int argc, char** argv) {
  mg::server::GatewayOptions options;
  CLI::App app{"mirrorgate: a Kubernetes Gateway API gateway with provable traffic mirroring"};
  app.add_option("-c,--config", options.config_path,
                 "YAML file or directory of Kubernetes objects (GatewayClass, Gateway, HTTPRoute, Service, "
                 "EndpointSlice, ...)");
  // Kubernetes mode, with flags named as controller-runtime programs name them.
  auto* kubeconfig = app.add_option("--kubeconfig", options.kubernetes.kubeconfig,
                                    "read objects from the Kubernetes API server of this kubeconfig (without -c "
                                    "or --kubeconfig, in a pod: its service account)")
                         ->group("Kubernetes");
  app.add_option("--context", options.kubernetes.context, "kubeconfig context (default: its current-context)")
      ->group("Kubernetes");
  app.add_option("--service-account-dir", options.kubernetes.service_account_dir,
                 "without --kubeconfig: the directory of the pod's service-account token, ca.crt and namespace")
      ->capture_default_str()
      ->group("Kubernetes");
  app.add_option("--controller-name", options.kubernetes.controller_name,
                 "serve GatewayClasses whose spec.controllerName is this")
      ->capture_default_str()
      ->group("Kubernetes");
  app.add_option("--watch-namespace", options.kubernetes.watch_namespaces,
                 "watch only this namespace (repeatable; default: all)")
      ->group("Kubernetes");
  app.add_option("--publish-service", options.kubernetes.publish_service,
                 "NAMESPACE/NAME of the Service clients reach the gateway through: its load-balancer address "
                 "is the status.addresses of every Gateway that asks for none")
      ->check([](const std::string& v) -> std::string {
        const auto slash = v.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == v.size() || v.find('/', slash + 1) != std::string::npos)
          return "expected NAMESPACE/NAME, got \"" + v + "\"";
        return "";
      })
      ->group("Kubernetes");
  app.add_option("--gateway-address-pool", options.gateway_address_pool,
                 "IPv4 CIDR (e.g. 127.0.100.0/24) whose addresses Gateways that ask for none get, each its own, "
                 "bound and reported in status.addresses, as a load balancer controller would")
      ->check([](const std::string& v) -> std::string {
        std::string error;
        return mg::route::AddressPool::parse(v, error) ? "" : error;
      });
  app.add_option("--kube-api-qps", options.kubernetes.api_qps, "status writes per second to the API server")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group("Kubernetes");
  app.add_option("--kube-api-burst", options.kubernetes.api_burst, "status writes allowed in a burst")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group("Kubernetes");
  app.add_flag("--leader-elect", options.kubernetes.leader_elect,
               "elect one replica (on a coordination.k8s.io Lease) to write status; all serve traffic")
      ->group("Kubernetes");
  app.add_option("--leader-elect-resource-namespace", options.kubernetes.leader_elect_namespace,
                 "namespace of the Lease (default: the pod's, else default)")
      ->group("Kubernetes");
  app.add_option("--leader-elect-resource-name", options.kubernetes.leader_elect_name, "name of the Lease")
      ->capture_default_str()
      ->group("Kubernetes");
  kubeconfig->excludes(app.get_option("-c"));
  bool print_features = false;
  app.add_flag("--supported-features", print_features,
               "print the Gateway API features this build supports, one per line, and exit");
  app.add_option("--workers", options.workers, "worker threads (default: one per core)");
  app.add_option("--admin", options.admin_address, "admin listener ADDRESS:PORT")->capture_default_str();
  app.add_option("--admin-token-file", options.admin_token_file,
                 "file holding the bearer token every admin endpoint but /ready asks for (required when --admin "
                 "is not a loopback address)");
  app.add_option("--access-log", options.access_log,
                 "access log: '-' (stdout), 'off', or a file path (reopened on SIGUSR1, for log rotation)")
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--access-log-format",
         [&options](const std::string& name) {
           if (!mg::stats::parse_access_log_format(name, options.access_log_format))
             throw CLI::ValidationError("must be json or text");
         },
         "access log lines: json, or text (Envoy/nginx style; same fields, same order)")
      ->default_str("json");
  app.add_option_function<double>(
         "--trace-sampling-ratio",
         [&options](double ratio) {
           if (!(ratio >= 0 && ratio <= 1)) throw CLI::ValidationError("must be a number from 0 to 1");
           options.session.trace_sampling_ratio = ratio;
         },
         "W3C trace context: the probability (0..1) that a trace the gateway starts (no valid traceparent "
         "came) is sampled; a client's traceparent keeps its own decision")
      ->default_str("1");
  app.set_version_flag("--version",
                       fmt::format("mirrorgate {} (commit {})\nGateway API gateway.networking.k8s.io/v1: {} "
                                   "supported features (--supported-features lists them)",
                                   mg::version(), mg::build_commit(), mg::route::kSupportedFeatures.size()));
  // An unknown name must not pass: spdlog would read it as "off" and silence every line, errors included.
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  // Every limit and timeout has a flag; durations are in seconds and may be fractional.
  auto seconds_option = [&](const char* name, std::chrono::milliseconds& target, const char* help) {
    app.add_option_function<double>(
           name,
           [&target](double s) {
             if (s <= 0) throw CLI::ValidationError("must be a positive number of seconds");
             target = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
           },
           help)
        ->group("Timeouts (seconds)")
        ->default_str(std::to_string(static_cast<double>(target.count()) / 1000));
  };
  seconds_option("--leader-elect-lease-duration", options.kubernetes.lease_duration,
                 "how long a Lease holds without renewal before another replica may take it");
  seconds_option("--leader-elect-renew-deadline", options.kubernetes.renew_deadline,
                 "how long the leader keeps trying to renew before it stops leading");
  seconds_option("--leader-elect-retry-period", options.kubernetes.retry_period,
                 "how often candidates try to take the Lease and the leader renews it");
  seconds_option("--header-timeout", options.session.header_timeout, "time for a client to send a whole request head");
  seconds_option("--tls-handshake-timeout", options.session.tls_handshake_timeout,
                 "HTTPS listeners: from the accept to a finished TLS handshake (the connection is closed after)");
  seconds_option("--idle-timeout", options.session.idle_timeout, "keep-alive client connection with no request");
  seconds_option("--tunnel-idle-timeout", options.session.tunnel_idle_timeout,
                 "an upgraded connection (WebSocket) with no byte either way is closed after this long");
  seconds_option("--connect-timeout", options.session.connect_timeout, "upstream TCP connect");
  seconds_option("--response-timeout", options.session.response_timeout,
                 "upstream response head, and each read of a body (408/504 where a response is possible)");
  seconds_option("--upstream-idle-timeout", options.upstream_idle_timeout,
                 "an idle pooled connection to a backend is closed after this long");
  app.add_option("--upstream-max-idle-per-endpoint", options.upstream_max_idle_per_endpoint,
                 "idle connections a worker keeps per backend endpoint; beyond, the oldest is closed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  seconds_option("--drain-timeout", options.drain_timeout, "on SIGTERM, time left for in-flight requests");
  seconds_option("--mirror-timeout", options.mirror.timeout, "a whole mirror exchange");
  app.add_option_function<double>(
         "--watch-interval",
         [&options](double s) {
           if (s < 0) throw CLI::ValidationError("must be 0 (off) or a positive number of seconds");
           options.watch_interval = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
         },
         "how often to check the config files for changes (0: reload on SIGHUP only)")
      ->group("Timeouts (seconds)")
      ->default_str("1");
  app.add_option("--max-request-line", options.session.limits.max_request_line, "bytes (414 beyond)")
      ->group("Limits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-header-bytes", options.session.limits.max_header_bytes, "bytes of a request head (431 beyond)")
      ->group("Limits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-headers", options.session.limits.max_headers, "header fields in a request (431 beyond)")
      ->group("Limits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-request-body", options.session.max_request_body, "bytes, 0 = unlimited (413 beyond)")
      ->group("Limits")
      ->capture_default_str();
  app.add_option("--http2-max-concurrent-streams", options.session.http2_max_concurrent_streams,
                 "streams an HTTP/2 client may open at once on one connection")
      ->group("Limits")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--max-connections", options.max_connections_per_worker, "client connections per worker")
      ->group("Limits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--mirror-body-limit", options.mirror.body_limit, "bytes; larger bodies are not mirrored")
      ->group("Mirroring")
      ->capture_default_str();
  app.add_option("--mirror-max-in-flight", options.mirror.max_in_flight,
                 "mirror copies in flight per worker, all mirror backends together; beyond, copies are dropped "
                 "(counted)")
      ->group("Mirroring")
      ->capture_default_str();
  app.add_option("--mirror-backend-max-in-flight", options.mirror.backend_max_in_flight,
                 "mirror copies in flight per mirror backend and worker, unless a MirrorPolicy sets maxInFlight; "
                 "beyond, copies are dropped (counted)")
      ->group("Mirroring")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--mirror-pipeline-depth", options.mirror.pipeline_depth,
                 "mirror copies to one HTTP/1.1 mirror endpoint launched in the same event-loop turn that go out "
                 "pipelined in one write on one connection; 1 sends one copy per connection")
      ->group("Mirroring")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--mirror-backend-max-bytes", options.mirror.backend_max_bytes,
                 "request bytes of the mirror copies in flight per mirror backend and worker, unless a "
                 "MirrorPolicy sets maxBytesInFlight; beyond, copies are dropped (counted)")
      ->group("Mirroring")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  // Subcommands: tools a user runs beside the gateway.
  std::string status_config;
  auto* status_cmd = app.add_subcommand("status", "print the Gateway API objects of a config with the status "
                                                  "mirrorgate computes for them (YAML, as kubectl get -o yaml)");
  status_cmd->add_option("-c,--config", status_config, "YAML file or directory")->required();
  mg::admin::MirrorsCommandOptions mirrors_options;
  auto* mirrors_cmd = app.add_subcommand(
      "mirrors", "was a request mirrored, to which pod, and what did that pod answer? (asks a running gateway)");
  mirrors_cmd->add_option("--admin", mirrors_options.admin, "admin listener of the gateway")->capture_default_str();
  mirrors_cmd->add_option("--admin-token-file", mirrors_options.admin_token_file,
                          "file holding the admin token, when the admin listener asks for one");
  mirrors_cmd->add_option("--request-id", mirrors_options.request_id, "only this request (its X-Request-Id)");
  mirrors_cmd
      ->add_option("--limit", mirrors_options.limit, "newest copies to show (with -f: those shown first, 0 = only new)")
      ->capture_default_str();
  mirrors_cmd->add_flag("-f,--follow", mirrors_options.follow, "keep printing new mirror copies");
  mirrors_cmd->add_option("--follow-seconds", mirrors_options.follow_seconds, "stop following after this long");
  mirrors_cmd->add_flag("--json", mirrors_options.json, "one JSON object per line");
  mirrors_cmd->add_flag("--diff", mirrors_options.diff,
                        "show mirror responses that differed from the primary's (response comparison)");
  CLI11_PARSE(app, argc, argv);
  if (*status_cmd) return mg::server::run_status_command(status_config, std::cout, std::cerr);
  if (*mirrors_cmd && mirrors_options.diff)
    return mg::admin::run_mirror_diff_command(mirrors_options, std::cout, std::cerr);
  if (*mirrors_cmd) return mg::admin::run_mirrors_command(mirrors_options, std::cout, std::cerr);
  if (print_features) {
    for (auto feature : mg::route::kSupportedFeatures) std::cout << feature << '\n';
    return 0;
  }
  // In a pod, with neither -c nor --kubeconfig, the service account's API server is the source.
  options.kubernetes.enabled =
      !options.kubernetes.kubeconfig.empty() || (options.config_path.empty() && std::getenv("KUBERNETES_SERVICE_HOST"));
  if (options.config_path.empty() && !options.kubernetes.enabled) {
    std::cerr << "mirrorgate: give -c (a YAML file or a directory of them) or --kubeconfig\n" << app.help();
    return 2;
  }
  if (!options.kubernetes.enabled && !options.kubernetes.publish_service.empty()) {
    std::cerr << "mirrorgate: --publish-service reads a Service's status from the API server: it needs "
                 "--kubeconfig (or a pod's service account), not -c\n";
    return 2;
  }

  if (!options.kubernetes.publish_service.empty() && !options.gateway_address_pool.empty()) {
    std::cerr << "mirrorgate: --publish-service and --gateway-address-pool both say where Gateways that ask for no "
                 "address are reached; give one\n";
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("mirrorgate");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  // A client or log reader that goes away must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  try {
    return mg::server::run_gateway(options);
  } catch (const mg::config::ConfigError& e) {
    std::cerr << "mirrorgate: config error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mirrorgate: " << e.what() << std::endl;
    return 1;
  }
}
