#include "mirror/response_comparison.h"

#include <algorithm>

#include "common/fast_random.h"
#include "mirror/mirror_trace.h"
#include "mirror/shadow_writer.h"
#include "mirror/mirror_context.h"

namespace mg::mirror {

ResponseCapture::ResponseCapture(std::vector<std::string> header_names, uint64_t body_limit)
    : header_names_(std::move(header_names)), body_{&response_.body, static_cast<size_t>(body_limit)} {}

void ResponseCapture::head(int status, std::span<const http::Header> headers) {
  capture_head(status, headers, header_names_, response_);
}

CapturedResponse ResponseCapture::take() {
  response_.truncated = body_.overflowed;
  return std::move(response_);
}

ComparisonRendezvous::ComparisonRendezvous(stats::WorkerStats& stats, MismatchRing& mismatches,
                                           std::shared_ptr<const route::MirrorSettings> settings,
                                           ComparisonIdentity identity)
    : stats_(stats), mismatches_(mismatches), settings_(std::move(settings)), identity_(std::move(identity)) {}

ComparisonRendezvous::~ComparisonRendezvous() {
  if (!counted_) count(stats::ComparisonResult::kSkipped);
}

void ComparisonRendezvous::deliver_primary(std::shared_ptr<const CapturedResponse> primary) {
  primary_ = std::move(primary);
  compare_if_complete();
}

void ComparisonRendezvous::deliver_mirror(CapturedResponse mirror, std::string_view mirror_host,
                                          std::string_view mirror_pod) {
  mirror_ = std::move(mirror);
  mirror_host_ = mirror_host;
  mirror_pod_ = mirror_pod;
  compare_if_complete();
}

void ComparisonRendezvous::count(stats::ComparisonResult result) {
  counted_ = true;
  ++stats_.mirror(identity_.route, identity_.rule, identity_.mirror_backend).comparisons[static_cast<size_t>(result)];
}

void ComparisonRendezvous::compare_if_complete() {
  if (!primary_ || !mirror_ || counted_) return;
  DiffResult diff = compare_responses(*primary_, *mirror_, settings());
  if (diff.match) {
    count(stats::ComparisonResult::kMatch);
  } else {
    count(stats::ComparisonResult::kMismatch);
    mismatches_.record(Mismatch{
        .time_us = now_us(),
        .request_id = std::move(identity_.request_id),
        .route = identity_.route,
        .mirror_backend = identity_.mirror_backend,
        .primary_host = std::move(identity_.primary_host),
        .primary_pod = std::move(identity_.primary_pod),
        .mirror_host = std::move(mirror_host_),
        .mirror_pod = std::move(mirror_pod_),
        .primary_status = primary_->status,
        .mirror_status = mirror_->status,
        .differences = std::move(diff.differences),
        .note = std::move(diff.note),
    });
  }
  // The captures are not needed any more; the other side may still hold this object for a while.
  primary_.reset();
  mirror_.reset();
}

void PrimaryCapture::start(int status, std::span<const http::Header> headers) {
  // One capture serves every compared copy: the union of their headers, the largest of their caps
  // (each comparison still judges the body by its own cap).
  std::vector<std::string> names;
  uint64_t limit = 0;
  for (const auto& rendezvous : waiting_) {
    const auto& settings = rendezvous->settings();
    for (const auto& name : settings.headers)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    limit = std::max(limit, settings.max_body_bytes);
  }
  capture_.emplace(std::move(names), limit);
  capture_->head(status, headers);
}

void PrimaryCapture::hand_over() {
  auto response = std::make_shared<const CapturedResponse>(capture_->take());
  for (auto& rendezvous : waiting_) rendezvous->deliver_primary(response);
  waiting_.clear();
  capture_.reset();
}

std::shared_ptr<ComparisonRendezvous> start_comparison(MirrorContext& mirror, const MirrorRequest& request,
                                                       const route::MirrorTarget& target, PrimaryCapture* primary) {
  if (!primary || !target.settings || !target.settings->comparison.enabled) return nullptr;
  const uint32_t percent = target.settings->comparison.percent;
  if (percent < 100 && (percent == 0 || fast_random_below(100) >= percent)) return nullptr;
  auto rendezvous = std::make_shared<ComparisonRendezvous>(
      mirror.stats, mirror.mismatches, target.settings,
      ComparisonIdentity{.request_id = request.request_id,
                         .route = std::string(request.route),
                         .rule = std::string(request.rule),
                         .mirror_backend = target.name,
                         .primary_host = request.primary_host,
                         .primary_pod = std::string(request.primary_pod)});
  primary->expect(rendezvous);
  return rendezvous;
}

}  // namespace mg::mirror
