#include "net/gateway.h"

#include <csignal>
#include <map>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "admin/admin_server.h"
#include "admin/config_dump.h"
#include "config/loader.h"
#include "net/worker.h"
#include "proxy/access_log.h"
#include "route/translator.h"

namespace mg::net {
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

}  // namespace

std::shared_ptr<const route::RouteTable> load_route_table(const GatewayOptions& options) {
  auto objects = config::load_path(options.config_path);
  auto table = route::translate(objects);
  check_listeners(*table);
  for (const auto& w : table->warnings) spdlog::warn("{}", w);
  return table;
}

int run_gateway(const GatewayOptions& options, std::shared_ptr<const route::RouteTable> table) {
  proxy::AccessLog access_log(options.access_log);
  size_t worker_count = options.workers ? options.workers : std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < worker_count; ++i)
    workers.push_back(std::make_unique<Worker>(i, options, access_log, table));
  for (size_t li = 0; li < table->listeners.size(); ++li) {
    const auto& l = table->listeners[li];
    std::error_code ec;
    auto address = asio::ip::make_address(l.address, ec);
    if (ec) throw std::runtime_error(fmt::format("Gateway {}: \"{}\" is not an IP address", l.gateway, l.address));
    for (auto& w : workers) w->add_listener(li, {address, l.port});
    spdlog::info("listener {}/{} on {}:{}", l.gateway, l.name, l.address, l.port);
  }
  if (table->listeners.empty()) spdlog::warn("no listeners: no Gateway of this controller with an HTTP listener");

  std::shared_ptr<const route::RouteTable> current = table;
  std::mutex current_mutex;  // the admin thread reads `current` for /config_dump
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
          .config_dump =
              [&] {
                std::lock_guard lock(current_mutex);
                return admin::config_dump_json(*current);
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
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", options.config_path);
      try {
        auto next = load_route_table(options);
        if (!same_listeners(*current, *next)) {
          spdlog::error("reload rejected: listener addresses or ports changed; restart to apply them");
        } else {
          for (auto& w : workers) w->post_table(next);
          std::lock_guard lock(current_mutex);
          current = next;
          spdlog::info("reload applied");
        }
      } catch (const std::exception& e) {
        spdlog::error("reload rejected, previous config keeps serving: {}", e.what());
      }
      signals.async_wait(on_signal);
      return;
    }
    stopping = true;
    spdlog::info("{}: draining (up to {} ms)", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                 options.drain_timeout.count());
  };
  signals.async_wait(on_signal);
  while (!stopping) signals_io.run_one();

  ready = false;
  for (auto& w : workers) w->begin_drain();
  auto deadline = std::chrono::steady_clock::now() + options.drain_timeout;
  auto busy = [&] {
    for (auto& w : workers)
      if (w->in_flight().load() > 0) return true;
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

}  // namespace mg::net
