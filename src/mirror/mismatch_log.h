#pragma once
// The last mismatches between primary and mirror responses, kept per worker in a bounded ring and merged
// for admin /mirrors/diff and `mirrorgate mirrors --diff`: which request, which pods, and what differed.

#include <cstdint>
#include <string>
#include <vector>

#include "common/bounded_ring.h"
#include "mirror/mirror_trace.h"

namespace mg::mirror {

struct Mismatch {
  int64_t time_us = 0;  // wall clock when the comparison ran, microseconds since the epoch
  std::string request_id;
  std::string route;
  std::string mirror_backend;
  std::string primary_host;
  std::string primary_pod;
  std::string mirror_host;
  std::string mirror_pod;
  int primary_status = 0;
  int mirror_status = 0;
  std::vector<std::string> differences;
  std::string note;  // what was not compared (e.g. bodies over the cap)
};

inline constexpr size_t kMismatchesPerWorker = 100;
using MismatchRing = BoundedRing<Mismatch>;

// JSON {"mismatches":[...]} of the mismatches (from all workers) that match `query`, oldest first.
std::string mismatches_json(std::vector<Mismatch> mismatches, const TraceQuery& query);

}  // namespace mg::mirror
