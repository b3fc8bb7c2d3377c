#pragma once
// The shadow writer: sends a copy of a forwarded request to a mirror backend, fire and forget. Each
// copy is a detached coroutine on the primary's worker with its own connection pool, its own timeout
// and a bounded in-flight budget. Its response is read (so the connection can be reused) and
// discarded. Nothing here can delay or change the primary's answer: the primary never awaits a copy.

#include <memory>
#include <string>
#include <string_view>

#include "route/route_table.h"

namespace mg::net {
class Worker;
}

namespace mg::mirror {

struct MirrorRequest {
  std::shared_ptr<const route::RouteTable> table;  // pinned: the copy resolves endpoints in it
  std::string_view route;                          // views into the pinned table
  std::string request_id;
  std::string method;
  std::shared_ptr<const std::string> head;  // complete request head, shared by every copy
  std::shared_ptr<const std::string> body;  // complete body (may be empty), shared by every copy
};

// Launches one copy to `target` (a mirror of the matched rule). Returns at once.
void send_copy(net::Worker& worker, const MirrorRequest& request, const route::MirrorTarget& target);

}  // namespace mg::mirror
