#pragma once
// One watched scope (a resource, in one namespace or all, optionally narrowed by a field selector),
// kept in an ObjectStore the way client-go's reflector keeps its cache: list in pages (limit/continue),
// then watch from the list's resourceVersion with bookmarks; a watch that ends, or that the server
// refuses for a while, is resumed from the last resourceVersion seen, one that expired (410 Gone) or sent
// something malformed lists again; failures back off exponentially with jitter. Runs on its own thread with its own API connection.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "k8s/api_client.h"
#include "k8s/api_health.h"
#include "k8s/api_resources.h"
#include "k8s/object_store.h"

namespace mg::k8s {

struct ReflectorScope {
  ApiResource resource;
  std::string namespace_;       // empty: all namespaces (or a cluster-scoped resource)
  std::string field_selector;   // e.g. "metadata.name=tls-cert"; empty: none
  std::string describe() const;  // "httproutes.gateway.networking.k8s.io in all namespaces"
};

struct ReflectorTiming {
  std::chrono::milliseconds request_timeout{60'000};
  std::chrono::seconds min_watch_timeout{300};  // each watch asks for a random 1-2x this (client-go's)
  std::chrono::milliseconds idle_timeout{90'000};  // no byte (not even a bookmark) for this long: reconnect
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  int64_t page_size = 500;
};

class Reflector {
 public:
  // on_change runs on the reflector's thread after each change of the store's scope.
  Reflector(ClusterConnection connection, ReflectorScope scope, ObjectStore& store, int store_scope,
            ApiHealth& health, std::function<void()> on_change, ReflectorTiming timing = {});
  ~Reflector();  // stops and joins
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void start();
  // Asks the thread to end; returns at once. The destructor waits for it.
  void request_stop();

  // The first list completed (or was refused: the scope then counts as empty, and the error says why).
  bool synced() const { return synced_.load(); }
  // Why the last list or watch failed; empty after a success.
  std::string last_error() const;
  const ReflectorScope& scope() const { return scope_; }
  int store_scope() const { return store_scope_; }
  uint64_t relists() const { return relists_.load(); }

 private:
  enum class WatchOutcome { kOpen, kExpired, kFailed };

  void run();
  std::string query(bool watching) const;
  bool list();
  void watch();
  bool handle_event(std::string_view line);
  void fail(const ApiResponse& response, const std::string& what);
  // Waits before the next attempt: the last failure's Retry-After if it had one, else the backoff.
  void back_off();
  void sleep_for(std::chrono::milliseconds duration);

  ClusterConnection connection_;
  ReflectorScope scope_;
  ObjectStore& store_;
  int store_scope_;
  ApiHealth& health_;
  std::function<void()> on_change_;
  ReflectorTiming timing_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> relists_{0};
  mutable std::mutex mutex_;  // guards last_error_ and the stop wait
  std::condition_variable wake_;
  std::string last_error_;
  // The reflector thread's own:
  std::unique_ptr<ApiClient> client_;
  std::string resource_version_;
  bool need_list_ = true;
  WatchOutcome watch_outcome_ = WatchOutcome::kOpen;
  std::string watch_error_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::seconds retry_after_{0};  // the last failure's Retry-After (fail() sets it, back_off() uses it)
  std::thread thread_;
};

}  // namespace mg::k8s
