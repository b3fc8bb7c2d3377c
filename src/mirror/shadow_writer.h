#pragma once
// The shadow writer: sends a copy of a forwarded request to a mirror backend, fire and forget. Each
// copy runs on the primary's worker, on the mirrors' own connection pool, with its own timeout and a
// slot in its mirror backend's in-flight budgets; copies to one endpoint launched in the same turn go
// out pipelined (copy_lanes.h). Its response is read (so the connection can be reused) and discarded. Nothing here can delay or change the primary's answer: the primary never
// awaits a copy. A mirror's MirrorPolicy settings (route::MirrorSettings) apply per copy; unset fields
// fall back to the --mirror-* flags.

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/trace_context.h"
#include "route/cluster_set.h"
#include "route/route_table.h"

namespace mg::mirror {

class PrimaryCapture;
struct MirrorContext;

struct MirrorRequest {
  // Pinned together, as the request pinned them: the copy's target lives in the table, and it picks its
  // endpoint in the clusters (built for that table).
  std::shared_ptr<const route::RouteTable> table;
  std::shared_ptr<const route::ClusterSet> clusters;
  std::string_view route;  // views into the pinned table
  std::string_view rule;   // the rule's metrics label (route::Rule::label)
  std::string request_id;
  TraceId trace_id{};    // the request's W3C trace: each copy sends it with a span id of its own
  bool sampled = false;
  std::string method;
  size_t rule_index = 0;
  std::string primary_host;       // ip:port the primary went to (owned: the copy outlives the request)
  std::string_view primary_pod;   // view into the pinned clusters
  // The request head without its final empty line, shared by every copy: each copy adds its own
  // X-Mirrorgate-Mirror line (which mirror of which rule it is), its traceparent and the empty line.
  std::shared_ptr<const std::string> head;
  std::shared_ptr<const std::string> body;  // complete body (may be empty), shared by every copy
  // The body went past the capture limit, so `body` is empty: every copy is dropped (body_too_large).
  bool body_too_large = false;
  bool upgrade = false;  // the request opens a tunnel (WebSocket): every copy is dropped (upgrade)
};

// Launches one copy to `target`, the `mirror_index`-th mirror of the matched rule. Returns at once. The copy
// keeps a reference to `target`, which lives in `request.table`, and to the endpoint it picks, which lives
// in `request.clusters`.
// `primary`: the request's capture, for mirrors that compare their response with the primary's.
// True when the copy is in the trace (sent, or dropped and logged); false when sampled out.
bool send_copy(MirrorContext& mirror, const MirrorRequest& request, const route::MirrorTarget& target,
               size_t mirror_index, PrimaryCapture* primary = nullptr);

// How much of a request body to keep for the copies of these mirrors: the largest of their body
// limits (MirrorPolicy maxBodySize), and at least `default_limit` (--mirror-body-limit).
size_t body_capture_limit(std::span<const route::MirrorTarget> rule_mirrors,
                          std::span<const route::MirrorTarget> backend_mirrors, size_t default_limit);

}  // namespace mg::mirror
