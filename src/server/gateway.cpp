#include "server/gateway.h"

#include <algorithm>
#include <csignal>
#include <set>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "admin/admin_auth.h"
#include "admin/admin_server.h"
#include "admin/config_dump.h"
#include "admin/topology.h"
#include "config/problem.h"
#include "k8s/kubernetes_provider.h"
#include "net/certificate_expiry.h"
#include "net/tls_context.h"
#include "route/cluster_set.h"
#include "route/gateway_status_options.h"
#include "route/status.h"
#include "server/allocator.h"
#include "server/file_provider.h"
#include "server/served_config.h"
#include "server/worker.h"
#include "stats/access_log.h"
#include "stats/prometheus_text.h"

namespace mg::server {
namespace {

using ListenerAddresses = std::set<std::pair<std::string, uint16_t>>;

ListenerAddresses listener_addresses(const route::RouteTable* table) {
  ListenerAddresses out;
  if (table)
    for (const auto& l : table->listeners) out.emplace(l.address, l.port);
  return out;
}

// Gateways come and go: every worker starts accepting on the listeners `after` has and `before` had not,
// and stops on those it no longer has. A listener that cannot bind (a port in use) throws when
// `must_bind` (the first config: nothing would serve it), else it is logged and left out.
void apply_listener_changes(std::vector<std::unique_ptr<Worker>>& workers, const route::RouteTable* before,
                            const route::RouteTable& after, bool must_bind) {
  const ListenerAddresses old_set = listener_addresses(before), new_set = listener_addresses(&after);
  for (const auto& [address, port] : old_set) {
    if (new_set.count({address, port})) continue;
    for (auto& w : workers) w->remove_listener(address, port);
    spdlog::info("listener on {}:{} removed", address, port);
  }
  for (const auto& l : after.listeners) {
    if (old_set.count({l.address, l.port})) continue;
    try {
      for (auto& w : workers) w->add_listener(l.address, l.port);
      spdlog::info("listener {}/{} on {}:{}", l.gateway, l.name, l.address, l.port);
    } catch (const std::exception& e) {
      for (auto& w : workers) w->remove_listener(l.address, l.port);  // the workers that did bind
      const std::string message = fmt::format("Gateway {} listener {}: {}", l.gateway, l.name, e.what());
      if (must_bind) throw std::runtime_error(message);
      spdlog::error("{}; not served", message);
    }
  }
}

// Every worker's copy of one of its bounded rings (mirror trace, mismatches), in one list.
template <typename Snapshot>
auto gather(const std::vector<std::unique_ptr<Worker>>& workers, Snapshot snapshot) {
  decltype((std::declval<Worker&>().*snapshot)()) all;
  for (const auto& w : workers) {
    auto part = ((*w).*snapshot)();
    all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return all;
}

// request_id=ID&since_us=T&limit=N (values are plain tokens; no percent-decoding is needed for them).
mirror::TraceQuery parse_trace_query(std::string_view query) {
  mirror::TraceQuery q;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    try {
      if (key == "request_id") q.request_id = value;
      if (key == "since_us") q.since_us = std::stoll(std::string(value));
      if (key == "limit") q.limit = std::stoul(std::string(value));
    } catch (const std::exception&) {
      // A malformed number keeps its default: the admin page must not fail on a typo.
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return q;
}

// Logs each line of `now` that `before` did not have: a warning or problem is logged once, when it
// appears, and a reload repeats only what it found anew (one that stays is not news).
void log_new_lines(const std::vector<std::string>& now, const std::vector<std::string>& before) {
  for (const auto& line : now)
    if (std::find(before.begin(), before.end(), line) == before.end()) spdlog::warn("{}", line);
}

// next_served_config, and at debug level what the snapshot became: how long it took and the size of
// what is served now.
ServedConfig next_served_config_logged(const ServedConfig* current, config::ObjectSet objects,
                                       const route::TranslateOptions& translation) {
  const auto started = std::chrono::steady_clock::now();
  ServedConfig next = next_served_config(current, std::move(objects), translation);
  if (!spdlog::should_log(spdlog::level::debug)) return next;
  const bool endpoints_only = current && next.table == current->table;
  size_t rules = 0;
  for (const auto& l : next.table->listeners) rules += l.rules.size();
  spdlog::debug("{} in {:.1f} ms: {} listener(s), {} rule(s), {} cluster(s)",
                endpoints_only ? "endpoints rebuilt (routes unchanged)" : "translated",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(),
                next.table->listeners.size(), rules, next.clusters->clusters.size());
  return next;
}

// The files of -c, or the Kubernetes API server.
std::unique_ptr<config::Provider> make_provider(asio::io_context& io, const GatewayOptions& options,
                                                k8s::KubernetesProvider*& kubernetes) {
  kubernetes = nullptr;
  if (!options.kubernetes.enabled) return std::make_unique<FileProvider>(io, options.config_path, options.watch_interval);
  k8s::KubernetesProviderOptions k;
  if (!options.kubernetes.kubeconfig.empty()) {
    k.connection = k8s::load_kubeconfig(options.kubernetes.kubeconfig, options.kubernetes.context);
  } else if (auto in_cluster = k8s::in_cluster_connection(options.kubernetes.service_account_dir)) {
    k.connection = std::move(*in_cluster);
  } else {
    throw std::runtime_error("not in a pod (no KUBERNETES_SERVICE_HOST/PORT, or no token and ca.crt in " +
                             options.kubernetes.service_account_dir + "): give -c FILE or --kubeconfig PATH");
  }
  k.watch_namespaces = options.kubernetes.watch_namespaces;
  k.publish_service = options.kubernetes.publish_service;
  k.status.controller_name = options.kubernetes.controller_name;
  k.status.writes_per_second = options.kubernetes.api_qps;
  k.status.burst = options.kubernetes.api_burst;
  if (options.kubernetes.leader_elect) {
    k8s::LeaderElectionOptions election;
    election.lease_namespace = !options.kubernetes.leader_elect_namespace.empty() ? options.kubernetes.leader_elect_namespace
                               : !k.connection.namespace_.empty()                 ? k.connection.namespace_
                                                                                  : "default";
    election.lease_name = options.kubernetes.leader_elect_name;
    election.lease_duration = options.kubernetes.lease_duration;
    election.renew_deadline = options.kubernetes.renew_deadline;
    election.retry_period = options.kubernetes.retry_period;
    if (election.renew_deadline >= election.lease_duration || election.retry_period >= election.renew_deadline)
      throw std::runtime_error("leader election needs retry period < renew deadline < lease duration");
    k.leader_election = election;
  }
  auto provider = std::make_unique<k8s::KubernetesProvider>(io, std::move(k));
  kubernetes = provider.get();
  return provider;
}

// The provider's own figures, after the workers' in /metrics.
std::string kubernetes_metrics(const k8s::KubernetesProvider& provider, stats::ExpositionFormat format) {
  using stats::MetricType;
  const auto writes = provider.status_counters();
  const auto count = [](uint64_t n) { return static_cast<double>(n); };
  std::string out;
  stats::append_metric(out, "mirrorgate_kubernetes_api_disconnected_seconds", MetricType::kGauge,
                       "How long the API server has been unreachable (0: connected).",
                       {{"", provider.health().disconnected_seconds()}}, format);
  stats::append_metric(out, "mirrorgate_kubernetes_api_disconnections_total", MetricType::kCounter,
                       "Times the API server became unreachable.",
                       {{"", count(provider.health().disconnections())}}, format);
  stats::append_metric(out, "mirrorgate_kubernetes_watch_errors", MetricType::kGauge,
                       "Watches that cannot list or watch right now.",
                       {{"", count(provider.watch_errors().size())}}, format);
  stats::append_metric(out, "mirrorgate_kubernetes_snapshots_total", MetricType::kCounter,
                       "Snapshots of the watched objects handed to translation.",
                       {{"", count(provider.snapshots())}}, format);
  stats::append_metric(out, "mirrorgate_kubernetes_status_writes_total", MetricType::kCounter,
                       "Status writes to the API server, by result.",
                       {{"result=\"written\"", count(writes.written)},
                        {"result=\"unchanged\"", count(writes.unchanged)},
                        {"result=\"conflict\"", count(writes.conflicts)},
                        {"result=\"failed\"", count(writes.failed)}},
                       format);
  stats::append_metric(out, "mirrorgate_kubernetes_status_writer", MetricType::kGauge,
                       "Whether this replica writes status (1: leader, or no election).",
                       {{"", provider.writes_status() ? 1.0 : 0.0}}, format);
  return out;
}

// How reloads went (guarded by current_mutex, like the rest of what the admin thread reads).
struct ReloadFigures {
  uint64_t applied = 0;   // snapshots served (the first included), endpoint-only updates too
  uint64_t rejected = 0;  // snapshots that could not be served as a whole: the previous config kept serving
  bool last_rejected = false;
  size_t problems = 0;  // objects the last snapshot left out or kept at their previous version
};

// The config's figures and the listeners' certificates, after the workers' in /metrics.
std::string config_metrics(const ReloadFigures& reloads, const route::RouteTable& table,
                           stats::ExpositionFormat format) {
  using stats::MetricType;
  std::string out;
  stats::append_metric(
      out, "mirrorgate_config_reloads_total", MetricType::kCounter,
      "Configuration snapshots from the provider, by result: applied, or rejected (the previous "
      "config keeps serving; lastReloadError in /status says why).",
      {{"result=\"applied\"", static_cast<double>(reloads.applied)},
       {"result=\"rejected\"", static_cast<double>(reloads.rejected)}},
      format);
  stats::append_metric(out, "mirrorgate_config_last_reload_successful", MetricType::kGauge,
                       "Whether the provider's last snapshot was applied (1) or rejected (0).",
                       {{"", reloads.last_rejected ? 0.0 : 1.0}}, format);
  stats::append_metric(
      out, "mirrorgate_config_problems", MetricType::kGauge,
      "Objects the last snapshot left out or kept at their previous version (configProblems in "
      "/status).",
      {{"", static_cast<double>(reloads.problems)}}, format);
  constexpr std::string_view name = "mirrorgate_listener_certificate_expiry_timestamp_seconds";
  stats::append_family_header(
      out, name, MetricType::kGauge,
      "When a certificate of an HTTPS listener expires (its leaf's notAfter), in seconds "
      "since the Unix epoch; by Gateway, listener and position among its certificateRefs.",
      format);
  for (const auto& listener : table.listeners) {
    if (!listener.tls) continue;
    for (const auto& cert : listener.tls->certificates())
      for (size_t i = 0; i < cert.pairs.size(); ++i)
        if (auto not_after = net::certificate_not_after(cert.pairs[i].cert_pem))
          fmt::format_to(
              std::back_inserter(out), "{}{{gateway=\"{}\",listener=\"{}\",certificate=\"{}\"}} {}\n", name,
              stats::escape_label_value(listener.gateway), stats::escape_label_value(cert.section), i, *not_after);
  }
  return out;
}

// Every worker's counters, merged (for /metrics and /topology).
stats::WorkerStats merged_stats(const std::vector<std::unique_ptr<Worker>>& workers) {
  stats::WorkerStats merged;
  for (const auto& w : workers) merged.merge(w->snapshot_stats());
  return merged;
}

std::vector<std::string> messages(const std::vector<config::ConfigProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.message);
  return out;
}

}  // namespace

int run_gateway(const GatewayOptions& options) {
  // An admin listener that would refuse to start is refused before anything else starts.
  const std::string admin_token =
      options.admin_token_file.empty() ? std::string() : admin::read_token_file(options.admin_token_file);
  admin::require_token_off_loopback(options.admin_address, admin_token);
  // Signals are claimed before any thread starts, so none can arrive with the default disposition
  // (the provider claims SIGHUP).
  asio::io_context signals_io(1);
  asio::signal_set signals(signals_io, SIGTERM, SIGINT);
  // SIGUSR1 reopens the access log (logrotate moves the file, then signals): claimed from the start,
  // since its default disposition would end the process.
  stats::AccessLog access_log(options.access_log, options.access_log_format);
  asio::signal_set rotation(signals_io, SIGUSR1);
  std::function<void(std::error_code, int)> on_rotation = [&](std::error_code ec, int) {
    if (ec) return;
    std::string message;
    if (access_log.reopen(message)) {
      spdlog::info("SIGUSR1: {}", message);
    } else {
      spdlog::error("SIGUSR1: {}", message);
    }
    rotation.async_wait(on_rotation);
  };
  rotation.async_wait(on_rotation);
  k8s::KubernetesProvider* kubernetes = nullptr;
  std::unique_ptr<config::Provider> provider = make_provider(signals_io, options, kubernetes);
  route::TranslateOptions translation;
  translation.controller_name = options.kubernetes.controller_name;
  translation.publish_service = options.kubernetes.publish_service;
  std::optional<route::AddressPool> address_pool;
  if (!options.gateway_address_pool.empty()) {
    std::string error;
    address_pool = route::AddressPool::parse(options.gateway_address_pool, error);
    if (!address_pool) throw std::invalid_argument("--gateway-address-pool: " + error);
    translation.address_pool = &*address_pool;
  }
  // In a cluster, a parentRef to a Gateway that does not exist may be another controller's: no entry.
  route::StatusOptions status_options = route::gateway_status_options();
  status_options.controller_name = options.kubernetes.controller_name;
  status_options.report_missing_parents = !kubernetes;

  ServedConfig current;  // its table is null until the provider's first snapshot
  // Counts the tables served (not the ClusterSets): /status's objects change with the table only, and the
  // admin page asks for them again only when this moved (guarded by current_mutex).
  uint64_t table_version = 0;
  std::mutex current_mutex;  // the admin thread reads `current` for /config_dump and /status
  std::string last_reload_error;
  // The objects the provider left out (or kept at their previous version) in its last snapshot, one
  // line each; guarded by current_mutex like last_reload_error.
  std::vector<std::string> config_problems;
  ReloadFigures reload_figures;  // guarded by current_mutex
  std::vector<std::unique_ptr<Worker>> workers;
  // A reload parses and translates on this thread; workers swap to the new table between requests,
  // and requests in flight finish on the table they pinned. A change of EndpointSlices alone is not
  // translated: the workers get new clusters for the table they have. A snapshot that cannot be served
  // as a whole keeps the old config.
  auto reload = [&](config::ObjectSet objects, std::vector<std::string> problems) {
    try {
      ServedConfig next = next_served_config_logged(&current, std::move(objects), translation);
      const bool endpoints_only = next.table == current.table;
      log_new_lines(next.table->warnings, current.table->warnings);
      log_new_lines(next.clusters->warnings, current.clusters->warnings);
      for (auto& w : workers) {
        if (endpoints_only)
          w->post_clusters(next.clusters);
        else
          w->post_table(next.table, next.clusters);
      }
      // After the table: a new listener's first connection finds its listener in the worker's table.
      if (!endpoints_only) apply_listener_changes(workers, current.table.get(), *next.table, false);
      const std::string with_problems =
          problems.empty() ? ""
                           : fmt::format(" with {} config problem(s), see configProblems in /status",
                                         problems.size());
      if (kubernetes && !endpoints_only) kubernetes->publish_status(route::status_json(*next.table, status_options));
      if (endpoints_only)
        spdlog::info("endpoints updated: {} cluster(s) changed, routes not translated again{}",
                     route::changed_clusters(*current.clusters, *next.clusters), with_problems);
      else
        spdlog::info("reload applied{}", with_problems);
      std::lock_guard lock(current_mutex);
      if (!endpoints_only) ++table_version;
      current = std::move(next);
      last_reload_error = fmt::format("{}", fmt::join(problems, "; "));
      ++reload_figures.applied;
      reload_figures.last_rejected = false;
      reload_figures.problems = problems.size();
      config_problems = std::move(problems);
    } catch (const std::exception& e) {
      spdlog::error("reload rejected, previous config keeps serving: {}", e.what());
      std::lock_guard lock(current_mutex);
      last_reload_error = e.what();
      ++reload_figures.rejected;
      reload_figures.last_rejected = true;
    }
  };
  provider->start([&](config::ObjectSet objects, std::vector<config::ConfigProblem> problems) {
    auto lines = messages(problems);
    log_new_lines(lines, config_problems);
    if (current.table) return reload(std::move(objects), std::move(lines));
    ServedConfig first = next_served_config_logged(nullptr, std::move(objects), translation);  // throws: nothing to keep serving
    log_new_lines(first.table->warnings, {});
    log_new_lines(first.clusters->warnings, {});
    if (kubernetes) kubernetes->publish_status(route::status_json(*first.table, status_options));
    std::lock_guard lock(current_mutex);
    current = std::move(first);
    ++table_version;
    ++reload_figures.applied;
    reload_figures.problems = lines.size();
    config_problems = std::move(lines);
  });
  // A provider other than files may deliver its first set later (the API server may not answer yet);
  // SIGTERM meanwhile ends the wait.
  bool stopping = false;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signal) {
    if (ec) return;
    stopping = true;
    spdlog::info("{}: {}", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                 current.table ? fmt::format("draining (up to {} ms)", options.drain_timeout.count())
                               : std::string("stopping before the first configuration arrived"));
  };
  signals.async_wait(on_signal);
  while (!current.table && !stopping) signals_io.run_one();
  if (!current.table) {
    provider->stop();
    return 0;
  }
  const std::shared_ptr<const route::RouteTable> table = current.table;

