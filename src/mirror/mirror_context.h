#pragma once
// Everything mirror copies share on one worker: the settings from the command line, the mirror's own
// connection pool (copies never take or poison the primary's connections), the in-flight budgets,
// passive health of mirror endpoints, and the rings that /mirrors and /mirrors/diff read. The worker
// owns one; a test builds one around its own io_context, without a worker.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <asio/io_context.hpp>

#include "http/message.h"
#include "mirror/copy_lanes.h"
#include "mirror/endpoint_ejection.h"
#include "mirror/mirror_budget.h"
#include "mirror/mirror_trace.h"
#include "mirror/mismatch_log.h"
#include "stats/access_log.h"
#include "stats/worker_stats.h"
#include "upstream/connection_pool.h"
#include "upstream/load_balancer.h"
#include "upstream/upstream_context.h"

namespace mg::mirror {

// The --mirror-* flags: the defaults of every field a MirrorPolicy leaves out.
struct MirrorOptions {
  std::chrono::milliseconds timeout{5'000};         // a whole copy, connect included
  size_t body_limit = 8 * 1024 * 1024;              // larger bodies are not mirrored (counted)
  size_t max_in_flight = 1024;                      // per worker, all mirror backends: a safety cap
  size_t backend_max_in_flight = 256;               // per mirror backend and worker: beyond, dropped
  uint64_t backend_max_bytes = 64ull * 1024 * 1024;  // request bytes of the copies in flight, likewise
  size_t pipeline_depth = 16;  // copies to one HTTP/1.1 mirror endpoint in one write (copy_lanes.h); 1: none
};

struct MirrorContext {
  MirrorContext(asio::io_context& io_context, const MirrorOptions& mirror_options,
                const http::Limits& response_limits, stats::WorkerStats& worker_stats, stats::AccessLog& log,
                upstream::LoadBalancer& load_balancer);
  MirrorContext(const MirrorContext&) = delete;
  MirrorContext& operator=(const MirrorContext&) = delete;

  upstream::UpstreamContext upstream() { return {pool, balancer, stats}; }

  asio::io_context& io;  // where copies run: the primary's worker
  const MirrorOptions& options;
  const http::Limits& limits;  // for the mirrors' response heads
  stats::WorkerStats& stats;
  stats::AccessLog& access_log;
  upstream::LoadBalancer& balancer;
  upstream::ConnectionPool pool;
  MirrorBudgets budgets{stats.mirror_in_flight};  // copies hold slots until their frames go
  EndpointEjections ejections;
  MirrorTrace trace;
  MismatchRing mismatches{kMismatchesPerWorker};
  // Last: the copies queued in it hold budget slots and comparisons, which go before what they point to.
  CopyLanes lanes;
};

}  // namespace mg::mirror
