#pragma once
// Passive health for mirror endpoints, per worker (Envoy's outlier detection, nginx's max_fails /
// fail_timeout): an endpoint that refused or timed out a connect is ejected for a while, and copies
// meanwhile go to its healthy peers or, with none left, are dropped and counted (no_endpoint) without a
// connect attempt. Without it a refusing mirror costs a socket, a connect and a close for every copy,
// which halves the primary's throughput on a loaded worker. The ejection doubles with each consecutive
// failure (1 s, 2 s, 4 s ... at most 30 s); once it ends, the next copy is the probe, and a successful
// connect forgets the endpoint's history.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "stats/worker_stats.h"

namespace mg::mirror {

class EndpointEjections {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kBase{1000};
  static constexpr std::chrono::milliseconds kMax{30000};

  // True while `endpoint` ("ip:port") is ejected.
  bool ejected(std::string_view endpoint, Clock::time_point now) const;
  void connect_failed(std::string_view endpoint, Clock::time_point now);
  void connect_succeeded(std::string_view endpoint);
  size_t ejected_count(Clock::time_point now) const;

 private:
  struct State {
    uint32_t consecutive_failures = 0;
    Clock::time_point until{};
  };
  stats::StringMap<State> states_;  // only endpoints that failed since their last success
};

}  // namespace mg::mirror
