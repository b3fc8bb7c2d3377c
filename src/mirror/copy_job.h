#pragma once
// One mirror copy on its way: what it carries besides the request (its own head or the shared one, its
// marker lines, where it goes, its deadline, its budget slot, its comparison), how its answer is read
// on an upstream Exchange, and how its end is counted, logged and traced. The shadow writer makes jobs;
// copy lanes (copy_lanes.h) send them, several in one write where they can, one at a time otherwise.

#include <array>
#include <chrono>
#include <memory>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <fmt/format.h>

#include "mirror/mirror_budget.h"
#include "mirror/shadow_writer.h"
#include "route/cluster_set.h"
#include "route/route_table.h"
#include "stats/worker_stats.h"

namespace mg::upstream {
class Exchange;
}

namespace mg::mirror {

struct MirrorContext;
class ComparisonRendezvous;

using CopyClock = std::chrono::steady_clock;

struct CopyOutcome {
  bool completed = false;
  stats::MirrorFailure failure = stats::MirrorFailure::kConnect;
  int status = 0;
  CopyClock::time_point head_at;  // when the final response head arrived (the latency histogram's end)

  static CopyOutcome failed_with(stats::MirrorFailure f) {
    return {.completed = false, .failure = f, .status = 0, .head_at = {}};
  }
};

// The X-Mirrorgate-Mirror and traceparent lines of one copy and the head's final empty line, kept inline
// with its copy (no allocation for any sensible route name).
using MarkerBuffer = fmt::basic_memory_buffer<char, 256>;

struct CopyJob {
  MirrorRequest request;
  const route::MirrorTarget* target = nullptr;  // lives in request.table
  stats::MirrorCounters* counters = nullptr;    // its mirror's, in the worker's stats (never erased)
  std::shared_ptr<const std::string> head;      // the request's, or this mirror's edited one
  MarkerBuffer marker;
  const route::Endpoint* endpoint = nullptr;    // lives in request.clusters
  route::UpstreamProtocol protocol = route::UpstreamProtocol::kHttp1;  // the mirror cluster's
  std::shared_ptr<const net::UpstreamTlsContext> tls;  // the mirror cluster's BackendTLSPolicy; null: plain
  std::chrono::milliseconds timeout{0};         // the whole copy, connect and any wait in a lane included
  MirrorBudgets::Slot slot;                     // held until the copy ends, however it ends
  std::shared_ptr<ComparisonRendezvous> comparison;  // null unless this copy's answer is compared
  CopyClock::time_point start;                  // when the copy was launched
  bool retried = false;    // sent again after the connection it was pipelined on closed unanswered
  bool pipelined = false;  // written behind another copy in one write
  std::unique_ptr<CopyJob> next;  // its lane's queue (copy_lanes.h)

  CopyClock::time_point deadline() const { return start + timeout; }
  // What is left of the copy's time, at least a millisecond (a wait needs some deadline).
  std::chrono::milliseconds remaining(CopyClock::time_point now) const;
  // Head, marker lines and body: the copy's bytes on an HTTP/1.1 wire.
  std::array<asio::const_buffer, 3> buffers() const {
    return {asio::buffer(*head), asio::buffer(marker.data(), marker.size()), asio::buffer(*request.body)};
  }
  uint64_t bytes() const { return head->size() + marker.size() + request.body->size(); }
  // RFC 9110 9.2.2: only requests with these methods may go again after a connection ended unanswered,
  // and nothing is pipelined behind one that is not (RFC 9112 9.3.2).
  bool idempotent() const;
};

// Reads the answer to a copy whose request went out on `exchange` already: the head (1xx dropped), then
// the body, discarded after the job's comparison (if any) saw it. The deadline armed on the exchange
// bounds it. Views of the answer are gone when it returns.
asio::awaitable<CopyOutcome> read_copy_answer(MirrorContext& mirror, upstream::Exchange& exchange, CopyJob& job);

// How the copy ended, counted (its mirror's counters and latency), logged (the access log) and traced
// (the worker's mirror trace); its budget slot is free before the log line is written.
void finish_copy(MirrorContext& mirror, CopyJob& job, const CopyOutcome& outcome);

// A copy dropped before it went out (the reason counted by the caller): the log line and the trace entry.
void record_dropped(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
                    std::string_view reason);

}  // namespace mg::mirror
