#include "k8s/api_health.h"

#include <spdlog/spdlog.h>

namespace mg::k8s {

void ApiHealth::answered() {
  std::lock_guard lock(mutex_);
  if (connected_) return;
  connected_ = true;
  spdlog::info("kubernetes: API server {} answers again after {:.1f} s disconnected; resyncing", server_,
               std::chrono::duration<double>(Clock::now() - lost_at_).count());
}

void ApiHealth::unreachable(const std::string& error) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (connected_) {
    connected_ = false;
    lost_at_ = last_logged_ = now;
    ++disconnections_;
    spdlog::warn("kubernetes: API server {} unreachable ({}); serving the last snapshot, reconnecting", server_,
                 error);
    return;
  }
  if (now - last_logged_ >= std::chrono::seconds(30)) {
    last_logged_ = now;
    spdlog::warn("kubernetes: API server {} unreachable for {:.0f} s ({}); still serving the last snapshot",
                 server_, std::chrono::duration<double>(now - lost_at_).count(), error);
  }
}

double ApiHealth::disconnected_seconds() const {
  std::lock_guard lock(mutex_);
  return connected_ ? 0.0 : std::chrono::duration<double>(Clock::now() - lost_at_).count();
}

uint64_t ApiHealth::disconnections() const {
  std::lock_guard lock(mutex_);
  return disconnections_;
}

}  // namespace mg::k8s
