#pragma once
// Per-worker pool of idle keep-alive connections, keyed by endpoint. Owned by one worker thread, so it
// needs no locks. Primary traffic and mirror copies use separate pools so mirrors never take (or
// poison) the primary's connections.

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "stats/worker_stats.h"
#include "upstream/h2c_connection.h"
#include "upstream/upstream_connection.h"

namespace mg::upstream {

class ConnectionPool {
 public:
  explicit ConnectionPool(size_t max_idle_per_endpoint = 128) : max_idle_(max_idle_per_endpoint) {}

  // An idle connection to `key` that still looks open, or nullptr.
  std::unique_ptr<UpstreamConnection> take(std::string_view key);
  // Keeps a connection whose last response was read completely and that may be reused.
  void give_back(std::unique_ptr<UpstreamConnection> connection);
  void clear() {
    idle_.clear();
    h2c_.clear();
  }
  size_t idle_count() const;
  // Closes idle connections that the peer closed (or wrote to) and those idle for `max_idle` or longer,
  // h2c connections without a stream for as long included; returns how many. Called about once a second by the worker, so a backend's FIN on an idle
  // connection is answered within a second or so instead of lingering in CLOSE_WAIT until reuse.
  size_t close_expired(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle);
  // Frees the read buffer and header list of each connection idle for a second or more (a burst leaves
  // many pooled; each would keep ~10 KiB until reused or expired); returns how many it freed now.
  size_t release_idle_buffers(std::chrono::steady_clock::time_point now);
  // The shared h2c connections of this pool's exchanges with h2c clusters (h2c_connection.h).
  H2cConnections& h2c() { return h2c_; }

 private:
  size_t max_idle_;
  // LIFO per endpoint: the most recently used connection is the least likely to have been closed.
  stats::StringMap<std::deque<std::unique_ptr<UpstreamConnection>>> idle_;
  H2cConnections h2c_;
};

}  // namespace mg::upstream
