#include "stats/prometheus_text.h"

#include <gtest/gtest.h>

namespace mg::stats {
namespace {

TEST(StatsPrometheusText, AFamilyIsHelpTypeAndItsSamples) {
  std::string out;
  append_metric(out, "x_total", MetricType::kCounter, "Things.", {{"", 3}});
  append_metric(out, "y_seconds", MetricType::kGauge, "How long.", {{"a=\"1\"", 0.25}, {"a=\"2\"", 12}});
  EXPECT_EQ(out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
            "# HELP y_seconds How long.\n# TYPE y_seconds gauge\ny_seconds{a=\"1\"} 0.25\ny_seconds{a=\"2\"} 12\n");
}

}  // namespace
}  // namespace mg::stats
