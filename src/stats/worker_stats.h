#pragma once
// Per-worker counters, written only by their worker thread without locks or atomics (Seastar style).
// The admin thread asks each worker for a copy at scrape time and merges them.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "stats/latency_histogram.h"
#include "stats/prometheus_text.h"

namespace mg::stats {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

template <typename V>
V& entry(StringMap<V>& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), V{}).first;
  return it->second;
}

// Why a sent mirror copy did not complete. The order is the label order in /metrics. A copy pipelined
// behind one that failed fails with that copy's reason (mirror/copy_lanes.h).
enum class MirrorFailure : uint8_t { kConnect, kTimeout, kReset, kProtocol, kCount };
std::string_view to_string(MirrorFailure f);

// Why a mirror copy was not even attempted (the list; docs/mirroring.md).
// kUpgrade: a request that asks to switch protocols (WebSocket) opens a tunnel, which is never copied.
enum class MirrorDrop : uint8_t { kBudget, kBodyTooLarge, kNoEndpoint, kMethodNotAllowed, kUpgrade, kCount };
std::string_view to_string(MirrorDrop d);

// Status classes of completed copies: 2xx..5xx (a 1xx is interim, never a final answer).
constexpr size_t kStatusClasses = 4;
// The index of `status` among "2xx".."5xx"; statuses above 599 count as 5xx.
inline size_t status_class_index(int status) {
  if (status < 200) return 0;
  if (status >= 500) return 3;
  return static_cast<size_t>(status / 100 - 2);
}
// How a response comparison ended (opt-in per mirror). The order is the label order in /metrics.
enum class ComparisonResult : uint8_t { kMatch, kMismatch, kSkipped, kCount };
std::string_view to_string(ComparisonResult r);

struct MirrorCounters {
  uint64_t sampled_out = 0;  // not copied because of percent/fraction sampling
  uint64_t sent = 0;
  uint64_t pipelined = 0;            // of sent: written behind another copy in one write
  uint64_t retried = 0;              // sent again after the connection they were pipelined on closed
  uint64_t pipelining_backoffs = 0;  // a backend closed a pipelined connection: one copy per connection a while
  std::array<uint64_t, kStatusClasses> completed{};  // by status class of the mirror's answer
  std::array<uint64_t, static_cast<size_t>(MirrorFailure::kCount)> failed{};
  std::array<uint64_t, static_cast<size_t>(MirrorDrop::kCount)> dropped{};
  LatencyHistogram response_latency;  // copy launched -> the mirror's response head
  void count_drop(MirrorDrop d) { ++dropped[static_cast<size_t>(d)]; }
  std::array<uint64_t, static_cast<size_t>(ComparisonResult::kCount)> comparisons{};
  void merge(const MirrorCounters& o);
};

using CodeCounts = std::unordered_map<int, uint64_t>;

// Why a TLS connection to a backend (BackendTLSPolicy) failed: a bounded label set.
enum class UpstreamTlsError : uint8_t { kCertificateUntrusted, kNameMismatch, kHandshakeFailed, kHandshakeTimeout, kCount };
std::string_view to_string(UpstreamTlsError e);

struct WorkerStats {
  StringMap<CodeCounts> downstream_requests;                // route -> status code -> count
  StringMap<CodeCounts> upstream_requests;                  // backend -> status code -> count
  // route -> rule (its name, else its index) -> mirror backend -> counters: two rules of one route that
  // mirror to the same Service count apart.
  StringMap<StringMap<StringMap<MirrorCounters>>> mirrors;
  StringMap<StringMap<LatencyHistogram>> upstream_latency;  // route -> backend -> primary response head time
  uint64_t downstream_requests_finished = 0;  // every route: the worker's own "was I busy" (not rendered)
  uint64_t downstream_connections_total = 0;
  uint64_t downstream_connections_active = 0;
  uint64_t downstream_connections_parked = 0;    // idle keep-alive connections whose session ended (of active)
  uint64_t downstream_connections_rejected = 0;  // over --max-connections
  uint64_t tls_handshake_failures_total = 0;     // TLS listeners: handshake failed or timed out
  uint64_t upstream_connections_total = 0;
  uint64_t upstream_h2c_connections_total = 0;  // of upstream_connections_total: h2c ones (shared by streams)
  uint64_t upstream_tls_connections_total = 0;  // of upstream_connections_total: TLS ones (BackendTLSPolicy)
  std::array<uint64_t, static_cast<size_t>(UpstreamTlsError::kCount)> upstream_tls_errors{};
  uint64_t upstream_connections_idle = 0;     // pooled now (filled in when a snapshot is taken)
  uint64_t upstream_connections_expired = 0;  // idle ones closed: idle timeout, or the backend closed them
  uint64_t mirror_in_flight = 0;
  uint64_t tunnels_total = 0;   // upgraded connections (WebSocket) relayed as bytes
  uint64_t tunnels_active = 0;
  uint64_t tls_passthrough_total = 0;    // TLS Passthrough connections relayed to a TLSRoute's backend
  uint64_t tls_passthrough_active = 0;
  uint64_t tls_passthrough_refused = 0;  // closed before any backend: no ClientHello, no route, no endpoint

  void count_downstream(std::string_view route, int code) {
    ++entry(downstream_requests, route)[code];
    ++downstream_requests_finished;
  }
  void count_upstream(std::string_view backend, int code) { ++entry(upstream_requests, backend)[code]; }
  MirrorCounters& mirror(std::string_view route, std::string_view rule, std::string_view backend) {
    return entry(entry(entry(mirrors, route), rule), backend);
  }
  // The primary's time from the request head to its backend's response head, next to the mirrors'.
  void record_upstream_latency(std::string_view route, std::string_view backend,
                               std::chrono::steady_clock::duration elapsed) {
    entry(entry(upstream_latency, route), backend).record(elapsed);
  }
  void merge(const WorkerStats& o);
};

// The merged counters in the text exposition format 0.0.4 or in OpenMetrics (without its `# EOF`: the
// caller may append other families, then finish_exposition()).
std::string render_prometheus(const WorkerStats& merged,
                              ExpositionFormat format = ExpositionFormat::kPrometheusText);

}  // namespace mg::stats
