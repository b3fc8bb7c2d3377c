#include "stats/worker_stats.h"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "stats/prometheus_text.h"

namespace mg::stats {

std::string_view to_string(MirrorFailure f) {
  switch (f) {
    case MirrorFailure::kConnect: return "connect";
    case MirrorFailure::kTimeout: return "timeout";
    case MirrorFailure::kReset: return "reset";
    case MirrorFailure::kProtocol: return "protocol";
    case MirrorFailure::kCount: break;
  }
  return "unknown";
}

std::string_view to_string(UpstreamTlsError e) {
  switch (e) {
    case UpstreamTlsError::kCertificateUntrusted: return "certificate_untrusted";
    case UpstreamTlsError::kNameMismatch: return "name_mismatch";
    case UpstreamTlsError::kHandshakeFailed: return "handshake_failed";
    case UpstreamTlsError::kHandshakeTimeout: return "handshake_timeout";
    case UpstreamTlsError::kCount: break;
  }
  return "unknown";
}

std::string_view to_string(MirrorDrop d) {
  switch (d) {
    case MirrorDrop::kBudget: return "budget";
    case MirrorDrop::kBodyTooLarge: return "body_too_large";
    case MirrorDrop::kNoEndpoint: return "no_endpoint";
    case MirrorDrop::kMethodNotAllowed: return "method_not_allowed";
    case MirrorDrop::kUpgrade: return "upgrade";
    case MirrorDrop::kCount: break;
  }
  return "unknown";
}

std::string_view to_string(ComparisonResult r) {
  switch (r) {
    case ComparisonResult::kMatch: return "match";
    case ComparisonResult::kMismatch: return "mismatch";
    case ComparisonResult::kSkipped: return "skipped";
    case ComparisonResult::kCount: break;
  }
  return "unknown";
}

void MirrorCounters::merge(const MirrorCounters& o) {
  sampled_out += o.sampled_out;
  sent += o.sent;
  pipelined += o.pipelined;
  retried += o.retried;
  pipelining_backoffs += o.pipelining_backoffs;
  for (size_t i = 0; i < completed.size(); ++i) completed[i] += o.completed[i];
  for (size_t i = 0; i < failed.size(); ++i) failed[i] += o.failed[i];
  for (size_t i = 0; i < dropped.size(); ++i) dropped[i] += o.dropped[i];
  response_latency.merge(o.response_latency);
  for (size_t i = 0; i < comparisons.size(); ++i) comparisons[i] += o.comparisons[i];
}

void WorkerStats::merge(const WorkerStats& o) {
  for (const auto& [route, codes] : o.downstream_requests)
    for (const auto& [code, n] : codes) entry(downstream_requests, route)[code] += n;
  for (const auto& [backend, codes] : o.upstream_requests)
    for (const auto& [code, n] : codes) entry(upstream_requests, backend)[code] += n;
  for (const auto& [route, rules] : o.mirrors)
    for (const auto& [rule, backends] : rules)
      for (const auto& [backend, counters] : backends) mirror(route, rule, backend).merge(counters);
  for (const auto& [route, backends] : o.upstream_latency)
    for (const auto& [backend, histogram] : backends)
      entry(entry(upstream_latency, route), backend).merge(histogram);
  downstream_connections_total += o.downstream_connections_total;
  downstream_connections_active += o.downstream_connections_active;
  downstream_connections_parked += o.downstream_connections_parked;
  tunnels_total += o.tunnels_total;
  tunnels_active += o.tunnels_active;
  tls_passthrough_total += o.tls_passthrough_total;
  tls_passthrough_active += o.tls_passthrough_active;
  tls_passthrough_refused += o.tls_passthrough_refused;
  downstream_connections_rejected += o.downstream_connections_rejected;
  tls_handshake_failures_total += o.tls_handshake_failures_total;
  upstream_connections_total += o.upstream_connections_total;
  upstream_h2c_connections_total += o.upstream_h2c_connections_total;
  upstream_tls_connections_total += o.upstream_tls_connections_total;
  for (size_t i = 0; i < upstream_tls_errors.size(); ++i) upstream_tls_errors[i] += o.upstream_tls_errors[i];
  upstream_connections_idle += o.upstream_connections_idle;
  upstream_connections_expired += o.upstream_connections_expired;
  mirror_in_flight += o.mirror_in_flight;
}

namespace {

template <typename Map>
std::vector<typename Map::const_iterator> sorted(const Map& m) {
  std::vector<typename Map::const_iterator> v;
  for (auto it = m.begin(); it != m.end(); ++it) v.push_back(it);
  std::sort(v.begin(), v.end(), [](auto a, auto b) { return a->first < b->first; });
  return v;
}

void render_code_family(std::string& out, std::string_view name, std::string_view help,
                        std::string_view label, const StringMap<CodeCounts>& family,
                        ExpositionFormat format) {
  append_family_header(out, name, MetricType::kCounter, help, format);
  for (auto it : sorted(family))
    for (auto code_it : sorted(it->second))
      fmt::format_to(std::back_inserter(out), "{}{{{}=\"{}\",code=\"{}\"}} {}\n", name, label,
                     escape_label_value(it->first), code_it->first, code_it->second);
}

void render_scalar(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   uint64_t value, ExpositionFormat format) {
  append_family_header(out, name, type, help, format);
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

// A histogram family keyed route -> backend: one series per pair, in sorted order.
template <typename Value, typename HistogramOf>
void render_latency_family(std::string& out, std::string_view name, std::string_view help,
                           std::string_view backend_label, const StringMap<StringMap<Value>>& family,
                           HistogramOf histogram_of, ExpositionFormat format) {
  append_family_header(out, name, MetricType::kHistogram, help, format);
  for (auto route : sorted(family))
    for (auto backend : sorted(route->second)) {
      std::string labels = fmt::format("route=\"{}\",{}=\"{}\"", escape_label_value(route->first), backend_label,
                                       escape_label_value(backend->first));
      append_histogram_samples(out, name, labels, histogram_of(backend->second));
    }
}

}  // namespace

std::string render_prometheus(const WorkerStats& s, ExpositionFormat format) {
  std::string out;
  render_code_family(out, "mirrorgate_downstream_requests_total",
                     "Requests answered to clients, by route (empty: no route matched) and status code.",
                     "route", s.downstream_requests, format);
  render_code_family(out, "mirrorgate_upstream_requests_total",
                     "Requests forwarded to backends, by backend (namespace/service:port) and status code.",
                     "backend", s.upstream_requests, format);

  // Every mirror series in sorted order, with its labels: route, rule (name, else index), mirror backend.
  auto for_each_mirror = [&](auto visit) {
    for (auto route : sorted(s.mirrors))
      for (auto rule : sorted(route->second))
        for (auto backend : sorted(rule->second))
          visit(fmt::format("route=\"{}\",rule=\"{}\",mirror_backend=\"{}\"", escape_label_value(route->first),
                            escape_label_value(rule->first), escape_label_value(backend->first)),
                backend->second);
  };
  // A counter family with one sample per mirror series and value of `values` (label suffix, count).
  auto mirror_family = [&](std::string_view name, std::string_view help, auto values) {
    append_family_header(out, name, MetricType::kCounter, help, format);
    for_each_mirror([&](const std::string& labels, const MirrorCounters& c) {
      values(c, [&](std::string_view extra, uint64_t n) {
        fmt::format_to(std::back_inserter(out), "{}{{{}{}}} {}\n", name, labels, extra, n);
      });
    });
  };
  mirror_family("mirrorgate_mirror_copies_sampled_out_total",
                "Requests not copied to a mirror backend because of its percent or fraction.",
                [](const MirrorCounters& c, auto sample) { sample("", c.sampled_out); });
  mirror_family("mirrorgate_mirror_copies_sent_total", "Mirror copies sent to a mirror backend.",
                [](const MirrorCounters& c, auto sample) { sample("", c.sent); });
  mirror_family("mirrorgate_mirror_copies_pipelined_total",
                "Mirror copies written behind another copy in one write on one connection (HTTP/1.1 pipelining).",
                [](const MirrorCounters& c, auto sample) { sample("", c.pipelined); });
  mirror_family("mirrorgate_mirror_copies_retried_total",
                "Mirror copies sent again, on a connection of their own, after the connection they were "
                "pipelined on closed before their answer.",
                [](const MirrorCounters& c, auto sample) { sample("", c.retried); });
  mirror_family("mirrorgate_mirror_pipelining_backoffs_total",
                "Times a mirror backend closed a connection with pipelined copies unanswered; its copies then go "
                "one per connection for 30 s.",
                [](const MirrorCounters& c, auto sample) { sample("", c.pipelining_backoffs); });
  mirror_family("mirrorgate_mirror_copies_completed_total",
                "Mirror copies whose response was received (and discarded), by status class of that response.",
                [](const MirrorCounters& c, auto sample) {
                  for (size_t i = 0; i < c.completed.size(); ++i)
                    sample(fmt::format(",class=\"{}xx\"", i + 2), c.completed[i]);
                });
  mirror_family("mirrorgate_mirror_copies_failed_total",
                "Mirror copies sent that got no complete response, by reason.",
                [](const MirrorCounters& c, auto sample) {
                  for (size_t i = 0; i < c.failed.size(); ++i)
                    sample(fmt::format(",reason=\"{}\"", to_string(static_cast<MirrorFailure>(i))), c.failed[i]);
                });
  mirror_family("mirrorgate_mirror_copies_dropped_total",
                "Mirror copies not attempted, by reason (a budget of the mirror backend or of the worker full, "
                "body above the mirror's limit, no ready endpoint, method not in the mirror's allow-list).",
                [](const MirrorCounters& c, auto sample) {
                  for (size_t i = 0; i < c.dropped.size(); ++i)
                    sample(fmt::format(",reason=\"{}\"", to_string(static_cast<MirrorDrop>(i))), c.dropped[i]);
                });
  {
    constexpr std::string_view name = "mirrorgate_mirror_response_seconds";
    append_family_header(
        out, name, MetricType::kHistogram,
        "Time from launching a mirror copy (connect included) to the mirror's response head.", format);
    for_each_mirror([&](const std::string& labels, const MirrorCounters& c) {
      append_histogram_samples(out, name, labels, c.response_latency);
    });
  }
  render_latency_family(
      out, "mirrorgate_upstream_response_seconds",
      "Time from a request head to the primary backend's response head (relayed answers).", "backend",
      s.upstream_latency, [](const LatencyHistogram& h) -> const LatencyHistogram& { return h; }, format);
  mirror_family("mirrorgate_mirror_comparisons_total",
                "Mirror responses compared with the primary's, by result (only mirrors with response comparison).",
                [](const MirrorCounters& c, auto sample) {
                  if (std::all_of(c.comparisons.begin(), c.comparisons.end(), [](uint64_t n) { return n == 0; }))
                    return;  // comparison is opt-in: no rows for mirrors that never compared
                  for (size_t i = 0; i < c.comparisons.size(); ++i)
                    sample(fmt::format(",result=\"{}\"", to_string(static_cast<ComparisonResult>(i))),
                           c.comparisons[i]);
                });
  render_scalar(out, "mirrorgate_mirror_copies_in_flight", MetricType::kGauge,
                "Mirror copies currently in flight.", s.mirror_in_flight, format);
  render_scalar(out, "mirrorgate_downstream_connections_total", MetricType::kCounter,
                "Client connections accepted.", s.downstream_connections_total, format);
  render_scalar(out, "mirrorgate_downstream_connections_active", MetricType::kGauge,
                "Client connections open now.", s.downstream_connections_active, format);
  render_scalar(
      out, "mirrorgate_downstream_connections_parked", MetricType::kGauge,
      "Idle keep-alive client connections parked: their session ended until the client speaks again.",
      s.downstream_connections_parked, format);
  render_scalar(out, "mirrorgate_downstream_connections_rejected_total", MetricType::kCounter,
                "Client connections closed at once because the worker was at --max-connections.",
                s.downstream_connections_rejected, format);
  render_scalar(out, "mirrorgate_downstream_tunnels_total", MetricType::kCounter,
                "Upgraded client connections (WebSocket) relayed to a backend as bytes after its 101.",
                s.tunnels_total, format);
  render_scalar(out, "mirrorgate_downstream_tunnels_active", MetricType::kGauge,
                "Upgraded client connections open now.", s.tunnels_active, format);
  render_scalar(out, "mirrorgate_tls_passthrough_connections_total", MetricType::kCounter,
                "Connections to TLS Passthrough listeners relayed, unopened, to a TLSRoute's backend.",
                s.tls_passthrough_total, format);
  render_scalar(out, "mirrorgate_tls_passthrough_connections_active", MetricType::kGauge,
                "TLS Passthrough connections open now.", s.tls_passthrough_active, format);
  render_scalar(out, "mirrorgate_tls_passthrough_refused_total", MetricType::kCounter,
                "Connections to TLS Passthrough listeners closed before reaching a backend: no TLS ClientHello "
                "in time, no TLSRoute for its server name, or no backend to connect to.",
                s.tls_passthrough_refused, format);
  render_scalar(out, "mirrorgate_tls_handshake_failures_total", MetricType::kCounter,
                "Client connections to HTTPS listeners closed because the TLS handshake failed or timed out.",
                s.tls_handshake_failures_total, format);
  render_scalar(out, "mirrorgate_upstream_connections_total", MetricType::kCounter,
                "Connections opened to backends (primary and mirror).", s.upstream_connections_total, format);
  render_scalar(out, "mirrorgate_upstream_h2c_connections_total", MetricType::kCounter,
                "HTTP/2 (h2c) connections opened to backends, each carrying many requests (of "
                "mirrorgate_upstream_connections_total).",
                s.upstream_h2c_connections_total, format);
  render_scalar(out, "mirrorgate_upstream_tls_connections_total", MetricType::kCounter,
                "TLS connections opened to backends under a BackendTLSPolicy (of "
                "mirrorgate_upstream_connections_total).",
                s.upstream_tls_connections_total, format);
  append_family_header(out, "mirrorgate_upstream_tls_errors_total", MetricType::kCounter,
                       "TLS connections to backends that failed, by reason (the request gets 502).", format);
  for (size_t i = 0; i < s.upstream_tls_errors.size(); ++i)
    fmt::format_to(std::back_inserter(out), "mirrorgate_upstream_tls_errors_total{{reason=\"{}\"}} {}\n",
                   to_string(static_cast<UpstreamTlsError>(i)), s.upstream_tls_errors[i]);
  render_scalar(out, "mirrorgate_upstream_connections_idle", MetricType::kGauge,
                "Idle keep-alive connections to backends held in the workers' pools now.",
                s.upstream_connections_idle, format);
  render_scalar(
      out, "mirrorgate_upstream_connections_expired_total", MetricType::kCounter,
      "Idle connections to backends closed: --upstream-idle-timeout passed, or the backend closed them.",
      s.upstream_connections_expired, format);
  return out;
}

}  // namespace mg::stats
