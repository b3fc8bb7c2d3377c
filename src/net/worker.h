#pragma once
// One worker thread: its own io_context, listening sockets (SO_REUSEPORT, so the kernel spreads
// connections), upstream pools, load-balancer state and stats. A connection never leaves its worker,
// so nothing here is locked; other threads talk to a worker only by posting to its io_context.

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "mirror/endpoint_ejection.h"
#include "mirror/mirror_budget.h"
#include "mirror/mirror_trace.h"
#include "mirror/mismatch_log.h"
#include "net/deadline_sweeper.h"
#include "net/gateway_options.h"
#include "proxy/access_log.h"
#include "route/route_table.h"
#include "stats/worker_stats.h"
#include "upstream/connection_pool.h"
#include "upstream/load_balancer.h"

namespace mg::net {

class Worker {
 public:
  Worker(size_t index, const GatewayOptions& options, proxy::AccessLog& access_log,
         std::shared_ptr<const route::RouteTable> table);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds a listening socket for table listener `listener_index`; throws with a clear message on failure.
  void add_listener(size_t listener_index, const asio::ip::tcp::endpoint& endpoint);
  void start();
  // Stops accepting; connections finish their current request and then close.
  void begin_drain();
  void stop_and_join();

  // From any thread: the new table is pinned by requests that start after the swap.
  void post_table(std::shared_ptr<const route::RouteTable> table);
  // From any thread: a copy of this worker's counters, taken on the worker thread.
  stats::WorkerStats snapshot_stats();
  // From any thread: a copy of this worker's recent mirror outcomes.
  std::vector<mirror::MirrorOutcome> snapshot_mirror_trace();
  // From any thread: a copy of this worker's recent response mismatches.
  std::vector<mirror::Mismatch> snapshot_mismatches();

  // Worker-thread accessors used by the data plane.
  asio::io_context& io() { return *io_; }
  const std::shared_ptr<const route::RouteTable>& table() const { return table_; }
  const GatewayOptions& options() const { return options_; }
  proxy::AccessLog& access_log() { return access_log_; }
  stats::WorkerStats& stats() { return stats_; }
  mirror::MirrorTrace& mirror_trace() { return mirror_trace_; }
  mirror::MirrorBudgets& mirror_budgets() { return mirror_budgets_; }
  mirror::EndpointEjections& mirror_ejections() { return mirror_ejections_; }
  mirror::MismatchRing& mismatches() { return mismatches_; }
  upstream::ConnectionPool& primary_pool() { return primary_pool_; }
  upstream::ConnectionPool& mirror_pool() { return mirror_pool_; }
  upstream::LoadBalancer& balancer() { return balancer_; }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  std::atomic<int>& in_flight() { return in_flight_; }
  size_t index() const { return index_; }

 private:
  // Runs fn on the worker thread and returns its result (blocking the caller, never the worker).
  template <typename Fn>
  auto on_worker_thread(Fn fn) -> decltype(fn());
  // Once a second: closes pooled upstream connections that expired or that their backend closed.
  void schedule_pool_maintenance();

  // Declared before io_ so coroutine frames destroyed with io_ may still touch them.
  size_t index_;
  const GatewayOptions& options_;
  proxy::AccessLog& access_log_;
  stats::WorkerStats stats_;
  mirror::MirrorTrace mirror_trace_;
  mirror::MirrorBudgets mirror_budgets_{stats_.mirror_in_flight};  // copies hold slots until their frames go
  mirror::EndpointEjections mirror_ejections_;
  mirror::MismatchRing mismatches_{mirror::kMismatchesPerWorker};
  std::shared_ptr<const route::RouteTable> table_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  DeadlineSweeper sweeper_;

  std::unique_ptr<asio::io_context> io_;
  // Declared after io_: sockets must be destroyed before their io_context.
  upstream::ConnectionPool primary_pool_;
  upstream::ConnectionPool mirror_pool_;
  upstream::LoadBalancer balancer_;
  std::optional<asio::steady_timer> pool_timer_;

  struct Listener {
    size_t index;
    asio::ip::tcp::acceptor acceptor;
  };
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::thread thread_;
};

}  // namespace mg::net
