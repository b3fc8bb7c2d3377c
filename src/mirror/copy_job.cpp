#include "mirror/copy_job.h"

#include <algorithm>
#include <optional>

#include "mirror/mirror_context.h"
#include "mirror/mirror_trace.h"
#include "mirror/response_comparison.h"
#include "upstream/exchange.h"

namespace mg::mirror {
namespace {

using stats::MirrorFailure;

// The request-target of a serialised request head ("METHOD target HTTP/1.1\r\n..."): what the copy was
// sent with, after the route's rewrites. A view into `head`.
std::string_view request_target(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const size_t first = line.find(' '), last = line.rfind(' ');
  return first == std::string_view::npos || last <= first ? std::string_view{} : line.substr(first + 1, last - first - 1);
}

// One line in the access log and one entry in the worker's mirror trace, for every copy.
void record_outcome(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
                    std::string_view mirror_host, std::string_view mirror_pod, std::string_view outcome,
                    std::string_view reason, int status, double ms, uint64_t bytes) {
  stats::MirrorLogEntry entry;
  entry.request_id = request.request_id;
  entry.trace_id = view(request.trace_id);
  entry.route = request.route;
  entry.rule = request.rule;
  entry.method = request.method;
  entry.path = request_target(*request.head);
  entry.mirror_backend = target.name;
  entry.upstream_host = mirror_host;
  entry.upstream_pod = mirror_pod;
  if (const route::ClusterEndpoints* cluster = request.clusters->find(target.cluster))
    entry.upstream_protocol = route::upstream_protocol_name(cluster->protocol);
  entry.outcome = outcome;
  entry.reason = reason;
  entry.status = status;
  entry.duration_ms = ms;
  entry.request_bytes = bytes;
  mirror.access_log.log(entry);
  mirror.trace.record_in_place([&](MirrorOutcome& o) {
    o.time_us = now_us();
    o.request_id.assign(request.request_id);
    o.trace_id.assign(view(request.trace_id));
    o.route.assign(request.route);
    o.rule.assign(request.rule);
    o.mirror_backend.assign(target.name);
    o.primary_host.assign(request.primary_host);
    o.primary_pod.assign(request.primary_pod);
    o.mirror_host.assign(mirror_host);
    o.mirror_pod.assign(mirror_pod);
    o.outcome.assign(outcome);
    o.reason.assign(reason);
    o.status = status;
    o.latency_ms = ms;
    o.request_bytes = bytes;
  });
}

}  // namespace

std::chrono::milliseconds CopyJob::remaining(CopyClock::time_point now) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline() - now);
  return std::max(left, std::chrono::milliseconds(1));
}

bool CopyJob::idempotent() const {
  const std::string_view m = request.method;
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

asio::awaitable<CopyOutcome> read_copy_answer(MirrorContext& mirror, upstream::Exchange& exchange, CopyJob& job) {
  CopyOutcome outcome;
  auto failure = [&] { return exchange.fired() ? MirrorFailure::kTimeout : MirrorFailure::kReset; };
  constexpr std::chrono::milliseconds kKeepDeadline{0};
  switch (co_await exchange.read_head(job.request.method, mirror.limits, kKeepDeadline)) {
    case upstream::HeadResult::kOk:
      break;
    case upstream::HeadResult::kMalformed:
      outcome.failure = MirrorFailure::kProtocol;
      co_return outcome;
    case upstream::HeadResult::kTimeout:
    case upstream::HeadResult::kClosed:
      outcome.failure = failure();
      co_return outcome;
  }
  outcome.head_at = CopyClock::now();
  outcome.status = exchange.head().status;
  std::optional<ResponseCapture> capture;
  if (job.comparison) {
    capture.emplace(job.comparison->settings().headers, job.comparison->settings().max_body_bytes);
    capture->head(outcome.status, exchange.head().headers);
  }
  switch (co_await exchange.discard_body(capture ? &capture->body() : nullptr)) {
    case upstream::DiscardResult::kDone:
      outcome.completed = true;
      break;
    case upstream::DiscardResult::kMalformed:
      outcome.failure = MirrorFailure::kProtocol;
      break;
    case upstream::DiscardResult::kTimeout:
    case upstream::DiscardResult::kClosed:
      outcome.failure = failure();
      break;
  }
  if (job.comparison && outcome.completed)
    job.comparison->deliver_mirror(capture->take(), job.endpoint->address, job.endpoint->pod);
  co_return outcome;
}

void finish_copy(MirrorContext& mirror, CopyJob& job, const CopyOutcome& outcome) {
  const MirrorRequest& request = job.request;
  stats::MirrorCounters& counters = *job.counters;
  if (job.pipelined) ++counters.pipelined;
  if (outcome.completed) {
    ++counters.completed[stats::status_class_index(outcome.status)];
    counters.response_latency.record(outcome.head_at - job.start);
  } else {
    ++counters.failed[static_cast<size_t>(outcome.failure)];
  }
  job.slot = {};  // the budget is free before the log line is written
  job.comparison.reset();  // a copy that failed makes its comparison "skipped" now, not when the job goes
  const double ms = std::chrono::duration<double, std::milli>(CopyClock::now() - job.start).count();
  record_outcome(mirror, request, *job.target, job.endpoint->address, job.endpoint->pod,
                 outcome.completed ? "completed" : "failed",
                 outcome.completed ? std::string_view{} : stats::to_string(outcome.failure), outcome.status, ms,
                 job.bytes());
}

void record_dropped(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
                    std::string_view reason) {
  record_outcome(mirror, request, target, {}, {}, "dropped", reason, 0, 0, 0);
}

}  // namespace mg::mirror
