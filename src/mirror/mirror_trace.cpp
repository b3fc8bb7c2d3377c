#include "mirror/mirror_trace.h"

#include <chrono>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace mg::mirror {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string trace_json(std::vector<MirrorOutcome> outcomes, const std::vector<PrimaryOutcome>& primaries,
                       const TraceQuery& query) {
  select_entries(outcomes, query);
  std::unordered_map<std::string_view, const PrimaryOutcome*> primary_of;
  for (const auto& o : outcomes) primary_of.emplace(o.request_id, nullptr);
  for (const auto& p : primaries) {
    auto it = primary_of.find(p.request_id);
    if (it != primary_of.end()) it->second = &p;  // a client may reuse an id: the last listed wins
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& o : outcomes) {
    nlohmann::json& entry = list.emplace_back(nlohmann::json{{"time_us", o.time_us},
                                                             {"request_id", o.request_id},
                                                             {"trace_id", o.trace_id},
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
    if (const PrimaryOutcome* p = primary_of[o.request_id]) {
      entry["primary_status"] = p->status;
      entry["primary_latency_ms"] = p->latency_ms;
      entry["primary_bytes"] = p->response_bytes;
      if (!p->upstream_pod.empty()) entry["primary_pod"] = p->upstream_pod;
      if (!p->upstream_host.empty()) entry["primary_host"] = p->upstream_host;
    }
  }
  return nlohmann::json{{"mirrors", list}}.dump(1) + "\n";
}

}  // namespace mg::mirror
