#include "k8s/status_writer.h"

#include <spdlog/spdlog.h>

#include "k8s/api_resources.h"

namespace mg::k8s {
namespace {

using nlohmann::json;

const ApiResource* resource_of(const std::string& kind) {
  for (const auto& r : watched_resources())
    if (r.kind == kind) return &r;
  return nullptr;
}

// The list of per-controller entries a kind's status has, or null for kinds whose status is all ours.
const char* shared_list_of(const std::string& kind) {
  if (kind == "HTTPRoute" || kind == "TLSRoute") return "parents";
  if (kind == "MirrorPolicy" || kind == "ClientTrafficPolicy" || kind == "BackendTLSPolicy") return "ancestors";
  return nullptr;
}

const char* reference_key_of(const std::string& kind) {
  return kind == "HTTPRoute" || kind == "TLSRoute" ? "parentRef" : "ancestorRef";
}

// obj[key] without copying, or null.
const json& member(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object()) return null;
  const auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

bool same_but_time(const json& a, const json& b) {
  for (const char* key : {"type", "status", "reason", "message", "observedGeneration"})
    if (member(a, key) != member(b, key)) return false;
  return true;
}

// Each condition of `desired` equal to the live one of its type, but for the time, takes the live time.
void carry_times(json& desired, const json& live) {
  if (!desired.is_array() || !live.is_array()) return;
  for (auto& d : desired)
    for (const auto& l : live)
      if (l.is_object() && d.is_object() && same_but_time(d, l) && l.contains("lastTransitionTime"))
        d["lastTransitionTime"] = l["lastTransitionTime"];
}

const json* find_entry(const json& list, const char* key, const json& value) {
  if (!list.is_array()) return nullptr;
  for (const auto& e : list)
    if (member(e, key) == value) return &e;
  return nullptr;
}

// Whether every field `ours` sets has the same value in `live` (fields only live has are not ours).
bool already_says(const json& ours, const json& live) {
  if (!live.is_object()) return ours.empty();
  for (const auto& [key, value] : ours.items())
    if (!live.contains(key) || live[key] != value) return false;
  return true;
}

}  // namespace

json merged_status(const std::string& kind, const json& desired, const json& live, const std::string& controller_name) {
  json out = desired.is_object() ? desired : json::object();
  if (out.contains("conditions")) carry_times(out["conditions"], member(live, "conditions"));
  if (kind == "Gateway" && out.contains("listeners"))
    for (auto& listener : out["listeners"])
      if (const json* l = find_entry(member(live, "listeners"), "name", member(listener, "name")))
        if (listener.contains("conditions")) carry_times(listener["conditions"], member(*l, "conditions"));

  if (const char* list = shared_list_of(kind)) {
    const char* ref = reference_key_of(kind);
    json entries = json::array();
    const json& live_entries = member(live, list);
    if (live_entries.is_array())
      for (const auto& e : live_entries)  // other controllers' entries stay, first, as they were
        if (e.is_object() && member(e, "controllerName") != controller_name) entries.push_back(e);
    if (member(out, list).is_array())
      for (auto e : out[list]) {
        const json* l = nullptr;
        if (live_entries.is_array())
          for (const auto& candidate : live_entries)
            if (member(candidate, "controllerName") == controller_name && member(candidate, ref) == member(e, ref))
              l = &candidate;
        if (l && e.contains("conditions")) carry_times(e["conditions"], member(*l, "conditions"));
        entries.push_back(std::move(e));
      }
    out[list] = std::move(entries);
  }
  return out;
}

StatusWriter::StatusWriter(ClusterConnection connection, const ObjectStore& store, StatusWriterOptions options)
    : connection_(std::move(connection)), store_(store), options_(std::move(options)) {
  tokens_ = options_.burst;
  tokens_at_ = std::chrono::steady_clock::now();
}

StatusWriter::~StatusWriter() { stop(); }

void StatusWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_flag_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatusWriter::start() { thread_ = std::thread([this] { run(); }); }

void StatusWriter::publish(json status) {
  {
    std::lock_guard lock(mutex_);
    published_ = std::move(status);
    ++published_version_;
  }
  wake_.notify_all();
}

void StatusWriter::set_writing(bool writing) {
  {
    std::lock_guard lock(mutex_);
    if (writing_ == writing) return;
    writing_ = writing;
    ++published_version_;  // a new leader checks everything once
  }
  wake_.notify_all();
}

StatusWriterCounters StatusWriter::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void StatusWriter::run() {
  client_ = std::make_unique<ApiClient>(connection_, &stop_flag_);
  uint64_t done_version = 0;
  uint64_t store_version_done = 0;
  bool complete = true;
  for (;;) {
    json items;
    uint64_t version;
    {
      std::unique_lock lock(mutex_);
      // Wake for new status, to retry what is left, and now and then to restore a status someone else
      // changed (the store's version says whether anything moved).
      const auto wait = complete ? std::chrono::milliseconds(10'000) : options_.per_object_interval;
      wake_.wait_for(lock, wait, [&] { return stop_ || (writing_ && published_version_ != done_version); });
      if (stop_) break;
      if (!writing_ || published_.is_null()) continue;
      const bool moved = store_.version() != store_version_done;
      if (published_version_ == done_version && complete && !moved) continue;
      items = published_.value("items", json::array());
      version = published_version_;
    }
    store_version_done = store_.version();
    complete = write_all(items);
    done_version = version;
  }
  client_.reset();
}

bool StatusWriter::write_all(const json& items) {
  bool complete = true;
  for (const auto& item : items) {
    if (stop_flag_) return false;
    Outcome outcome = write_one(item);
    std::lock_guard lock(mutex_);
    if (outcome == Outcome::kWritten) ++counters_.written;
    if (outcome == Outcome::kUnchanged) ++counters_.unchanged;
    if (outcome == Outcome::kFailed) ++counters_.failed;
    if (outcome == Outcome::kLater || outcome == Outcome::kFailed) complete = false;
  }
  return complete;
}

bool StatusWriter::take_token() {
  const auto now = std::chrono::steady_clock::now();
  tokens_ = std::min<double>(options_.burst, tokens_ + std::chrono::duration<double>(now - tokens_at_).count() *
                                                           options_.writes_per_second);
  tokens_at_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

StatusWriter::Outcome StatusWriter::write_one(const json& item) {
  const std::string kind = item.value("kind", "");
  const ApiResource* resource = resource_of(kind);
  if (!resource || !item.contains("metadata") || !item.contains("status")) return Outcome::kUnchanged;
  const std::string ns = item["metadata"].value("namespace", "");
  const std::string name = item["metadata"].value("name", "");
  const std::string key = ns.empty() ? name : ns + "/" + name;
  auto live = store_.live(kind, key);
  if (!live) return Outcome::kUnchanged;  // gone, or not watched: nothing to write to
  const std::string id = kind + " " + key;
  const std::string path = resource->object_path(ns, name);
  for (int attempt = 0; attempt < 3; ++attempt) {
    json status = merged_status(kind, item["status"], live->status, options_.controller_name);
    if (already_says(status, live->status)) return Outcome::kUnchanged;
    const auto now = std::chrono::steady_clock::now();
    auto& last = last_write_[id];
    if (now - last < options_.per_object_interval || !take_token()) return Outcome::kLater;
    last = now;
    const json patch = {{"metadata", {{"resourceVersion", live->resource_version}}}, {"status", status}};
    const ApiResponse response =
        client_->send("PATCH", path + "/status", patch.dump(), "application/merge-patch+json", options_.request_timeout);
    if (response.ok()) {
      spdlog::debug("kubernetes: wrote the status of {}", id);
      last_error_.erase(id);
      return Outcome::kWritten;
    }
    if (response.status == 404) return Outcome::kUnchanged;  // deleted meanwhile
    if (response.status != 409) {
      std::string error = response.describe();
      if (last_error_[id] != error)
        spdlog::warn("kubernetes: cannot write the status of {}: {}{}", id, error,
                     response.status == 403 ? " (RBAC: the gateway needs update/patch on its /status)" : "");
      last_error_[id] = std::move(error);
      return Outcome::kFailed;
    }
    // Someone wrote it since we read it: read it again and compute the status anew.
    {
      std::lock_guard lock(mutex_);
      ++counters_.conflicts;
    }
    const ApiResponse fresh = client_->get(path, options_.request_timeout);
    const json doc = fresh.ok() ? json::parse(fresh.body, nullptr, false) : json();
    if (!doc.is_object()) return Outcome::kLater;
    live->resource_version = doc["metadata"].value("resourceVersion", "");
    live->status = doc.value("status", json::object());
    last = {};  // the retry is part of the same write
  }
  return Outcome::kLater;
}

}  // namespace mg::k8s
