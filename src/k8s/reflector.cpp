#include "k8s/reflector.h"

#include <algorithm>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace mg::k8s {
namespace {

double random_unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string object_key(const nlohmann::json& object) {
  const auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return {};
  const std::string name = md->value("name", "");
  const std::string ns = md->value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::string resource_version_of(const nlohmann::json& object) {
  const auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return {};
  const auto rv = md->find("resourceVersion");
  return rv != md->end() && rv->is_string() ? rv->get<std::string>() : std::string();
}

}  // namespace

std::string ReflectorScope::describe() const {
  std::string out = resource.qualified_name();
  if (!field_selector.empty()) out += " (" + field_selector + ")";
  if (resource.namespaced) out += namespace_.empty() ? " in all namespaces" : " in namespace " + namespace_;
  return out;
}

Reflector::Reflector(ClusterConnection connection, ReflectorScope scope, ObjectStore& store, int store_scope,
                     ApiHealth& health, std::function<void()> on_change, ReflectorTiming timing)
    : connection_(std::move(connection)),
      scope_(std::move(scope)),
      store_(store),
      store_scope_(store_scope),
      health_(health),
      on_change_(std::move(on_change)),
      timing_(timing) {}

Reflector::~Reflector() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Reflector::start() { thread_ = std::thread([this] { run(); }); }

void Reflector::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

std::string Reflector::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void Reflector::run() {
  client_ = std::make_unique<ApiClient>(connection_, &stop_);
  while (!stop_) {
    if (need_list_ && !list()) {
      back_off();
      continue;
    }
    watch();
  }
  client_.reset();
}

std::string Reflector::query(bool watching) const {
  std::string q = watching ? "?watch=1&allowWatchBookmarks=true" : "?limit=" + std::to_string(timing_.page_size);
  if (!scope_.field_selector.empty()) q += "&fieldSelector=" + url_encode(scope_.field_selector);
  return q;
}

bool Reflector::list() {
  std::map<ObjectStore::Key, StoredObject> objects;
  std::string continue_token, list_version;
  do {
    std::string path = scope_.resource.collection_path(scope_.namespace_) + query(false);
    if (!continue_token.empty()) path += "&continue=" + url_encode(continue_token);
    const ApiResponse response = client_->get(path, timing_.request_timeout);
    if (stop_) return false;
    if (response.status == 0) {
      health_.unreachable(response.transport_error);
      return fail(response, "list"), false;
    }
    health_.answered();
    if (response.status == 410 && !continue_token.empty()) {  // the continue token expired: start over
      continue_token.clear();
      objects.clear();
      continue;
    }
    if (!response.ok()) {
      // Forbidden or not served (RBAC, a CRD not installed): the scope counts as empty so that the rest
      // can serve, and the error is said until it goes away.
      if (!synced_ && (response.status == 403 || response.status == 404)) {
        store_.replace(store_scope_, {});
        synced_ = true;
        on_change_();
      }
      return fail(response, "list"), false;
    }
    auto doc = nlohmann::json::parse(response.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array()) {
      ApiResponse malformed = response;
      malformed.body = "malformed list: " + response.body.substr(0, 200);
      return fail(malformed, "list"), false;
    }
    for (auto& item : doc["items"]) {
      std::string key = object_key(item);
      if (key.empty()) continue;
      objects[key] = decode_object(scope_.resource, std::move(item));
    }
    const auto& md = doc["metadata"];
    list_version = md.is_object() ? md.value("resourceVersion", "") : "";
    continue_token = md.is_object() ? md.value("continue", "") : "";
  } while (!continue_token.empty() && !stop_);
  if (stop_) return false;

  store_.replace(store_scope_, std::move(objects));
  resource_version_ = list_version;
  need_list_ = false;
  backoff_ = {};
  ++relists_;
  {
    std::lock_guard lock(mutex_);
    last_error_.clear();
  }
  spdlog::debug("kubernetes: listed {} at resourceVersion {}", scope_.describe(), resource_version_);
  synced_ = true;
  on_change_();
  return true;
}

void Reflector::watch() {
  // Each watch asks for a random 1-2x the minimum, so that many watches do not all end at once.
  const auto timeout = std::chrono::seconds(static_cast<int64_t>(
      static_cast<double>(timing_.min_watch_timeout.count()) * (1.0 + random_unit())));
  const std::string path = scope_.resource.collection_path(scope_.namespace_) + query(true) +
                           "&resourceVersion=" + url_encode(resource_version_) +
                           "&timeoutSeconds=" + std::to_string(timeout.count());
  watch_outcome_ = WatchOutcome::kOpen;
  watch_error_.clear();
  size_t events = 0;
  const auto opened = std::chrono::steady_clock::now();
  // A watch the server took is a resource watched: the error of an earlier refused try is over (a quiet
  // resource's watch may say nothing for minutes).
  const auto opened_now = [this] {
    std::lock_guard lock(mutex_);
    last_error_.clear();
  };
  const ApiResponse response = client_->stream(
      path, [&](std::string_view line) { return line.empty() || (++events, handle_event(line)); },
      timing_.idle_timeout, opened_now);
  if (stop_) return;
  if (response.status == 0) {
    health_.unreachable(response.transport_error);
    fail(response, "watch");
    back_off();
    return;
  }
  health_.answered();
  if (response.status == 410 || watch_outcome_ == WatchOutcome::kExpired) {
    // etcd compacted past our resourceVersion: what changed meanwhile can only be listed.
    spdlog::info("kubernetes: watch of {} expired (resourceVersion {} is too old); listing again",
                 scope_.describe(), resource_version_);
    need_list_ = true;
    return;
  }
  if (!response.ok()) {
    // Refused (503 while a restarted API server installs its paths, 429, 403): try the watch again from
    // the same version after the backoff; if that version has expired meanwhile, the server says 410.
    fail(response, "watch");
    back_off();
    return;
  }
  if (watch_outcome_ == WatchOutcome::kFailed) {
    ApiResponse failed = response;
    failed.status = 0;
    failed.transport_error = watch_error_;
    fail(failed, "watch");
    need_list_ = true;
    back_off();
    return;
  }
  // A watch that delivered or held for a while was healthy: the next failure starts the backoff afresh.
  if (events > 0 || std::chrono::steady_clock::now() - opened >= std::chrono::seconds(1)) backoff_ = {};
  // The server ended the stream (its timeout), or the connection broke mid-stream: resume from the last
  // resourceVersion seen. A stream that broke before saying anything backs off first.
  if (!response.transport_error.empty() && events == 0) back_off();
}

bool Reflector::handle_event(std::string_view line) {
  auto event = nlohmann::json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() || !event.contains("object") ||
      !event["object"].is_object()) {
    watch_outcome_ = WatchOutcome::kFailed;
    watch_error_ = "malformed watch event: " + std::string(line.substr(0, 200));
    return false;
  }
  const std::string type = event["type"];
  auto& object = event["object"];
  if (type == "ERROR") {
    const int code = object.value("code", 0);
    if (code == 410) {
      watch_outcome_ = WatchOutcome::kExpired;
    } else {
      watch_outcome_ = WatchOutcome::kFailed;
      watch_error_ = "watch error event: " + object.value("message", object.dump().substr(0, 200));
    }
    return false;
  }
  std::string version = resource_version_of(object);
  if (type == "BOOKMARK") {
    if (!version.empty()) resource_version_ = std::move(version);
    return true;
  }
  const std::string key = object_key(object);
  if (key.empty() || (type != "ADDED" && type != "MODIFIED" && type != "DELETED")) {
    watch_outcome_ = WatchOutcome::kFailed;
    watch_error_ = "malformed watch event (type " + type + ", object " + (key.empty() ? "without a name" : key) + ")";
    return false;
  }
  bool changed = true;
  if (type == "DELETED")
    store_.erase(store_scope_, key);
  else
    changed = store_.upsert(store_scope_, key, decode_object(scope_.resource, std::move(object)));
  if (!version.empty()) resource_version_ = std::move(version);
  if (changed) on_change_();
  return true;
}

