#include "server/worker.h"

#include <algorithm>
#include <future>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/exclusive_port.h"
#include "proxy/downstream_session.h"
#include "server/allocator.h"

namespace mg::server {
namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

Worker::Worker(size_t index, const GatewayOptions& options, stats::AccessLog& access_log,
               std::shared_ptr<const route::RouteTable> table,
               std::shared_ptr<const route::ClusterSet> clusters)
    : index_(index),
      options_(options),
      table_(std::move(table)),
      clusters_(std::move(clusters)),
      io_(std::make_unique<asio::io_context>(1)),
      primary_pool_(options.upstream_max_idle_per_endpoint),
      mirror_(*io_, options.mirror, options.session.limits, stats_, access_log, balancer_),
      session_{options.session,
               table_,
               clusters_,
               access_log,
               {primary_pool_, balancer_, stats_},
               mirror_,
               draining_,
               in_flight_,
               idle_sessions_} {
  balancer_.follow(clusters_);
}

Worker::~Worker() {
  stop_and_join();
  sweeper_.stop();
  pool_timer_.reset();
  listeners_.clear();
  primary_pool_.clear();
  mirror_.pool.clear();
  // Coroutines still pending (sessions, mirror copies) are destroyed with the io_context, and on their
  // way out they still use what the contexts hold (budget slots, counters, the idle list): it goes
  // first, while the members declared after it, which hold no socket or timer any more, still exist.
  io_.reset();
}

asio::awaitable<void> Worker::accept_loop(std::shared_ptr<Listener> listener) {
  auto& acceptor = listener->acceptor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or memory: back off briefly instead of spinning on the error.
      spdlog::warn("accept failed on worker {}: {}", index_, ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    std::error_code ignored;
    if (stats_.downstream_connections_active >= options_.max_connections_per_worker) {
      // Over the cap: refuse at once (as Envoy's max_downstream_connections does) rather than let a
      // flood of connections exhaust descriptors or memory for everyone already connected.
      ++stats_.downstream_connections_rejected;
      socket.close(ignored);
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), proxy::serve_downstream(session_, std::move(socket), listener->endpoint),
                   asio::detached);
  }
}

void Worker::add_listener(const std::string& address, uint16_t port) {
  std::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address, ec), port);
  if (ec) throw std::runtime_error(fmt::format("\"{}\" is not an IP address", address));
  auto listener = std::make_shared<Listener>(
      Listener{std::make_shared<const proxy::ListenerEndpoint>(proxy::ListenerEndpoint{address, port}),
               asio::ip::tcp::acceptor(*io_)});
  auto& acceptor = listener->acceptor;
  // The first worker to bind checks that no other process listens there (net/exclusive_port.h).
  if (index_ == 0) ec = net::probe_port_is_free(endpoint);
  if (!ec) acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(4096, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: {}", endpoint.address().to_string(), endpoint.port(), ec.message()));
  if (!started_) {
    listeners_.push_back(std::move(listener));
    return;
  }
  asio::post(*io_, [this, listener = std::move(listener)]() mutable {
    if (draining_) return;
    asio::co_spawn(*io_, accept_loop(listener), asio::detached);
    listeners_.push_back(std::move(listener));
  });
}

void Worker::remove_listener(const std::string& address, uint16_t port) {
  asio::post(*io_, [this, address, port] {
    std::erase_if(listeners_, [&](const std::shared_ptr<Listener>& l) {
      if (l->endpoint->address != address || l->endpoint->port != port) return false;
      std::error_code ignored;
      l->acceptor.close(ignored);  // its accept loop ends, and with it the last reference
      return true;
    });
  });
}

void Worker::start() {
  started_ = true;
  for (auto& l : listeners_) asio::co_spawn(*io_, accept_loop(l), asio::detached);
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(*io_);
    sweeper_.start(*io_);  // on this thread: it becomes the thread's sweeper
    // Access log lines of one turn of the loop go out together, after it.
    stats::AccessLog::buffer_on_this_thread(
        [](void* worker) {
          auto* w = static_cast<Worker*>(worker);
          asio::post(*w->io_, [w] { w->session_.access_log.flush_thread(); });
        },
        this);
    schedule_pool_maintenance();
    io_->run();
    session_.access_log.flush_thread();
  });
}

