#include "stats/prometheus_text.h"

#include <gtest/gtest.h>

#include "stats/worker_stats.h"

namespace mg::stats {
namespace {

TEST(StatsPrometheusText, AFamilyIsHelpTypeAndItsSamples) {
  std::string out;
  append_metric(out, "x_total", MetricType::kCounter, "Things.", {{"", 3}});
  append_metric(out, "y_seconds", MetricType::kGauge, "How long.", {{"a=\"1\"", 0.25}, {"a=\"2\"", 12}});
  finish_exposition(out, ExpositionFormat::kPrometheusText);
  EXPECT_EQ(
      out,
      "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
      "# HELP y_seconds How long.\n# TYPE y_seconds gauge\ny_seconds{a=\"1\"} 0.25\ny_seconds{a=\"2\"} 12\n");
}

TEST(StatsPrometheusText, OpenMetricsNamesACounterFamilyWithoutTotalGivesUnitsAndEndsWithEof) {
  std::string out;
  const auto om = ExpositionFormat::kOpenMetrics;
  append_metric(out, "x_total", MetricType::kCounter, "Things \"quoted\".", {{"", 3}}, om);
  append_metric(out, "y_seconds", MetricType::kGauge, "How long.", {{"a=\"1\"", 0.25}}, om);
  append_family_header(out, "z_bytes", MetricType::kHistogram, "How big.", om);
  finish_exposition(out, om);
  EXPECT_EQ(out,
            "# HELP x Things \\\"quoted\\\".\n# TYPE x counter\nx_total 3\n"
            "# HELP y_seconds How long.\n# TYPE y_seconds gauge\n# UNIT y_seconds "
            "seconds\ny_seconds{a=\"1\"} 0.25\n"
            "# HELP z_bytes How big.\n# TYPE z_bytes histogram\n# UNIT z_bytes bytes\n"
            "# EOF\n");
}

TEST(StatsPrometheusText, TheTextFormatLeavesQuotesInHelpAsTheyAre) {
  std::string out;
  append_family_header(out, "x_total", MetricType::kCounter, "a \"b\" \\ c\nd",
                       ExpositionFormat::kPrometheusText);
  EXPECT_EQ(out, "# HELP x_total a \"b\" \\\\ c\\nd\n# TYPE x_total counter\n");
}

TEST(StatsPrometheusText, NegotiatesOpenMetricsOnlyWhenTheScraperPrefersIt) {
  // What Prometheus 2.x sends by default.
  EXPECT_EQ(negotiate_format(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics);
  // Prometheus with scrape_classic_histograms / an old text-only preference.
  EXPECT_EQ(negotiate_format("text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("APPLICATION/OpenMetrics-Text; version=1.0.0"), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format(""), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("*/*"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("text/html,application/xhtml+xml,*/*;q=0.8"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(content_type(ExpositionFormat::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(content_type(ExpositionFormat::kPrometheusText), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(StatsPrometheusText, WorkerStatsInOpenMetricsKeepSampleNamesAndDropTotalFromFamilies) {
  WorkerStats w;
  w.count_downstream("ns/r", 200);
  ++w.mirror("ns/r", "0", "ns/m:80").sent;
  w.record_upstream_latency("ns/r", "ns/b:80", std::chrono::milliseconds(3));
  const std::string om = render_prometheus(w, ExpositionFormat::kOpenMetrics);
  const std::string text = render_prometheus(w, ExpositionFormat::kPrometheusText);
  auto has = [](const std::string& s, const std::string& line) {
    return s.find(line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has(om, "# TYPE mirrorgate_downstream_requests counter")) << om;
  EXPECT_TRUE(has(om, "mirrorgate_downstream_requests_total{route=\"ns/r\",code=\"200\"} 1")) << om;
  EXPECT_TRUE(has(om, "# TYPE mirrorgate_mirror_copies_sent counter")) << om;
  EXPECT_TRUE(has(om, "# UNIT mirrorgate_upstream_response_seconds seconds")) << om;
  EXPECT_TRUE(has(om, "# TYPE mirrorgate_mirror_copies_in_flight gauge")) << om;
  EXPECT_EQ(om.find("# EOF"), std::string::npos) << "the caller ends the exposition";
  EXPECT_TRUE(has(text, "# TYPE mirrorgate_downstream_requests_total counter")) << text;
  EXPECT_EQ(text.find("# UNIT"), std::string::npos) << text;
  // The samples themselves are the same in both formats.
  auto samples = [](const std::string& s) {
    std::string out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      if (s[pos] != '#') out += s.substr(pos, nl - pos + 1);
      pos = nl + 1;
    }
    return out;
  };
  EXPECT_EQ(samples(om), samples(text));
}

}  // namespace
}  // namespace mg::stats
