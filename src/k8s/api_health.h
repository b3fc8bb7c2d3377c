#pragma once
// Whether the API server answers, as the watches see it, so that a metric and a log line can say how
// long it has been gone. Traffic never depends on it: the last snapshot keeps serving meanwhile.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace mg::k8s {

class ApiHealth {
 public:
  explicit ApiHealth(std::string server) : server_(std::move(server)) {}

  // A request got an HTTP answer (any status: the server is there).
  void answered();
  // A request got none (refused, reset, timed out).
  void unreachable(const std::string& error);

  // 0 while connected; else seconds since the first request that got no answer.
  double disconnected_seconds() const;
  uint64_t disconnections() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::string server_;
  mutable std::mutex mutex_;
  bool connected_ = true;
  Clock::time_point lost_at_{};
  Clock::time_point last_logged_{};
  uint64_t disconnections_ = 0;
};

}  // namespace mg::k8s
