#pragma once
// A fixed-bucket latency histogram (1 ms .. 10 s, Prometheus' default shape shifted down a decade):
// plain per-worker counters, merged at scrape time like every other stat. Recording is a short loop
// over 13 integer bounds and never allocates.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace mg::stats {

struct LatencyHistogram {
  // Upper bounds in microseconds; a last, implicit bucket holds everything slower (+Inf).
  static constexpr std::array<uint64_t, 13> kBoundsUs{1'000,     2'500,     5'000,     10'000,  25'000,
                                                      50'000,    100'000,   250'000,   500'000, 1'000'000,
                                                      2'500'000, 5'000'000, 10'000'000};
  std::array<uint64_t, kBoundsUs.size() + 1> buckets{};  // not cumulative; rendered cumulative
  uint64_t sum_us = 0;

  static size_t bucket_of(uint64_t us) {
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    return i;
  }
  void record(std::chrono::steady_clock::duration elapsed) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    const uint64_t value = us > 0 ? static_cast<uint64_t>(us) : 0;
    ++buckets[bucket_of(value)];
    sum_us += value;
  }
  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t b : buckets) n += b;
    return n;
  }
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
    sum_us += o.sum_us;
  }
};

// Appends the _bucket (cumulative, le in seconds), _sum and _count samples of one series. `labels`
// is the already escaped label list without braces, e.g. route="a",backend="b".
void append_histogram_samples(std::string& out, std::string_view name, std::string_view labels,
                              const LatencyHistogram& histogram);

}  // namespace mg::stats
