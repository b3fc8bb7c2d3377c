#include "stats/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <iterator>

#include <fmt/format.h>

namespace mg::stats {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// The q of one media range ("type/subtype;version=1.0.0;q=0.5"); 1 when it names none, 0 when unreadable.
double quality(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
    std::string_view v = param.substr(2);
    double q = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), q);
    return ec == std::errc{} && end == v.data() + v.size() ? q : 0;
  }
  return 1;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string escape_help(std::string_view help, ExpositionFormat format) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && format == ExpositionFormat::kOpenMetrics)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view content_type(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics ? kOpenMetricsContentType : kPrometheusTextContentType;
}

ExpositionFormat negotiate_format(std::string_view accept) {
  double openmetrics = 0, text = 0;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    size_t semi = range.find(';');
    std::string_view type = trim(range.substr(0, semi));
    double q = quality(semi == std::string_view::npos ? std::string_view{} : range.substr(semi + 1));
    if (iequals(type, "application/openmetrics-text"))
      openmetrics = std::max(openmetrics, q);
    else if (iequals(type, "text/plain") || iequals(type, "text/*") || iequals(type, "*/*"))
      text = std::max(text, q);
  }
  return openmetrics > 0 && openmetrics > text ? ExpositionFormat::kOpenMetrics
                                               : ExpositionFormat::kPrometheusText;
}

void append_family_header(std::string& out, std::string_view name, MetricType type, std::string_view help,
                          ExpositionFormat format) {
  auto to = std::back_inserter(out);
  std::string_view family = name;
  if (format == ExpositionFormat::kOpenMetrics) {
    if (type == MetricType::kCounter && ends_with(family, "_total")) family.remove_suffix(6);
  }
  fmt::format_to(to, "# HELP {} {}\n# TYPE {} {}\n", family, escape_help(help, format), family,
                 type_name(type));
  if (format == ExpositionFormat::kOpenMetrics) {
    for (std::string_view unit : {"seconds", "bytes"})
      if (ends_with(family, fmt::format("_{}", unit))) fmt::format_to(to, "# UNIT {} {}\n", family, unit);
  }
}

void finish_exposition(std::string& out, ExpositionFormat format) {
  if (format == ExpositionFormat::kOpenMetrics) out += "# EOF\n";
}

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::initializer_list<MetricSample> samples, ExpositionFormat format) {
  append_family_header(out, name, type, help, format);
  auto to = std::back_inserter(out);
  for (const auto& [labels, value] : samples) {
    if (labels.empty())
      fmt::format_to(to, "{} {}\n", name, value);
    else
      fmt::format_to(to, "{}{{{}}} {}\n", name, labels, value);
  }
}

}  // namespace mg::stats
