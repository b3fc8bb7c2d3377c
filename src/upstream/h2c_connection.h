#pragma once
// HTTP/2 with prior knowledge (h2c) to the endpoints of a Service port whose appProtocol is
// kubernetes.io/h2c. The Exchange speaks HTTP/1.1 to every backend, so the request path (routing,
// filters, retries, mirrors, body relays, timeouts) stays one: for an h2c cluster its connection is one
// end of a local socket pair, and a bridge task on the other end (h2c_bridge.cpp) carries each HTTP/1.1
// request as a stream of a shared h2c connection to the endpoint (h2c_link.h) and writes the answer back
// as HTTP/1.1 (trailers as chunked trailers). The pair's kernel buffers are small and the bridge opens a stream's window only as the pair
// takes the bytes, so a slow client still holds the backend back.
//
// Each H2cConnections (one per ConnectionPool: per worker, primary and mirrors apart) keeps at most
// kConnectionsPerEndpoint connections per endpoint; streams share them up to the backend's
// SETTINGS_MAX_CONCURRENT_STREAMS (more wait inside nghttp2). A stream the backend refused (REFUSED_STREAM,
// or above a GOAWAY's last-stream-id) was never processed and is sent again on another connection when
// the bridge still holds its whole body; a reset stream (or a backend gone) before the head closes the
// pair, which the Exchange reports like a closed HTTP/1.1 connection (502).

#include <chrono>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "route/cluster_set.h"
#include "stats/worker_stats.h"
#include "upstream/tls_connection.h"
#include "upstream/upstream_connection.h"

namespace mg::upstream {

class H2cConnections {
 public:
  static constexpr size_t kConnectionsPerEndpoint = 2;

  H2cConnections();
  ~H2cConnections();
  H2cConnections(const H2cConnections&) = delete;
  H2cConnections& operator=(const H2cConnections&) = delete;

  // An HTTP/1.1 connection whose requests go to `endpoint` over h2c: an h2c connection with room for a
  // stream is found or opened first (within `timeout`), so a connect failure is reported here.
  // `stats` (the worker's) counts the h2c connections opened, not the local pairs.
  // With `tls` (a BackendTLSPolicy), the h2c connection runs over TLS with ALPN h2, in process
  // (tls_connection.h); a TLS failure is reported in `tls_failure`.
  asio::awaitable<ConnectResult> connect(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                         stats::WorkerStats& stats,
                                         const std::shared_ptr<const net::UpstreamTlsContext>& tls = nullptr,
                                         TlsConnectResult* tls_failure = nullptr);
  // Open h2c connections (all endpoints), for tests and the admin.
  size_t connection_count() const;
  // Closes the h2c connections that carried no stream for `max_idle` or longer; returns how many.
  size_t close_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle);

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the bridge tasks, which may outlive a request
};

}  // namespace mg::upstream
