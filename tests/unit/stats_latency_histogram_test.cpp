// The latency histograms of mirror and primary responses: bucket math, merging across workers, and
// their Prometheus text next to the mirror counters (status classes, drop and failure reasons).

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "stats/latency_histogram.h"
#include "stats/worker_stats.h"

namespace mg::stats {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, BucketBoundsAreInclusiveUpperBounds) {
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(1'000), 0u);  // le="0.001"
  EXPECT_EQ(LatencyHistogram::bucket_of(1'001), 1u);
  EXPECT_EQ(LatencyHistogram::bucket_of(2'500), 1u);
  EXPECT_EQ(LatencyHistogram::bucket_of(49'999), 5u);  // le="0.05"
  EXPECT_EQ(LatencyHistogram::bucket_of(1'000'000), 9u);
  EXPECT_EQ(LatencyHistogram::bucket_of(10'000'000), 12u);  // le="10"
  EXPECT_EQ(LatencyHistogram::bucket_of(10'000'001), 13u);  // +Inf
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), 13u);
}

TEST(LatencyHistogram, RecordsCountAndSumAndMerges) {
  LatencyHistogram a;
  a.record(3ms);
  a.record(3ms);
  a.record(20s);
  a.record(-1ms);  // a clock oddity counts as zero, never as a huge unsigned value
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.buckets[0], 1u);
  EXPECT_EQ(a.buckets[2], 2u);
  EXPECT_EQ(a.buckets[13], 1u);
  EXPECT_EQ(a.sum_us, 20'006'000u);
  LatencyHistogram b;
  b.record(3ms);
  b.merge(a);
  EXPECT_EQ(b.count(), 5u);
  EXPECT_EQ(b.buckets[2], 3u);
}

TEST(LatencyHistogram, RendersCumulativeBucketsSumAndCount) {
  LatencyHistogram h;
  h.record(500us);
  h.record(7ms);
  h.record(12s);
  std::string out;
  append_histogram_samples(out, "x_seconds", "route=\"r\"", h);
  EXPECT_NE(out.find("x_seconds_bucket{route=\"r\",le=\"0.001\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{route=\"r\",le=\"0.0025\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{route=\"r\",le=\"0.01\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{route=\"r\",le=\"10\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{route=\"r\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_sum{route=\"r\"} 12.007500\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_count{route=\"r\"} 3\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("le=\"1e"), std::string::npos) << "bounds must be plain decimals: " << out;
}

TEST(WorkerStatsRendering, MirrorCountersByClassReasonAndLatencyBesideThePrimarys) {
  WorkerStats w1, w2;
  auto& m1 = w1.mirror("ns/r", "0", "ns/m:80");
  ++m1.completed[status_class_index(204)];
  ++m1.completed[status_class_index(503)];
  m1.count_drop(MirrorDrop::kMethodNotAllowed);
  m1.count_drop(MirrorDrop::kNoEndpoint);
  m1.response_latency.record(2ms);
  auto& m2 = w2.mirror("ns/r", "0", "ns/m:80");
  ++m2.completed[status_class_index(200)];
  ++m2.failed[static_cast<size_t>(MirrorFailure::kTimeout)];
  m2.count_drop(MirrorDrop::kBudget);
  m2.response_latency.record(40ms);
  w2.record_upstream_latency("ns/r", "ns/primary:80", 4ms);
  w1.merge(w2);
  const std::string text = render_prometheus(w1);

  const std::string labels = "route=\"ns/r\",rule=\"0\",mirror_backend=\"ns/m:80\"";
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("mirrorgate_mirror_copies_completed_total{" + labels + ",class=\"2xx\"} 2")) << text;
  EXPECT_TRUE(has("mirrorgate_mirror_copies_completed_total{" + labels + ",class=\"5xx\"} 1")) << text;
  EXPECT_TRUE(has("mirrorgate_mirror_copies_completed_total{" + labels + ",class=\"3xx\"} 0")) << text;
  EXPECT_EQ(text.find("class=\"1xx\""), std::string::npos);
  for (const char* reason : {"budget", "no_endpoint", "method_not_allowed"})
    EXPECT_TRUE(has("mirrorgate_mirror_copies_dropped_total{" + labels + ",reason=\"" + reason + "\"} 1"))
        << text;
  EXPECT_TRUE(has("mirrorgate_mirror_copies_dropped_total{" + labels + ",reason=\"body_too_large\"} 0"))
      << text;
  EXPECT_TRUE(has("mirrorgate_mirror_copies_failed_total{" + labels + ",reason=\"timeout\"} 1")) << text;
  EXPECT_EQ(text.find("mirrorgate_mirror_copies_failed_total{" + labels + ",reason=\"no_endpoint\""),
            std::string::npos)
      << "no endpoint is a drop, not a failure";
  EXPECT_TRUE(has("# TYPE mirrorgate_mirror_response_seconds histogram")) << text;
  EXPECT_TRUE(has("mirrorgate_mirror_response_seconds_bucket{" + labels + ",le=\"0.0025\"} 1")) << text;
  EXPECT_TRUE(has("mirrorgate_mirror_response_seconds_count{" + labels + "} 2")) << text;
  EXPECT_TRUE(has("# TYPE mirrorgate_upstream_response_seconds histogram")) << text;
  EXPECT_TRUE(has(
      "mirrorgate_upstream_response_seconds_bucket{route=\"ns/r\",backend=\"ns/primary:80\",le=\"0.005\"} 1"))
      << text;
  EXPECT_TRUE(has("mirrorgate_upstream_response_seconds_count{route=\"ns/r\",backend=\"ns/primary:80\"} 1"))
      << text;
}

TEST(WorkerStatsRendering, StatusClassIndex) {
  EXPECT_EQ(status_class_index(200), 0u);
  EXPECT_EQ(status_class_index(299), 0u);
  EXPECT_EQ(status_class_index(301), 1u);
  EXPECT_EQ(status_class_index(404), 2u);
  EXPECT_EQ(status_class_index(599), 3u);
  EXPECT_EQ(status_class_index(999), 3u);
}

TEST(WorkerStatsRendering, TwoRulesMirroringToOneServiceCountApart) {
  WorkerStats w;
  ++w.mirror("ns/r", "reads", "ns/m:80").sent;
  w.mirror("ns/r", "1", "ns/m:80").sent += 2;
  const std::string text = render_prometheus(w);
  EXPECT_NE(text.find("mirrorgate_mirror_copies_sent_total{route=\"ns/r\",rule=\"reads\",mirror_backend=\"ns/m:80\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mirrorgate_mirror_copies_sent_total{route=\"ns/r\",rule=\"1\",mirror_backend=\"ns/m:80\"} 2\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace mg::stats
