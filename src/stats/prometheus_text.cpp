#include "stats/prometheus_text.h"

#include <iterator>

#include <fmt/format.h>

namespace mg::stats {

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::initializer_list<MetricSample> samples) {
  auto to = std::back_inserter(out);
  fmt::format_to(to, "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                 type == MetricType::kCounter ? "counter" : "gauge");
  for (const auto& [labels, value] : samples) {
    if (labels.empty())
      fmt::format_to(to, "{} {}\n", name, value);
    else
      fmt::format_to(to, "{}{{{}}} {}\n", name, labels, value);
  }
}

}  // namespace mg::stats
