#pragma once
// The per-request mirror trace: the last N mirror outcomes of a worker in a bounded ring, so a person
// can ask "was request X mirrored, to which pod, and what did that pod answer?" (admin /mirrors and
// `mirrorgate mirrors`), and beside it the last N primaries that had copies (status, latency), so the
// answer shows what the client got next to what each copy got. Written by its worker only; read through
// a copy taken on the worker thread, joined off it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bounded_ring.h"

namespace mg::mirror {

struct MirrorOutcome {
  int64_t time_us = 0;  // wall clock, microseconds since the epoch
  std::string request_id;
  std::string trace_id;      // W3C trace id shared by the primary and its copies
  std::string route;
  std::string rule;          // the rule's name, else its index (the `rule` label of the mirror metrics)
  std::string mirror_backend;
  std::string primary_host;  // ip:port of the primary's endpoint
  std::string primary_pod;
  std::string mirror_host;   // ip:port of the mirror's endpoint (empty when none was picked)
  std::string mirror_pod;
  std::string outcome;       // completed, failed, dropped
  std::string reason;        // why it failed or was dropped
  int status = 0;            // the mirror's response status (0: none)
  double latency_ms = 0;
  uint64_t request_bytes = 0;
};

// How the request whose copies these are ended for its client; recorded when it ends, for requests
// with a copy in the trace (sent or dropped, not sampled out).
struct PrimaryOutcome {
  int64_t time_us = 0;
  std::string request_id;
  std::string upstream_host;  // the endpoint that answered (the last try's)
  std::string upstream_pod;
  int status = 0;             // what the client got
  double latency_ms = 0;      // request start to its end, as the access log's duration_ms
  uint64_t response_bytes = 0;
};

class MirrorTrace : public BoundedRing<MirrorOutcome> {
 public:
  explicit MirrorTrace(size_t capacity = 1024) : BoundedRing(capacity), primaries(capacity) {}
  BoundedRing<PrimaryOutcome> primaries;
};

struct TraceQuery {
  std::string_view request_id;  // empty: any
  int64_t since_us = 0;         // only outcomes after this time
  size_t limit = 100;           // newest `limit` outcomes
};

// Keeps the entries (mirror outcomes, mismatches: anything with request_id and time_us) that match the
// query, oldest first, at most the newest `limit` of them.
template <typename Entry>
void select_entries(std::vector<Entry>& entries, const TraceQuery& query) {
  std::erase_if(entries, [&](const Entry& e) {
    return (!query.request_id.empty() && e.request_id != query.request_id) || e.time_us <= query.since_us;
  });
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.time_us < b.time_us; });
  if (entries.size() > query.limit)
    entries.erase(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(entries.size() - query.limit));
}

// JSON {"mirrors":[...]} of the outcomes (from all workers) that match, oldest first, each with its
// primary's primary_status, primary_latency_ms and primary_bytes when `primaries` has it (the primary may
// still be running, or its record may have left the ring).
std::string trace_json(std::vector<MirrorOutcome> outcomes, const std::vector<PrimaryOutcome>& primaries,
                       const TraceQuery& query);

int64_t now_us();

}  // namespace mg::mirror
