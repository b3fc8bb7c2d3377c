#include "stats/latency_histogram.h"

#include <fmt/format.h>

#include <iterator>

namespace mg::stats {

void append_histogram_samples(std::string& out, std::string_view name, std::string_view labels,
                              const LatencyHistogram& histogram) {
  auto it = std::back_inserter(out);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
    cumulative += histogram.buckets[i];
    // {:g} prints 0.001, 0.0025, ..., 1, 2.5, 10: the shortest exact form of each bound.
    fmt::format_to(it, "{}_bucket{{{},le=\"{:g}\"}} {}\n", name, labels,
                   static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6, cumulative);
  }
  cumulative += histogram.buckets.back();
  fmt::format_to(it, "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  fmt::format_to(it, "{}_sum{{{}}} {:.6f}\n", name, labels, static_cast<double>(histogram.sum_us) / 1e6);
  fmt::format_to(it, "{}_count{{{}}} {}\n", name, labels, cumulative);
}

}  // namespace mg::stats
