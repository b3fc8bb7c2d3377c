#pragma once
// RequestRedirect: the Location the gateway answers with, following the Gateway API's rules for the
// scheme and port defaults (well-known ports are left out of the URL).

#include <string>
#include <string_view>

#include "route/route_table.h"

namespace mg::proxy::filters {

struct RedirectInput {
  std::string_view scheme;  // of the request: "http" or "https"
  std::string_view host;    // Host header, possibly with ":port"
  std::string_view target;  // request-target
  uint16_t listener_port = 0;
  std::string_view matched_prefix;
};

std::string redirect_location(const route::RequestRedirect& redirect, const RedirectInput& request);

}  // namespace mg::proxy::filters
