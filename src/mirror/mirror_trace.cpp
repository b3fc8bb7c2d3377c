#include "mirror/mirror_trace.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

namespace mg::mirror {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void MirrorTrace::record(MirrorOutcome outcome) {
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(outcome));
    return;
  }
  ring_[next_] = std::move(outcome);
  next_ = (next_ + 1) % capacity_;
}

std::vector<MirrorOutcome> MirrorTrace::snapshot() const {
  std::vector<MirrorOutcome> out;
  out.reserve(ring_.size());
  for (size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(next_ + i) % ring_.size()]);
  return out;
}

std::string trace_json(std::vector<MirrorOutcome> outcomes, const TraceQuery& query) {
  std::erase_if(outcomes, [&](const MirrorOutcome& o) {
    return (!query.request_id.empty() && o.request_id != query.request_id) || o.time_us <= query.since_us;
  });
  std::stable_sort(outcomes.begin(), outcomes.end(),
                   [](const MirrorOutcome& a, const MirrorOutcome& b) { return a.time_us < b.time_us; });
  size_t skip = outcomes.size() > query.limit ? outcomes.size() - query.limit : 0;
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = skip; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    list.push_back({{"time_us", o.time_us},
                    {"request_id", o.request_id},
                    {"route", o.route},
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