void Reflector::fail(const ApiResponse& response, const std::string& what) {
  const std::string error = response.describe();
  std::string hint;
  if (response.status == 403)
    hint = " (RBAC: the gateway's ServiceAccount needs get/list/watch on " + scope_.resource.qualified_name() + ")";
  else if (response.status == 404)
    hint = " (is its CRD installed?)";
  retry_after_ = response.retry_after;
  bool repeated;
  {
    std::lock_guard lock(mutex_);
    repeated = last_error_ == error;
    last_error_ = error;
  }
  // The first failure of a kind is a warning; the same failure again, while backing off, is debug.
  if (repeated)
    spdlog::debug("kubernetes: cannot {} {}: {}{}", what, scope_.describe(), error, hint);
  else
    spdlog::warn("kubernetes: cannot {} {}: {}{}; retrying with backoff", what, scope_.describe(), error, hint);
}

void Reflector::back_off() {
  // A server that says when to come back (429 while its storage initializes, with Retry-After) is asked
  // again then, as client-go's REST client does, without growing the backoff: it is not failing.
  if (const auto server_says = std::exchange(retry_after_, {}); server_says.count() > 0) {
    sleep_for(std::min<std::chrono::milliseconds>(server_says, timing_.max_backoff));
    return;
  }
  backoff_ = backoff_.count() == 0 ? timing_.initial_backoff : std::min(backoff_ * 2, timing_.max_backoff);
  // Jitter: anywhere from half to one and a half times the step, so that watches do not retry in step.
  sleep_for(std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff_.count()) * (0.5 + random_unit()))));
}

void Reflector::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, duration, [&] { return stop_.load(); });
}

}  // namespace mg::k8s
