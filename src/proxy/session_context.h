#pragma once
// What a downstream session needs from its worker, and nothing more: the settings, the route table and
// the cluster endpoints current now (a request pins both), counters and the access log, the primary's
// upstream context and the mirror's. Built once per worker; a session only reads the references.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "http/message.h"
#include "proxy/idle_sessions.h"
#include "route/cluster_set.h"
#include "route/route_table.h"
#include "stats/access_log.h"
#include "stats/worker_stats.h"
#include "upstream/upstream_context.h"

namespace mg::mirror {
struct MirrorContext;
}

namespace mg::proxy {

// The command line's client limits and timeouts (a listener's ClientTrafficPolicy overrides the
// client side per listener) and the upstream timeouts.
struct SessionOptions {
  http::Limits limits;
  uint64_t max_request_body = 0;                       // bytes; 0 = unlimited (bodies stream); beyond: 413
  std::chrono::milliseconds header_timeout{10'000};    // whole request head, from its first byte
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive connection with no request
  std::chrono::milliseconds tls_handshake_timeout{10'000};  // HTTPS: accept to a finished handshake
  std::chrono::milliseconds connect_timeout{5'000};    // upstream TCP connect
  std::chrono::milliseconds response_timeout{15'000};  // upstream response head, as Envoy's route default
  // An upgraded connection (WebSocket) with no byte either way for this long is closed. Long, because
  // applications often keep quiet sockets open; Envoy's 5 min stream idle timeout cuts them.
  std::chrono::milliseconds tunnel_idle_timeout{3'600'000};
  uint32_t http2_max_concurrent_streams = 100;         // SETTINGS_MAX_CONCURRENT_STREAMS per client connection
  // A trace the gateway starts (the client sent no valid traceparent) is sampled with this probability
  // (--trace-sampling-ratio); a client's trace keeps its own decision.
  double trace_sampling_ratio = 1.0;
};

struct SessionContext {
  const SessionOptions& options;
  const std::shared_ptr<const route::RouteTable>& table;  // swapped by the worker between requests
  const std::shared_ptr<const route::ClusterSet>& clusters;  // its endpoints: swapped with it, or alone
  stats::AccessLog& access_log;
  upstream::UpstreamContext upstream;  // the primary's pool, balancer and counters
  mirror::MirrorContext& mirror;
  const std::atomic<bool>& draining;   // SIGTERM: finish the current request, then close
  std::atomic<int>& in_flight;         // requests being served, for the drain
  IdleSessions& idle;                  // keep-alive connections between requests, parked by the worker
};

// Counts a request (or a relayed connection) in SessionContext::in_flight while it lives: the drain
// (SIGTERM) waits for it, up to --drain-timeout.
struct InFlight {
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { n.fetch_add(1, std::memory_order_relaxed); }
  ~InFlight() { n.fetch_sub(1, std::memory_order_relaxed); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

}  // namespace mg::proxy
