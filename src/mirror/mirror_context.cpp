#include "mirror/mirror_context.h"

#include <algorithm>

namespace mg::mirror {

MirrorContext::MirrorContext(asio::io_context& io_context, const MirrorOptions& mirror_options,
                             const http::Limits& response_limits, stats::WorkerStats& worker_stats,
                             stats::AccessLog& log, upstream::LoadBalancer& load_balancer)
    : io(io_context),
      options(mirror_options),
      limits(response_limits),
      stats(worker_stats),
      access_log(log),
      balancer(load_balancer),
      // A copy holds its connection for the mirror's whole latency; with fewer idle slots than copies in
      // flight, every burst of completions closes connections that the next burst of copies reopens.
      pool(std::max<size_t>(mirror_options.max_in_flight, 128)) {}

}  // namespace mg::mirror
