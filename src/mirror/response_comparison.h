#pragma once
// Response comparison, the plumbing: a request whose mirror has comparison enabled (and is sampled)
// gets one ComparisonRendezvous per compared copy, shared by the primary's session and the copy's
// coroutine. Each side captures its response (status, chosen headers, body up to the cap) and delivers
// it; whichever delivers second runs the comparison on the worker thread, so no lock is needed. A side
// that never delivers (primary failed or aborted, copy failed) makes the comparison "skipped", counted
// when the last reference goes. Requests without compared mirrors pay one empty-vector test.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/body_capture.h"
#include "http/message.h"
#include "mirror/mismatch_log.h"
#include "mirror/response_diff.h"
#include "route/mirror_settings.h"
#include "route/route_table.h"
#include "stats/worker_stats.h"

namespace mg::mirror {

// Fills one side's CapturedResponse while its response is read: the head once, then the body through a
// BodyCapture (the type relay_body feeds). Not copyable or movable: the BodyCapture points into it.
class ResponseCapture {
 public:
  ResponseCapture(std::vector<std::string> header_names, uint64_t body_limit);
  ResponseCapture(const ResponseCapture&) = delete;
  ResponseCapture& operator=(const ResponseCapture&) = delete;

  void head(int status, std::span<const http::Header> headers);
  http::BodyCapture& body() { return body_; }
  CapturedResponse take();

 private:
  std::vector<std::string> header_names_;
  CapturedResponse response_;
  http::BodyCapture body_;
};

// Who the comparison is about; copied into a Mismatch when the responses differ.
struct ComparisonIdentity {
  std::string request_id;
  std::string route;
  std::string rule;  // the rule's metrics label
  std::string mirror_backend;
  std::string primary_host;
  std::string primary_pod;
};

class ComparisonRendezvous {
 public:
  ComparisonRendezvous(stats::WorkerStats& stats, MismatchRing& mismatches,
                       std::shared_ptr<const route::MirrorSettings> settings, ComparisonIdentity identity);
  ~ComparisonRendezvous();  // never compared: counted "skipped"
  ComparisonRendezvous(const ComparisonRendezvous&) = delete;
  ComparisonRendezvous& operator=(const ComparisonRendezvous&) = delete;

  const route::ResponseComparison& settings() const { return settings_->comparison; }
  void deliver_primary(std::shared_ptr<const CapturedResponse> primary);
  void deliver_mirror(CapturedResponse mirror, std::string_view mirror_host, std::string_view mirror_pod);

 private:
  void compare_if_complete();
  void count(stats::ComparisonResult result);

  stats::WorkerStats& stats_;
  MismatchRing& mismatches_;
  std::shared_ptr<const route::MirrorSettings> settings_;  // pinned: the table may be swapped meanwhile
  ComparisonIdentity identity_;
  std::shared_ptr<const CapturedResponse> primary_;
  std::optional<CapturedResponse> mirror_;
  std::string mirror_host_;
  std::string mirror_pod_;
  bool counted_ = false;
};

// The primary's side, one per request: the copies waiting for the primary's response, and its capture.
// Every member is a no-op while no copy waits, which is the case for every request without comparison.
class PrimaryCapture {
 public:
  void expect(std::shared_ptr<ComparisonRendezvous> rendezvous) { waiting_.push_back(std::move(rendezvous)); }
  // The response head, before the buffer its views point into is reused.
  void head(int status, std::span<const http::Header> headers) {
    if (!waiting_.empty()) start(status, headers);
  }
  // Where relay_body copies the body to; null when nothing is compared.
  http::BodyCapture* body() { return capture_ ? &capture_->body() : nullptr; }
  // The whole response reached the client: hand it to every waiting copy. Not called when the primary
  // fails, and then the copies' comparisons are skipped.
  void deliver() {
    if (capture_) hand_over();
  }

 private:
  void start(int status, std::span<const http::Header> headers);
  void hand_over();

  std::vector<std::shared_ptr<ComparisonRendezvous>> waiting_;
  std::optional<ResponseCapture> capture_;
};

struct MirrorContext;
struct MirrorRequest;

// For a copy about to be sent: when its mirror compares responses and this request draws within the
// percent, a rendezvous the primary's capture now waits on too; null otherwise (and when `primary` is).
std::shared_ptr<ComparisonRendezvous> start_comparison(MirrorContext& mirror, const MirrorRequest& request,
                                                       const route::MirrorTarget& target, PrimaryCapture* primary);

}  // namespace mg::mirror
