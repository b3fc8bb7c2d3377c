#include "mirror/shadow_writer.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "common/fast_random.h"
#include "mirror/copy_head.h"
#include "mirror/copy_job.h"
#include "mirror/mirror_budget.h"
#include "mirror/mirror_context.h"
#include "mirror/response_comparison.h"

namespace mg::mirror {
namespace {

using Clock = std::chrono::steady_clock;
using stats::MirrorDrop;

// The header lines of one copy, "X-Mirrorgate-Mirror: route=ns/name; rule=0; mirror=1\r\n" and its
// "traceparent: 00-<the request's trace id>-<the copy's span id>-0x\r\n" (a sibling of the primary's
// span). Appended piece by piece: every copy writes one, and a format string would be parsed each time.
void append_mirror_marker(MarkerBuffer& out, std::string_view route, size_t rule_index, size_t mirror_index) {
  const fmt::format_int rule(rule_index), mirror(mirror_index);
  out.append(std::string_view("X-Mirrorgate-Mirror: route="));
  out.append(route);
  out.append(std::string_view("; rule="));
  out.append(std::string_view(rule.data(), rule.size()));
  out.append(std::string_view("; mirror="));
  out.append(std::string_view(mirror.data(), mirror.size()));
  out.append(std::string_view("\r\n"));
}
void append_traceparent(MarkerBuffer& out, const MirrorRequest& request) {
  const TraceparentValue value = format_traceparent(request.trace_id, new_span_id(), request.sampled);
  out.append(std::string_view("traceparent: "));
  out.append(view(value));
  out.append(std::string_view("\r\n"));
}

// The load balancer's choice, passing over endpoints ejected after connect failures: each endpoint is
// offered at most once, so a Service whose endpoints are all ejected gives nullptr (the copy is dropped).
const route::Endpoint* pick_healthy_endpoint(MirrorContext& mirror, const route::ClusterSet& clusters,
                                             int cluster) {
  const auto& ejections = mirror.ejections;
  const route::ClusterEndpoints* c = clusters.find(cluster);
  const size_t endpoints = c ? c->endpoints.size() : 0;
  const auto now = Clock::now();
  for (size_t tries = 0; tries < std::max<size_t>(endpoints, 1); ++tries) {
    const route::Endpoint* endpoint = mirror.balancer.pick_endpoint(clusters, cluster);
    if (!endpoint || !ejections.ejected(endpoint->address, now)) return endpoint;
  }
  return nullptr;
}

}  // namespace

size_t body_capture_limit(std::span<const route::MirrorTarget> rule_mirrors,
                          std::span<const route::MirrorTarget> backend_mirrors, size_t default_limit) {
  size_t limit = default_limit;
  for (auto list : {rule_mirrors, backend_mirrors})
    for (const auto& target : list)
      if (target.settings && target.settings->max_body_bytes)
        limit = std::max<size_t>(limit, static_cast<size_t>(*target.settings->max_body_bytes));
  return limit;
}

bool send_copy(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
               size_t mirror_index, PrimaryCapture* primary) {
  auto& counters = mirror.stats.mirror(request.route, request.rule, target.name);
  auto drop = [&](MirrorDrop reason) {
    counters.count_drop(reason);
    record_dropped(mirror, request, target, stats::to_string(reason));
    return true;
  };
  // A tunnel's bytes are one client's conversation: replaying them elsewhere is no copy of a request.
  if (request.upgrade) return drop(MirrorDrop::kUpgrade);
  // percent / fraction sampling: each mirror draws on its own, so several mirrors sample independently.
  if (target.numerator < target.denominator &&
      (target.numerator == 0 || fast_random_below(target.denominator) >= target.numerator)) {
    ++counters.sampled_out;
    return false;
  }
  const auto& options = mirror.options;
  const route::MirrorSettings* settings = target.settings.get();

  if (settings && !settings->allowed_methods.empty() &&
      std::find(settings->allowed_methods.begin(), settings->allowed_methods.end(), request.method) ==
          settings->allowed_methods.end())
    return drop(MirrorDrop::kMethodNotAllowed);
  // An explicit, counted policy: a body above the mirror's limit is not copied at all, never truncated.
  const uint64_t body_limit =
      settings && settings->max_body_bytes ? *settings->max_body_bytes : uint64_t{options.body_limit};
  if (request.body_too_large || request.body->size() > body_limit) return drop(MirrorDrop::kBodyTooLarge);
  const route::Endpoint* endpoint = pick_healthy_endpoint(mirror, *request.clusters, target.cluster);
  if (!endpoint) return drop(MirrorDrop::kNoEndpoint);

  auto owned = std::make_unique<CopyJob>();
  CopyJob& job = *owned;
  // Most mirrors have no edits and share the request's head; only an edited one pays for its own.
  job.head = settings && edits_copy_head(*settings)
                 ? std::make_shared<const std::string>(edit_copy_head(*request.head, *settings))
                 : request.head;
  append_mirror_marker(job.marker, request.route, request.rule_index, mirror_index);
  append_traceparent(job.marker, request);
  job.marker.append(std::string_view("\r\n"));
  const BudgetLimits limits{
      .worker_copies = options.max_in_flight,
      .backend_copies = settings && settings->max_in_flight ? *settings->max_in_flight
                                                            : uint64_t{options.backend_max_in_flight},
      .backend_bytes = settings && settings->max_bytes_in_flight ? *settings->max_bytes_in_flight
                                                                 : uint64_t{options.backend_max_bytes},
  };
  const uint64_t bytes = job.head->size() + job.marker.size() + request.body->size();
  job.slot = mirror.budgets.try_acquire(target.name, bytes, limits);
  if (!job.slot) return drop(MirrorDrop::kBudget);

  ++counters.sent;
  job.request = request;
  job.target = &target;
  job.counters = &counters;
  job.endpoint = endpoint;
  const route::ClusterEndpoints* cluster = request.clusters->find(target.cluster);
  job.protocol = cluster->protocol;
  job.tls = cluster->tls;
  job.timeout = settings && settings->timeout ? *settings->timeout : options.timeout;
  job.start = CopyClock::now();
  job.comparison = start_comparison(mirror, request, target, primary);
  mirror.lanes.send(mirror, std::move(owned));
  return true;
}

}  // namespace mg::mirror
