#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: every
// retry period a candidate reads the Lease; it takes it when it is free or its holder has not renewed
// it for a lease duration (measured on the candidate's own clock from when it saw the record change,
// so that clocks need not agree), and the leader renews it; a leader that cannot renew within the renew
// deadline stops leading. Every replica serves traffic; only the leader writes status. On stop, the
// leader gives the Lease up so that another takes over at once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "k8s/api_client.h"

namespace mg::k8s {

struct LeaderElectionOptions {
  std::string lease_namespace = "default";
  std::string lease_name = "mirrorgate-leader";
  std::string identity;  // unique per replica; empty: hostname_<random>
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
};

class LeaderElector {
 public:
  // on_change(true) when this replica starts leading, on_change(false) when it stops; on its thread.
  LeaderElector(ClusterConnection connection, LeaderElectionOptions options, std::function<void(bool)> on_change);
  ~LeaderElector();  // stops; a leader releases the Lease
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  // Ends the election (a leader releases the Lease) and waits for the thread; the object stays usable
  // for leading() and transitions().
  void stop();
  bool leading() const { return leading_.load(); }
  const std::string& identity() const { return options_.identity; }
  uint64_t transitions() const { return transitions_.load(); }  // times this replica became leader

 private:
  void run();
  bool try_acquire_or_renew();
  void release();
  void set_leading(bool leading);

  ClusterConnection connection_;
  LeaderElectionOptions options_;
  std::function<void(bool)> on_change_;
  std::unique_ptr<ApiClient> client_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> transitions_{0};
  std::mutex mutex_;
  std::condition_variable wake_;

  // The elector thread's own view of the Lease.
  std::string observed_record_;  // holder and renewTime as last read
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point renewed_at_{};
  std::thread thread_;
};

}  // namespace mg::k8s
