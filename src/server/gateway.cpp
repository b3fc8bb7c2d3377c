#include "server/gateway.h"

#include <csignal>
#include <algorithm>
#include <map>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <asio/steady_timer.hpp>

#include "admin/admin_server.h"
#include "admin/config_dump.h"
#include "config/generations.h"
#include "config/loader.h"
#include "server/config_watcher.h"
#include "server/worker.h"
#include "stats/access_log.h"
#include "route/status.h"
#include "route/status_command.h"
#include "route/translator.h"

namespace mg::server {
namespace {

// Listeners are identified by address:port; two listeners on the same pair would split connections
// between them at random (SO_REUSEPORT), so that is refused up front.
void check_listeners(const route::RouteTable& table) {
  std::map<std::pair<std::string, uint16_t>, const route::Listener*> seen;
  for (const auto& l : table.listeners) {
    auto [it, inserted] = seen.emplace(std::make_pair(l.address, l.port), &l);
    if (!inserted)
      throw std::runtime_error(fmt::format("Gateways {} and {} both listen on {}:{}; give each its own address "
                                           "(spec.addresses)",
                                           it->second->gateway, l.gateway, l.address, l.port));
  }
}

bool same_listeners(const route::RouteTable& a, const route::RouteTable& b) {
  if (a.listeners.size() != b.listeners.size()) return false;
  for (size_t i = 0; i < a.listeners.size(); ++i)
    if (a.listeners[i].address != b.listeners[i].address || a.listeners[i].port != b.listeners[i].port)
      return false;
  return true;
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

}  // namespace

std::shared_ptr<const route::RouteTable> load_route_table(const GatewayOptions& options,
                                                          const route::RouteTable* previous) {
  auto objects = config::load_path(options.config_path);
  if (previous) config::carry_generations(*previous->objects, objects);
  auto table = route::translate(objects);
  check_listeners(*table);
  // Once per change: a reload repeats only what it found anew (a warning that stays is not news).
  for (const auto& w : table->warnings)
    if (!previous || std::find(previous->warnings.begin(), previous->warnings.end(), w) == previous->warnings.end())
      spdlog::warn("{}", w);
  return table;
}

int run_gateway(const GatewayOptions& options, std::shared_ptr<const route::RouteTable> table) {
  stats::AccessLog access_log(options.access_log);
  size_t worker_count = options.workers ? options.workers : std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < worker_count; ++i)
    workers.push_back(std::make_unique<Worker>(i, options, access_log, table));
  for (size_t li = 0; li < table->listeners.size(); ++li) {
    const auto& l = table->listeners[li];
    std::error_code ec;
    auto address = asio::ip::make_address(l.address, ec);
    if (ec) throw std::runtime_error(fmt::format("Gateway {}: \"{}\" is not an IP address", l.gateway, l.address));
    try {
      for (auto& w : workers) w->add_listener(li, {address, l.port});
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("Gateway {} listener {}: {}", l.gateway, l.name, e.what()));
    }
    spdlog::info("listener {}/{} on {}:{}", l.gateway, l.name, l.address, l.port);
  }
  if (table->listeners.empty()) spdlog::warn("no listeners: no Gateway of this controller with an HTTP listener");

  std::shared_ptr<const route::RouteTable> current = table;
  std::mutex current_mutex;  // the admin thread reads `current` for /config_dump and /status
  std::string last_reload_error;
  std::atomic<bool> ready{false};
  admin::AdminServer admin(
      options.admin_address,
      admin::AdminHandlers{
          .ready = [&] { return ready.load(); },
          .metrics =
              [&] {
                stats::WorkerStats merged;
                for (auto& w : workers) merged.merge(w->snapshot_stats());
                return stats::render_prometheus(merged);
              },
          .status =
              [&] {
                std::shared_ptr<const route::RouteTable> table_now;
                std::string reload_error;
                {
                  std::lock_guard lock(current_mutex);
                  table_now = current;
                  reload_error = last_reload_error;
                }
                auto status_options = route::gateway_status_options(*table_now->objects);
                for (const auto& [route_name, problems] : table_now->route_problems)
                  status_options.route_problems[route_name] = fmt::format("{}", fmt::join(problems, "; "));
                auto doc = route::compute_status(*table_now->objects, status_options);
                doc["lastReloadError"] = reload_error;
                doc["warnings"] = table_now->warnings;
                return doc.dump(1) + "\n";
              },
          .config_dump =
              [&] {
                std::lock_guard lock(current_mutex);
                return admin::config_dump_json(*current);
              },
          .mirrors =
              [&](std::string_view query) {
                return mirror::trace_json(gather(workers, &Worker::snapshot_mirror_trace),
                                          parse_trace_query(query));
              },
          .mirror_diff =
              [&](std::string_view query) {
                return mirror::mismatches_json(gather(workers, &Worker::snapshot_mismatches),
                                               parse_trace_query(query));
              },
      });
  // Signals are claimed before any thread starts, so none can arrive with the default disposition.
  asio::io_context signals_io(1);
  asio::signal_set signals(signals_io, SIGTERM, SIGINT, SIGHUP);
  for (auto& w : workers) w->start();
  admin.start();
  ready = true;
  spdlog::info("mirrorgate ready: {} workers, admin on {}", worker_count, options.admin_address);
  bool stopping = false;
  // A reload parses and translates on this thread; workers swap to the new table between requests,
  // and requests in flight finish on the table they pinned. A config that fails keeps the old one.
  std::string fingerprint = config_fingerprint(options.config_path);
  auto reload = [&](std::string_view why) {
    spdlog::info("{}: reloading {}", why, options.config_path);
    fingerprint = config_fingerprint(options.config_path);
    try {
      auto next = load_route_table(options, current.get());
      if (!same_listeners(*current, *next)) {
        const char* problem = "listener addresses or ports changed; restart to apply them";
        spdlog::error("reload rejected, previous config keeps serving: {}", problem);
        std::lock_guard lock(current_mutex);
        last_reload_error = problem;
        return;
      }
      for (auto& w : workers) w->post_table(next);
      std::lock_guard lock(current_mutex);
      current = next;
      last_reload_error.clear();
      spdlog::info("reload applied");
    } catch (const std::exception& e) {
      spdlog::error("reload rejected, previous config keeps serving: {}", e.what());
      std::lock_guard lock(current_mutex);
      last_reload_error = e.what();
    }
  };
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      reload("SIGHUP");
      signals.async_wait(on_signal);
      return;
    }
    stopping = true;
    spdlog::info("{}: draining (up to {} ms)", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                 options.drain_timeout.count());
  };
  asio::steady_timer watch_timer(signals_io);
  std::function<void(std::error_code)> on_watch = [&](std::error_code ec) {
    if (ec || stopping) return;
    if (config_fingerprint(options.config_path) != fingerprint) reload("config files changed");
    watch_timer.expires_after(options.watch_interval);
    watch_timer.async_wait(on_watch);
  };
  if (options.watch_interval.count() > 0) {
    watch_timer.expires_after(options.watch_interval);
    watch_timer.async_wait(on_watch);
  }
  signals.async_wait(on_signal);
  while (!stopping) signals_io.run_one();
  watch_timer.cancel();

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
