#pragma once
// The two exposition formats /metrics speaks, and one metric family in either: the Prometheus text format
// 0.0.4, and OpenMetrics 1.0.0 for scrapers that ask for it (Prometheus does, by default). They differ in
// little: an OpenMetrics counter family is named without its samples' `_total`, a family whose name ends in
// a base unit says so in `# UNIT`, HELP escapes double quotes, and the exposition ends with `# EOF`.
// append_metric() is for figures kept outside WorkerStats (the Kubernetes provider's and the config's, in
// server/gateway.cpp).

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mg::stats {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

inline constexpr std::string_view kPrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

std::string_view content_type(ExpositionFormat format);

// The format a scraper's Accept header prefers: OpenMetrics when it ranks application/openmetrics-text
// (any version, q above 0) above text/plain, else the text format (no header, */*, a browser, curl).
ExpositionFormat negotiate_format(std::string_view accept);

enum class MetricType { kCounter, kGauge, kHistogram };

// `# HELP` and `# TYPE` (and for OpenMetrics `# UNIT`) of the family whose samples are named `name` (a
// counter's with its `_total`).
void append_family_header(std::string& out, std::string_view name, MetricType type, std::string_view help,
                          ExpositionFormat format);

// What ends an exposition: `# EOF` for OpenMetrics, nothing for the text format.
void finish_exposition(std::string& out, ExpositionFormat format);

// A label value as the exposition formats write it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

// A sample: its labels as written between the braces ("result=\"written\""; empty: none) and its value.
using MetricSample = std::pair<std::string_view, double>;

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::initializer_list<MetricSample> samples,
                   ExpositionFormat format = ExpositionFormat::kPrometheusText);

}  // namespace mg::stats
