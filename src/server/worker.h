#pragma once
// One worker thread: its own io_context, listening sockets (SO_REUSEPORT, so the kernel spreads
// connections), upstream pools, load-balancer state and stats. A connection never leaves its worker,
// so nothing here is locked; other threads talk to a worker only by posting to its io_context.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "mirror/mirror_context.h"
#include "mirror/mirror_trace.h"
#include "mirror/mismatch_log.h"
#include "net/deadline_sweeper.h"
#include "proxy/idle_sessions.h"
#include "proxy/listener_slot.h"
#include "proxy/session_context.h"
#include "route/cluster_set.h"
#include "route/route_table.h"
#include "server/gateway_options.h"
#include "stats/worker_stats.h"
#include "upstream/connection_pool.h"
#include "upstream/load_balancer.h"

namespace mg::server {

class Worker {
 public:
  Worker(size_t index, const GatewayOptions& options, stats::AccessLog& access_log,
         std::shared_ptr<const route::RouteTable> table, std::shared_ptr<const route::ClusterSet> clusters);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds a listening socket for the table's listener at address:port (the address as the table writes
  // it); throws with a clear message on failure. Before start(), or from any thread after it (the
  // worker starts accepting there on its own thread).
  void add_listener(const std::string& address, uint16_t port);
  // From any thread: stops accepting at address:port (its Gateway went away). Its connections end as
  // their next request finds no listener there.
  void remove_listener(const std::string& address, uint16_t port);
  void start();
  // Stops accepting; connections finish their current request and then close.
  void begin_drain();
  void stop_and_join();
  // Requests being served now (any thread), for the drain.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  // From any thread: the new table, with the clusters built for it, is pinned by requests that start
  // after the swap. Both change at once: no request sees a table with another table's clusters.
  void post_table(std::shared_ptr<const route::RouteTable> table,
                  std::shared_ptr<const route::ClusterSet> clusters);
  // From any thread: new endpoints for the table the worker has, built for it (posted after that table,
  // so the worker has it by then). The load balancer keeps its place in each cluster's rotation.
  void post_clusters(std::shared_ptr<const route::ClusterSet> clusters);
  // From any thread: a copy of this worker's counters, taken on the worker thread.
  stats::WorkerStats snapshot_stats();
  // From any thread: a copy of this worker's recent mirror outcomes.
  std::vector<mirror::MirrorOutcome> snapshot_mirror_trace();
  std::vector<mirror::PrimaryOutcome> snapshot_primary_outcomes();
  // From any thread: a copy of this worker's recent response mismatches.
  std::vector<mirror::Mismatch> snapshot_mismatches();

 private:
  // Runs fn on the worker thread and returns its result (blocking the caller, never the worker).
  template <typename Fn>
  auto on_worker_thread(Fn fn) -> decltype(fn());
  // Once a second: closes pooled upstream connections that expired or that their backend closed.
  void schedule_pool_maintenance();
  struct Listener {
    std::shared_ptr<const proxy::ListenerEndpoint> endpoint;
    asio::ip::tcp::acceptor acceptor;
  };
  asio::awaitable<void> accept_loop(std::shared_ptr<Listener> listener);

  // Declared before io_ so coroutine frames destroyed with io_ may still touch them.
  size_t index_;
  const GatewayOptions& options_;
  stats::WorkerStats stats_;
  std::shared_ptr<const route::RouteTable> table_;
  std::shared_ptr<const route::ClusterSet> clusters_;  // built for table_
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  net::DeadlineSweeper sweeper_;
  proxy::IdleSessions idle_sessions_;  // outlives the sessions, whose frames may go with io_

  std::unique_ptr<asio::io_context> io_;  // reset first in ~Worker (see there)
  // Declared after io_: sockets must be destroyed before their io_context.
  upstream::LoadBalancer balancer_;
  upstream::ConnectionPool primary_pool_;
  mirror::MirrorContext mirror_;
  proxy::SessionContext session_;
  std::optional<asio::steady_timer> pool_timer_;
  size_t released_since_purge_ = 0;     // parked sessions and freed buffers whose pages are not purged yet
  uint64_t requests_at_last_tick_ = 0;  // stats_.downstream_requests_finished at the previous tick

  std::vector<std::shared_ptr<Listener>> listeners_;  // the worker thread's, once started
  bool started_ = false;
  std::thread thread_;
};

}  // namespace mg::server
