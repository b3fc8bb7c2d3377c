#pragma once
// One metric family in the Prometheus text exposition format 0.0.4: its HELP and TYPE lines and its
// samples, for figures kept outside WorkerStats (the Kubernetes provider's, in server/gateway.cpp).

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mg::stats {

enum class MetricType { kCounter, kGauge };

// A sample: its labels as written between the braces ("result=\"written\""; empty: none) and its value.
using MetricSample = std::pair<std::string_view, double>;

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::initializer_list<MetricSample> samples);

}  // namespace mg::stats
