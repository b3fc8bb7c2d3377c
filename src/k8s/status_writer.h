#pragma once
// Writes the status the translator decided back to the API server, as the Gateway API asks of an
// implementation: GatewayClass, Gateway, our entries of HTTPRoute status.parents (other controllers'
// entries are kept) and our entries of a policy's status.ancestors (GEP-713). Each write is a JSON
// merge patch of the /status subresource carrying the resourceVersion it was computed against, so a
// concurrent change makes it fail with 409 Conflict; then the object is read again and the status
// computed anew. An object whose status already says it is not written; a condition that did not
// change keeps the lastTransitionTime the API server holds (also across restarts). Writes are
// rate-limited: a token bucket for all, and at most one write per object per interval, so that a
// flapping object cannot flood the API server. Runs on its own thread; only writes while allowed
// (leader election).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "k8s/api_client.h"
#include "k8s/object_store.h"

namespace mg::k8s {

struct StatusWriterOptions {
  std::string controller_name = "mirrorgate.io/gateway-controller";
  // --kube-api-qps and --kube-api-burst (controller-runtime programs have the same two); at 50 a second,
  // the status of 10,000 new routes takes 200 s to write.
  double writes_per_second = 50;
  int burst = 100;
  std::chrono::milliseconds per_object_interval{1000};
  std::chrono::milliseconds request_timeout{10'000};
};

struct StatusWriterCounters {
  uint64_t written = 0;    // patches the API server accepted
  uint64_t unchanged = 0;  // objects whose status already said it
  uint64_t conflicts = 0;  // 409s, each followed by a read and a new attempt
  uint64_t failed = 0;     // patches refused or unanswered (retried on the next round)
};

// The status to write for one object, given the status the API server holds: ours for GatewayClass
// and Gateway; for HTTPRoute and policies, the live entries of other controllers followed by ours.
// Conditions equal to a live one but for lastTransitionTime take the live time. Pure, for tests.
nlohmann::json merged_status(const std::string& kind, const nlohmann::json& desired, const nlohmann::json& live,
                             const std::string& controller_name);

class StatusWriter {
 public:
  StatusWriter(ClusterConnection connection, const ObjectStore& store, StatusWriterOptions options);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  void start();
  // Stops writing and waits for the thread; counters() still answers.
  void stop();
  // The status of every object, as route::status_json prints it ({"items": [...]}); replaces what was
  // published before and is not written yet.
  void publish(nlohmann::json status);
  // Whether this replica may write (leader election); on by default. Gaining it rewrites what differs.
  void set_writing(bool writing);
  StatusWriterCounters counters() const;

 private:
  void run();
  // One pass over the published status; returns false when something is left to do later.
  bool write_all(const nlohmann::json& items);
  enum class Outcome { kWritten, kUnchanged, kLater, kFailed };
  Outcome write_one(const nlohmann::json& item);
  bool take_token();

  ClusterConnection connection_;
  const ObjectStore& store_;
  StatusWriterOptions options_;
  std::unique_ptr<ApiClient> client_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  nlohmann::json published_;
  uint64_t published_version_ = 0;
  bool writing_ = true;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};
  StatusWriterCounters counters_;

  // The writer thread's own:
  double tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_{};
  std::map<std::string, std::chrono::steady_clock::time_point> last_write_;
  std::map<std::string, std::string> last_error_;  // per object: a failure is logged when it changes
  std::thread thread_;
};

}  // namespace mg::k8s