  size_t worker_count = options.workers ? options.workers : std::max(1u, std::thread::hardware_concurrency());

  for (size_t i = 0; i < worker_count; ++i)
    workers.push_back(std::make_unique<Worker>(i, options, access_log, table, current.clusters));
  apply_listener_changes(workers, nullptr, *table, true);
  if (table->listeners.empty()) spdlog::warn("no listeners yet: no Gateway of this controller with an HTTP listener");

  std::atomic<bool> ready{false};
  admin::AdminServer admin(
      options.admin_address,
      admin::AdminHandlers{
          .ready = [&] { return ready.load(); },
          .metrics =
              [&](stats::ExpositionFormat format) {
                std::string text = stats::render_prometheus(merged_stats(workers), format);
                if (kubernetes) text += kubernetes_metrics(*kubernetes, format);
                ReloadFigures figures;
                std::shared_ptr<const route::RouteTable> table_now;
                {
                  std::lock_guard lock(current_mutex);
                  figures = reload_figures;
                  table_now = current.table;
                }
                text += config_metrics(figures, *table_now, format);
                return text;
              },
          .status =
              [&] {
                ServedConfig now;
                std::string reload_error;
                std::vector<std::string> problems;
                {
                  std::lock_guard lock(current_mutex);
                  now = current;
                  reload_error = last_reload_error;
                  problems = config_problems;
                }
                // The conditions were decided once, by the translation that built the table.
                auto doc = route::status_json(*now.table, status_options);
                if (kubernetes) doc["kubernetesWatchErrors"] = kubernetes->watch_errors();
                doc["lastReloadError"] = reload_error;
                doc["configProblems"] = std::move(problems);
                auto warnings = now.table->warnings;  // the routes', then the endpoints'
                warnings.insert(warnings.end(), now.clusters->warnings.begin(), now.clusters->warnings.end());
                doc["warnings"] = std::move(warnings);
                return doc.dump(1) + "\n";
              },
          .config_dump =
              [&] {
                std::lock_guard lock(current_mutex);
                return admin::config_dump_json(*current.table, *current.clusters);
              },
          .mirrors =
              [&](std::string_view query) {
                return mirror::trace_json(gather(workers, &Worker::snapshot_mirror_trace),
                                          gather(workers, &Worker::snapshot_primary_outcomes),
                                          parse_trace_query(query));
              },
          .mirror_diff =
              [&](std::string_view query) {
                return mirror::mismatches_json(gather(workers, &Worker::snapshot_mismatches),
                                               parse_trace_query(query));
              },
          .topology =
              [&] {
                const stats::WorkerStats merged = merged_stats(workers);
                const double now_s =
                    std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
                ServedConfig now;
                uint64_t version = 0;
                {
                  std::lock_guard lock(current_mutex);
                  now = current;
                  version = table_version;
                }
                return admin::topology_json(*now.table, *now.clusters, merged, now_s, version);
              },
      },
      admin_token);
  for (auto& w : workers) w->start();
  admin.start();
  ready = true;
  spdlog::info("mirrorgate ready: {} workers, admin on {}, allocator {}", worker_count, options.admin_address,
               allocator_name());
  while (!stopping) signals_io.run_one();
  provider->stop();

  ready = false;
  for (auto& w : workers) w->begin_drain();
  auto deadline = std::chrono::steady_clock::now() + options.drain_timeout;
  auto busy = [&] {
    for (auto& w : workers)
      if (w->in_flight() > 0) return true;
    return false;
  };
  while (busy() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  admin.stop();
  for (auto& w : workers) w->stop_and_join();
  workers.clear();
  spdlog::info("stopped");
  return 0;
}

}  // namespace mg::server
