#include "mirror/shadow_writer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <optional>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include "common/fast_random.h"
#include "mirror/copy_head.h"
#include "mirror/mirror_budget.h"
#include "mirror/mirror_context.h"
#include "mirror/mirror_trace.h"
#include "mirror/response_comparison.h"
#include "upstream/exchange.h"

namespace mg::mirror {
namespace {

using Clock = std::chrono::steady_clock;
using stats::MirrorDrop;
using stats::MirrorFailure;

// The header lines of one copy, "X-Mirrorgate-Mirror: route=ns/name; rule=0; mirror=1\r\n" and its
// "traceparent: 00-<the request's trace id>-<the copy's span id>-0x\r\n" (a sibling of the primary's
// span), kept inline with its copy (no allocation for any sensible route name).
using MarkerBuffer = fmt::basic_memory_buffer<char, 256>;
void append_mirror_marker(MarkerBuffer& out, std::string_view route, size_t rule_index, size_t mirror_index) {
  fmt::format_to(std::back_inserter(out), "X-Mirrorgate-Mirror: route={}; rule={}; mirror={}\r\n", route,
                 rule_index, mirror_index);
}
void append_traceparent(MarkerBuffer& out, const MirrorRequest& request) {
  const TraceparentValue value = format_traceparent(request.trace_id, new_span_id(), request.sampled);
  out.append(std::string_view("traceparent: "));
  out.append(view(value));
  out.append(std::string_view("\r\n"));
}

// The request-target of a serialised request head ("METHOD target HTTP/1.1\r\n..."): what the copy was
// sent with, after the route's rewrites. A view into `head`.
std::string_view request_target(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const size_t first = line.find(' '), last = line.rfind(' ');
  return first == std::string_view::npos || last <= first ? std::string_view{} : line.substr(first + 1, last - first - 1);
}

struct CopyOutcome {
  bool completed = false;
  MirrorFailure failure = MirrorFailure::kConnect;
  int status = 0;
  Clock::time_point head_at;  // when the final response head arrived (the latency histogram's end)
};

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

// What one copy carries besides the request: its own head (edited, or the shared one), where it goes,
// its timeout and its budget slot, held until the copy ends however it ends.
// The endpoint lives in the cluster set the copy pins (MirrorRequest::clusters).
struct CopyPlan {
  std::shared_ptr<const std::string> head;
  MarkerBuffer marker;  // the X-Mirrorgate-Mirror line and the head's final empty line
  const route::Endpoint* endpoint = nullptr;
  route::UpstreamProtocol protocol = route::UpstreamProtocol::kHttp1;  // the mirror cluster's
  std::shared_ptr<const net::UpstreamTlsContext> tls;  // the mirror cluster's BackendTLSPolicy; null: plain
  std::chrono::milliseconds timeout{0};
  MirrorBudgets::Slot slot;
  std::shared_ptr<ComparisonRendezvous> comparison;  // null unless this copy's answer is compared
};

// Sends the copy and reads its answer through the same upstream exchange as the primary's, under one
// deadline for the whole copy, then counts and records how it ended.
asio::awaitable<CopyOutcome> exchange_copy(MirrorContext& mirror, const MirrorRequest& request, CopyPlan& plan,
                                           Clock::time_point start) {
  CopyOutcome outcome;
  upstream::UpstreamContext upstream = mirror.upstream();
  upstream::Exchange exchange(upstream, plan.protocol);
  const std::string_view key = plan.endpoint->address;
  const bool fresh = false;  // a copy reuses the mirror pool's idle connections
  const auto connected = co_await exchange.connect_to(*plan.endpoint, plan.timeout, fresh, plan.tls);
  if (connected != upstream::ConnectResultKind::kConnected) {
    outcome.failure = connected == upstream::ConnectResultKind::kTimedOut ? MirrorFailure::kTimeout
                                                                          : MirrorFailure::kConnect;
    mirror.ejections.connect_failed(key, Clock::now());
    co_return outcome;
  }
  if (!exchange.reused()) mirror.ejections.connect_succeeded(key);
  // One deadline for the whole copy: the connect above already spent part of it.
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  exchange.arm(std::max(plan.timeout - spent, std::chrono::milliseconds(1)));
  auto failure = [&] { return exchange.fired() ? MirrorFailure::kTimeout : MirrorFailure::kReset; };
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(*plan.head),
                                                  asio::buffer(plan.marker.data(), plan.marker.size()),
                                                  asio::buffer(*request.body)};
  constexpr std::chrono::milliseconds kKeepDeadline{0};
  if (!co_await exchange.write(buffers, kKeepDeadline)) {
    outcome.failure = failure();
  } else {
    switch (co_await exchange.read_head(request.method, mirror.limits, kKeepDeadline)) {
      case upstream::HeadResult::kOk: {
        outcome.head_at = Clock::now();
        outcome.status = exchange.head().status;
        std::optional<ResponseCapture> capture;
        if (plan.comparison) {
          capture.emplace(plan.comparison->settings().headers, plan.comparison->settings().max_body_bytes);
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
        if (plan.comparison && outcome.completed)
          plan.comparison->deliver_mirror(capture->take(), key, plan.endpoint->pod);
        break;
      }
      case upstream::HeadResult::kMalformed:
        outcome.failure = MirrorFailure::kProtocol;
        break;
      case upstream::HeadResult::kTimeout:
      case upstream::HeadResult::kClosed:
        outcome.failure = failure();
        break;
    }
  }
  exchange.disarm();
  exchange.finish(outcome.completed);
  co_return outcome;
}

// `target` lives in the route table that `request` pins.
asio::awaitable<void> run_copy(MirrorContext& mirror, MirrorRequest request, const route::MirrorTarget& target,
                               CopyPlan plan) {
  const auto start = Clock::now();
  const CopyOutcome outcome = co_await exchange_copy(mirror, request, plan, start);
  auto& counters = mirror.stats.mirror(request.route, request.rule, target.name);
  if (outcome.completed) {
    ++counters.completed[stats::status_class_index(outcome.status)];
    counters.response_latency.record(outcome.head_at - start);
  } else {
    ++counters.failed[static_cast<size_t>(outcome.failure)];
  }
  const uint64_t bytes = plan.head->size() + plan.marker.size() + request.body->size();
  plan.slot = {};  // the budget is free before the log line is written
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  record_outcome(mirror, request, target, plan.endpoint->address, plan.endpoint->pod,
                 outcome.completed ? "completed" : "failed",
                 outcome.completed ? std::string_view{} : stats::to_string(outcome.failure), outcome.status, ms,
                 bytes);
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

void log_not_sent(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
                  std::string_view outcome, std::string_view reason) {
  record_outcome(mirror, request, target, {}, {}, outcome, reason, 0, 0, 0);
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
    log_not_sent(mirror, request, target, "dropped", stats::to_string(reason));
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

  CopyPlan plan;
  // Most mirrors have no edits and share the request's head; only an edited one pays for its own.
  plan.head = settings && edits_copy_head(*settings)
                  ? std::make_shared<const std::string>(edit_copy_head(*request.head, *settings))
                  : request.head;
  append_mirror_marker(plan.marker, request.route, request.rule_index, mirror_index);
  append_traceparent(plan.marker, request);
  plan.marker.append(std::string_view("\r\n"));
  const uint64_t bytes = plan.head->size() + plan.marker.size() + request.body->size();
  const BudgetLimits limits{
      .worker_copies = options.max_in_flight,
      .backend_copies = settings && settings->max_in_flight ? *settings->max_in_flight
                                                            : uint64_t{options.backend_max_in_flight},
      .backend_bytes = settings && settings->max_bytes_in_flight ? *settings->max_bytes_in_flight
                                                                 : uint64_t{options.backend_max_bytes},
  };
  plan.slot = mirror.budgets.try_acquire(target.name, bytes, limits);
  if (!plan.slot) return drop(MirrorDrop::kBudget);

  ++counters.sent;
  plan.endpoint = endpoint;
  const route::ClusterEndpoints* cluster = request.clusters->find(target.cluster);
  plan.protocol = cluster->protocol;
  plan.tls = cluster->tls;
  plan.timeout = settings && settings->timeout ? *settings->timeout : options.timeout;
  plan.comparison = start_comparison(mirror, request, target, primary);
  asio::co_spawn(mirror.io, run_copy(mirror, request, target, std::move(plan)), asio::detached);
  return true;
}

}  // namespace mg::mirror