void Worker::schedule_pool_maintenance() {
  if (!pool_timer_) pool_timer_.emplace(*io_);
  pool_timer_->expires_after(std::chrono::seconds(1));
  pool_timer_->async_wait([this](std::error_code ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    const size_t expired = primary_pool_.close_expired(now, options_.upstream_idle_timeout) +
                           mirror_.pool.close_expired(now, options_.upstream_idle_timeout);
    stats_.upstream_connections_expired += expired;
    mirror_.lanes.forget_idle(now, std::chrono::seconds(60));  // mirror endpoints come and go
    // Client connections idle for a whole tick are parked (proxy/idle_sessions.h): their sessions end
    // when their cancelled waits complete, queued now. Idle pooled upstream connections give back their
    // buffers. Once all that is freed, the pages it leaves empty go back to the system, but only on a
    // tick that served no request: purging is a pause (and the pages would be faulted in again at
    // once), and under load the allocator's own decay returns memory anyway.
    const size_t parked = idle_sessions_.park_idle_since(now - std::chrono::seconds(1));
    released_since_purge_ += parked + primary_pool_.release_idle_buffers(now) + mirror_.pool.release_idle_buffers(now);
    if (expired > 0 || parked > 0)
      spdlog::debug("worker {}: {} idle upstream connection(s) closed, {} idle client connection(s) parked", index_,
                    expired, parked);
    const bool quiet = stats_.downstream_requests_finished == requests_at_last_tick_;
    requests_at_last_tick_ = stats_.downstream_requests_finished;
    if (quiet && released_since_purge_ > 0) {
      released_since_purge_ = 0;
      asio::post(*io_, release_free_memory);
    }
    schedule_pool_maintenance();
  });
}

void Worker::begin_drain() {
  draining_.store(true, std::memory_order_relaxed);
  asio::post(*io_, [this] {
    for (auto& l : listeners_) {
      std::error_code ignored;
      l->acceptor.close(ignored);
    }
  });
}

void Worker::stop_and_join() {
  if (!thread_.joinable()) return;
  io_->stop();
  thread_.join();
}

void Worker::post_table(std::shared_ptr<const route::RouteTable> table,
                        std::shared_ptr<const route::ClusterSet> clusters) {
  asio::post(*io_, [this, table = std::move(table), clusters = std::move(clusters)]() mutable {
    balancer_.follow(clusters);
    table_ = std::move(table);
    clusters_ = std::move(clusters);
  });
}

void Worker::post_clusters(std::shared_ptr<const route::ClusterSet> clusters) {
  asio::post(*io_, [this, clusters = std::move(clusters)]() mutable {
    balancer_.follow(clusters);
    clusters_ = std::move(clusters);
  });
}

template <typename Fn>
auto Worker::on_worker_thread(Fn fn) -> decltype(fn()) {
  std::promise<decltype(fn())> promise;
  auto future = promise.get_future();
  asio::post(*io_, [&promise, &fn] { promise.set_value(fn()); });
  return future.get();
}

stats::WorkerStats Worker::snapshot_stats() {
  return on_worker_thread([this] {
    stats::WorkerStats copy = stats_;
    copy.upstream_connections_idle = primary_pool_.idle_count() + mirror_.pool.idle_count();
    return copy;
  });
}

std::vector<mirror::MirrorOutcome> Worker::snapshot_mirror_trace() {
  return on_worker_thread([this] { return mirror_.trace.snapshot(); });
}

std::vector<mirror::PrimaryOutcome> Worker::snapshot_primary_outcomes() {
  return on_worker_thread([this] { return mirror_.trace.primaries.snapshot(); });
}

std::vector<mirror::Mismatch> Worker::snapshot_mismatches() {
  return on_worker_thread([this] { return mirror_.mismatches.snapshot(); });
}

}  // namespace mg::server
