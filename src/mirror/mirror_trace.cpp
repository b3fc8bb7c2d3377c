#include "mirror/mirror_trace.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace mg::mirror {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string trace_json(std::vector<MirrorOutcome> outcomes, const TraceQuery& query) {
  select_entries(outcomes, query);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& o : outcomes) {
    list.push_back({{"time_us", o.time_us},
                    {"request_id", o.request_id},
                    {"route", o.route},
                    {"rule", o.rule},
                    {"mirror_backend", o.mirror_backend},
                    {"primary_host", o.primary_host},
                    {"primary_pod", o.primary_pod},
                    {"mirror_host", o.mirror_host},
                    {"mirror_pod", o.mirror_pod},
                    {"outcome", o.outcome},
                    {"reason", o.reason},
                    {"status", o.status},
                    {"latency_ms", o.latency_ms},
                    {"request_bytes", o.request_bytes}});
  }
  return nlohmann::json{{"mirrors", list}}.dump(1) + "\n";
}

}  // namespace mg::mirror
