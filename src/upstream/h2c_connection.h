#pragma once
// HTTP/2 with prior knowledge (h2c) to the endpoints of a Service port whose appProtocol is
// kubernetes.io/h2c, or HTTP/2 over TLS (ALPN h2) when a BackendTLSPolicy covers the port: the shared
// connections (h2c_link.h) an Exchange's h2 wire (h2_stream_wire.h) opens its streams on.
//
// Each H2cConnections (one per ConnectionPool: per worker, primary and mirrors apart) keeps at most
// kConnectionsPerEndpoint connections per endpoint; streams share them up to the backend's
// SETTINGS_MAX_CONCURRENT_STREAMS (more wait inside nghttp2). They are not in the pool's idle lists: a
// connection serves many exchanges at once, and close_idle closes one that carried no stream for a while.

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>

#include "route/cluster_set.h"
#include "stats/worker_stats.h"
#include "upstream/h2c_link.h"
#include "upstream/tls_connection.h"

namespace mg::upstream {

class H2cConnections {
 public:
  static constexpr size_t kConnectionsPerEndpoint = 2;

  H2cConnections() = default;
  H2cConnections(const H2cConnections&) = delete;
  H2cConnections& operator=(const H2cConnections&) = delete;

  // A connection to `endpoint` with room for a stream: an open one below the backend's stream limit, the
  // one being opened, a new one (within `timeout`) while fewer than the cap exist, else the least loaded
  // (nghttp2 queues the stream). Null when a new one could not be opened: `failure` says why (with `tls`,
  // a BackendTLSPolicy, a failed handshake or check too). `stats` (the worker's) counts those opened;
  // `opened` (if given) says whether this call opened it.
  asio::awaitable<std::shared_ptr<h2c::H2cConnection>> acquire(
      const route::Endpoint& endpoint, std::chrono::milliseconds timeout, stats::WorkerStats& stats,
      const std::shared_ptr<const net::UpstreamTlsContext>& tls, TlsConnectResult& failure, bool* opened = nullptr);
  // Open h2c connections (all endpoints), for tests and the admin.
  size_t connection_count() const;
  // Lets go of every connection (the worker stops): their loops, and the streams on them, end with the
  // io_context, before which this runs; none may outlive it in here.
  void clear() { by_endpoint_.clear(); }
  // Closes the h2c connections that carried no stream for `max_idle` or longer; returns how many.
  size_t close_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle);

 private:
  // By endpoint address; TLS connections (h2 by ALPN) apart from cleartext ones to the same address.
  std::unordered_map<std::string, std::vector<std::shared_ptr<h2c::H2cConnection>>> by_endpoint_;
};

}  // namespace mg::upstream
