#pragma once
// The config::Provider of a Kubernetes cluster: one Reflector (list and watch) per watched resource and
// namespace, plus one per Secret or ConfigMap that a Gateway references (referenced_objects.h; no other
// Secret is ever read).
// Changes are coalesced: a snapshot goes out once the store has been quiet for a short while, or at the
// latest after a maximum delay, so a burst of a thousand applies costs a handful of translations. The
// first snapshot waits until every watch has listed once. The API server going away changes nothing:
// no snapshot is sent until it answers again, and the last one keeps serving.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "config/provider.h"
#include "k8s/api_health.h"
#include "k8s/cluster_connection.h"
#include "k8s/object_store.h"
#include "k8s/leader_election.h"
#include "k8s/reflector.h"
#include "k8s/referenced_objects.h"
#include "k8s/status_writer.h"

namespace mg::k8s {

struct KubernetesProviderOptions {
  ClusterConnection connection;
  std::vector<std::string> watch_namespaces;  // empty: all namespaces
  // "ns/name" of --publish-service: watched on its own when its namespace is not watched anyway.
  std::string publish_service;
  // A snapshot waits for this much quiet after a change, so that one change is served at once...
  std::chrono::milliseconds quiet_period{20};
  // ...and for this much once the batch holds burst_events changes (kubectl applying a manifest, a
  // rollout): a burst is served in a few large batches rather than many small ones...
  std::chrono::milliseconds burst_quiet_period{250};
  size_t burst_events = 10;
  std::chrono::milliseconds max_delay{1000};  // ...but never later than this after the batch's first change
  ReflectorTiming timing;
  StatusWriterOptions status;  // its controller_name is the one we serve
  // Set: only the leader writes status (--leader-elect).
  std::optional<LeaderElectionOptions> leader_election;
};

class KubernetesProvider final : public config::Provider {
 public:
  // Callbacks run on `io`.
  KubernetesProvider(asio::io_context& io, KubernetesProviderOptions options);
  ~KubernetesProvider() override;

  // Starts the watches and returns; the first snapshot comes once each has listed.
  void start(Callback on_update) override;
  void stop() override;

  // Writes the status of a translation back to the API server (status_writer.h): route::status_json's
  // {"items": [...]}.
  void publish_status(nlohmann::json status);
  StatusWriterCounters status_counters() const;
  // Whether this replica writes status: always without leader election, else while it leads.
  bool writes_status() const;

  const ApiHealth& health() const { return health_; }
  uint64_t snapshots() const { return snapshots_.load(); }
  // The watches that cannot list or watch right now, one line each ("httproutes... : HTTP 403 ...").
  std::vector<std::string> watch_errors() const;

 private:
  // A started reflector with the next store scope.
  std::unique_ptr<Reflector> start_reflector(ReflectorScope scope);
  void changed();   // any thread
  void note_change();  // the io thread
  void on_timer();
  void deliver();
  // Starts a watch for each Secret and ConfigMap the Gateways reference and stops those no longer
  // referenced; true when every such watch has listed. Returns the number of watches it stopped in
  // `stopped`.
  bool follow_references(const config::ObjectSet& objects, size_t& stopped);

  asio::io_context& io_;
  KubernetesProviderOptions options_;
  asio::steady_timer timer_;
  // Keeps io_ running while the watches have not posted anything yet.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  ObjectStore store_;
  ApiHealth health_;
  // Changed on io_'s thread; read by the admin thread too (watch_errors).
  mutable std::mutex reflectors_mutex_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  std::map<ReferencedObject, std::unique_ptr<Reflector>> referenced_reflectors_;
  std::unique_ptr<StatusWriter> status_writer_;
  std::unique_ptr<LeaderElector> elector_;  // destroyed before the writer it switches
  int next_scope_ = 0;
  Callback on_update_;
  std::atomic<bool> change_posted_{false};
  std::atomic<uint64_t> snapshots_{0};
  bool timer_armed_ = false;
  bool pending_ = false;
  bool stopped_ = true;
  std::chrono::steady_clock::time_point first_change_, last_change_;
  std::atomic<uint64_t> events_{0};  // changes seen by the watches, all told
  uint64_t batch_start_events_ = 0;  // events_ when the pending batch began
  // Gate for posts from watch threads after stop(): they must not touch a destroyed provider.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace mg::k8s
