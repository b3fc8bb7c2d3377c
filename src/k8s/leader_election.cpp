#include "k8s/leader_election.h"

#include <unistd.h>

#include <random>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "k8s/api_resources.h"

namespace mg::k8s {
namespace {

using nlohmann::json;

// metav1.MicroTime: RFC 3339 with microseconds, UTC.
std::string micro_time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1'000'000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), us);
}

std::string default_identity() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}_{:016x}", host, rng());
}

}  // namespace

LeaderElector::LeaderElector(ClusterConnection connection, LeaderElectionOptions options,
                             std::function<void(bool)> on_change)
    : connection_(std::move(connection)), options_(std::move(options)), on_change_(std::move(on_change)) {
  if (options_.identity.empty()) options_.identity = default_identity();
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::start() { thread_ = std::thread([this] { run(); }); }

void LeaderElector::set_leading(bool leading) {
  if (leading_.exchange(leading) == leading) return;
  if (leading) {
    ++transitions_;
    spdlog::info("kubernetes: {} is now the leader (Lease {}/{}): writing status", options_.identity,
                 options_.lease_namespace, options_.lease_name);
  } else {
    spdlog::warn("kubernetes: {} is no longer the leader (Lease {}/{}): status writing stops", options_.identity,
                 options_.lease_namespace, options_.lease_name);
  }
  on_change_(leading);
}

void LeaderElector::run() {
  // A stop flag of its own for the requests: release() still needs the client after stop.
  std::atomic<bool> abort_requests{false};
  client_ = std::make_unique<ApiClient>(connection_, &abort_requests);
  spdlog::info("kubernetes: {} takes part in leader election (Lease {}/{})", options_.identity,
               options_.lease_namespace, options_.lease_name);
  for (;;) {
    const bool renewed = try_acquire_or_renew();
    const auto now = std::chrono::steady_clock::now();
    if (renewed) {
      renewed_at_ = now;
      set_leading(true);
    } else if (leading_ && now - renewed_at_ > options_.renew_deadline) {
      set_leading(false);  // could not renew in time: another may take the Lease now
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.retry_period, [&] { return stop_.load(); })) break;
  }
  if (leading_) release();
  client_.reset();
}

bool LeaderElector::try_acquire_or_renew() {
  const ApiResource& lease = lease_resource();
  const std::string path = lease.object_path(options_.lease_namespace, options_.lease_name);
  const auto timeout = std::min(options_.renew_deadline, std::chrono::milliseconds(10'000));
  const std::string now_text = micro_time_now();
  const int64_t duration_seconds = std::max<int64_t>(1, options_.lease_duration.count() / 1000);

  const ApiResponse current = client_->get(path, timeout);
  if (current.status == 404) {
    const json created = {
        {"apiVersion", lease.api_version},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity}, {"leaseDurationSeconds", duration_seconds},
          {"acquireTime", now_text}, {"renewTime", now_text}, {"leaseTransitions", 0}}}};
    const ApiResponse r = client_->send("POST", lease.collection_path(options_.lease_namespace), created.dump(),
                                        "application/json", timeout);
    if (!r.ok()) spdlog::debug("kubernetes: cannot create Lease {}: {}", options_.lease_name, r.describe());
    return r.ok();
  }
  if (!current.ok()) {
    spdlog::debug("kubernetes: cannot read Lease {}: {}", options_.lease_name, current.describe());
    return false;
  }
  json doc = json::parse(current.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("spec") || !doc["spec"].is_object()) return false;
  json& spec = doc["spec"];
  const std::string holder = spec.value("holderIdentity", "");
  const std::string record = holder + "|" + spec.value("renewTime", "");
  const auto now = std::chrono::steady_clock::now();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  const int64_t their_duration = spec.value("leaseDurationSeconds", duration_seconds);
  const bool held_by_other = !holder.empty() && holder != options_.identity &&
                             now < observed_at_ + std::chrono::seconds(their_duration);
  if (held_by_other) return false;

  const bool acquiring = holder != options_.identity;
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration_seconds;
  spec["renewTime"] = now_text;
  if (acquiring) {
    spec["acquireTime"] = now_text;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  // A PUT of what we read: its resourceVersion makes a concurrent candidate's write fail (409).
  const ApiResponse r = client_->send("PUT", path, doc.dump(), "application/json", timeout);
  if (!r.ok()) {
    spdlog::debug("kubernetes: cannot {} Lease {}: {}", acquiring ? "acquire" : "renew", options_.lease_name,
                  r.describe());
    return false;
  }
  const json written = json::parse(r.body, nullptr, false);
  if (written.is_object() && written.contains("spec"))
    observed_record_ = options_.identity + "|" + written["spec"].value("renewTime", "");
  observed_at_ = now;
  return true;
}

void LeaderElector::release() {
  // As client-go's ReleaseOnCancel: no holder, a one-second lease, so that the next candidate takes it
  // on its next try instead of after a lease duration.
  const ApiResource& lease = lease_resource();
  const std::string path = lease.object_path(options_.lease_namespace, options_.lease_name);
  const ApiResponse current = client_->get(path, std::chrono::milliseconds(2000));
  json doc = current.ok() ? json::parse(current.body, nullptr, false) : json();
  if (doc.is_object() && doc.contains("spec") && doc["spec"].value("holderIdentity", "") == options_.identity) {
    doc["spec"]["holderIdentity"] = "";
    doc["spec"]["leaseDurationSeconds"] = 1;
    const ApiResponse r = client_->send("PUT", path, doc.dump(), "application/json", std::chrono::milliseconds(2000));
    spdlog::info("kubernetes: {} {} Lease {}/{}", options_.identity, r.ok() ? "released" : "could not release",
                 options_.lease_namespace, options_.lease_name);
  }
  set_leading(false);
}

}  // namespace mg::k8s
