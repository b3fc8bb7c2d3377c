#include "mirror/endpoint_ejection.h"

#include <algorithm>

namespace mg::mirror {

bool EndpointEjections::ejected(std::string_view endpoint, Clock::time_point now) const {
  if (states_.empty()) return false;  // the common case: every mirror endpoint healthy, no lookup
  auto it = states_.find(endpoint);
  return it != states_.end() && now < it->second.until;
}

void EndpointEjections::connect_failed(std::string_view endpoint, Clock::time_point now) {
  State& s = stats::entry(states_, endpoint);
  const uint32_t doublings = std::min<uint32_t>(s.consecutive_failures, 5);  // 1 s << 5 > 30 s
  ++s.consecutive_failures;
  s.until = now + std::min<std::chrono::milliseconds>(kBase * (1u << doublings), kMax);
}

void EndpointEjections::connect_succeeded(std::string_view endpoint) {
  if (states_.empty()) return;
  if (auto it = states_.find(endpoint); it != states_.end()) states_.erase(it);
}

size_t EndpointEjections::ejected_count(Clock::time_point now) const {
  return static_cast<size_t>(
      std::count_if(states_.begin(), states_.end(), [&](const auto& kv) { return now < kv.second.until; }));
}

}  // namespace mg::mirror
