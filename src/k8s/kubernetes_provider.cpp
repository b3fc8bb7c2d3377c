#include "k8s/kubernetes_provider.h"

#include <algorithm>

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

namespace mg::k8s {

KubernetesProvider::KubernetesProvider(asio::io_context& io, KubernetesProviderOptions options)
    : io_(io), options_(std::move(options)), timer_(io), health_(options_.connection.server) {}

KubernetesProvider::~KubernetesProvider() { stop(); }

std::unique_ptr<Reflector> KubernetesProvider::start_reflector(ReflectorScope scope) {
  auto reflector = std::make_unique<Reflector>(options_.connection, std::move(scope), store_, next_scope_++, health_,
                                               [this] { changed(); }, options_.timing);
  reflector->start();
  return reflector;
}

void KubernetesProvider::start(Callback on_update) {
  on_update_ = std::move(on_update);
  stopped_ = false;
  work_.emplace(io_.get_executor());
  status_writer_ = std::make_unique<StatusWriter>(options_.connection, store_, options_.status);
  if (options_.leader_election) {
    status_writer_->set_writing(false);
    elector_ = std::make_unique<LeaderElector>(options_.connection, *options_.leader_election,
                                               [writer = status_writer_.get()](bool leading) { writer->set_writing(leading); });
    elector_->start();
  }
  status_writer_->start();
  spdlog::info("kubernetes: watching the API server {} ({}), {}", options_.connection.server,
               options_.connection.description,
               options_.watch_namespaces.empty() ? std::string("all namespaces")
                                                 : "namespaces " + fmt::format("{}", fmt::join(options_.watch_namespaces, ", ")));
  std::lock_guard lock(reflectors_mutex_);
  for (const auto& resource : watched_resources()) {
    if (!resource.namespaced || options_.watch_namespaces.empty()) {
      reflectors_.push_back(start_reflector({resource, "", ""}));
      continue;
    }
    for (const auto& ns : options_.watch_namespaces) reflectors_.push_back(start_reflector({resource, ns, ""}));
  }
  // The published Service's status is read from its object: watch it alone if its namespace is not.
  if (const auto slash = options_.publish_service.find('/'); slash != std::string::npos) {
    const std::string ns = options_.publish_service.substr(0, slash);
    const auto& watched = options_.watch_namespaces;
    if (!watched.empty() && std::find(watched.begin(), watched.end(), ns) == watched.end())
      reflectors_.push_back(
          start_reflector({service_resource(), ns, "metadata.name=" + options_.publish_service.substr(slash + 1)}));
  }
}

void KubernetesProvider::stop() {
  if (stopped_) return;
  stopped_ = true;
  alive_->store(false);
  timer_.cancel();
  work_.reset();
  {
    std::lock_guard lock(reflectors_mutex_);
    for (auto& r : reflectors_) r->request_stop();
    for (auto& [name, r] : referenced_reflectors_) r->request_stop();
    reflectors_.clear();  // joins
    referenced_reflectors_.clear();
  }
  // Stopped, not destroyed: the admin thread may still ask for their figures while the gateway drains.
  if (elector_) elector_->stop();  // a leader releases its Lease
  if (status_writer_) status_writer_->stop();
}

bool KubernetesProvider::writes_status() const { return !elector_ || elector_->leading(); }

void KubernetesProvider::publish_status(nlohmann::json status) {
  if (status_writer_) status_writer_->publish(std::move(status));
}

StatusWriterCounters KubernetesProvider::status_counters() const {
  return status_writer_ ? status_writer_->counters() : StatusWriterCounters{};
}

std::vector<std::string> KubernetesProvider::watch_errors() const {
  std::vector<std::string> out;
  auto add = [&](const Reflector& r) {
    if (auto e = r.last_error(); !e.empty()) out.push_back(r.scope().describe() + ": " + e);
  };
  std::lock_guard lock(reflectors_mutex_);
  for (const auto& r : reflectors_) add(*r);
  for (const auto& [name, r] : referenced_reflectors_) add(*r);
  return out;
}

void KubernetesProvider::changed() {
  ++events_;
  // Many events in a row cost one post: the flag is cleared when the post runs.
  if (change_posted_.exchange(true)) return;
  asio::post(io_, [this, alive = alive_] {
    if (!alive->load()) return;
    change_posted_ = false;
    note_change();
  });
}

void KubernetesProvider::note_change() {
  const auto now = std::chrono::steady_clock::now();
  last_change_ = now;
  if (!pending_) {
    pending_ = true;
    first_change_ = now;
    batch_start_events_ = events_.load();
  }
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_at(now + options_.quiet_period);
  timer_.async_wait([this](std::error_code ec) {
    if (!ec) on_timer();
  });
}

void KubernetesProvider::on_timer() {
  timer_armed_ = false;
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool burst = events_.load() - batch_start_events_ >= options_.burst_events;
  const auto quiet_until = last_change_ + (burst ? options_.burst_quiet_period : options_.quiet_period);
  const auto latest = first_change_ + options_.max_delay;
  if (now < quiet_until && now < latest) {
    timer_armed_ = true;
    timer_.expires_at(std::min(quiet_until, latest));
    timer_.async_wait([this](std::error_code ec) {
      if (!ec) on_timer();
    });
    return;
  }
  deliver();
}

void KubernetesProvider::deliver() {
  pending_ = false;
  {
    std::lock_guard lock(reflectors_mutex_);
    for (const auto& r : reflectors_)
      if (!r->synced()) return;  // its first list will call changed() again
  }
  config::LoadResult snapshot = store_.snapshot();
  size_t stopped = 0;
  if (!follow_references(snapshot.objects, stopped)) return;
  // The Secrets and ConfigMaps of watches just stopped are still in this snapshot; take it again without them.
  if (stopped > 0) snapshot = store_.snapshot();
  ++snapshots_;
  spdlog::debug("kubernetes: snapshot {} of {} object(s)", snapshots_.load(),
                [&] {
                  size_t n = 0;
                  config::for_each_kind([&](std::string_view, auto member) { n += (snapshot.objects.*member).size(); });
                  return n;
                }());
  on_update_(std::move(snapshot.objects), std::move(snapshot.problems));
}

bool KubernetesProvider::follow_references(const config::ObjectSet& objects, size_t& stopped) {
  const std::set<ReferencedObject> wanted = referenced_objects(objects, options_.status.controller_name);
  std::lock_guard lock(reflectors_mutex_);
  for (auto it = referenced_reflectors_.begin(); it != referenced_reflectors_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    const int scope = it->second->store_scope();
    it = referenced_reflectors_.erase(it);  // joins its thread (at most about a second)...
    ++stopped;
    store_.drop_scope(scope);               // ...so that no late list puts the object back
  }
  bool all_synced = true;
  for (const auto& ref : wanted) {
    auto it = referenced_reflectors_.find(ref);
    if (it == referenced_reflectors_.end()) {
      const ApiResource& resource = ref.kind == "Secret" ? secret_resource() : config_map_resource();
      it = referenced_reflectors_.emplace(ref, start_reflector({resource, ref.namespace_, "metadata.name=" + ref.name}))
               .first;
    }
    all_synced = all_synced && it->second->synced();
  }
  return all_synced;
}

}  // namespace mg::k8s
