#pragma once
// The HTTPRoute CORS filter: the gateway answers preflight requests itself and adds the
// Access-Control-* fields to actual responses, for allowed origins only.

#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "route/route_table.h"

namespace mg::proxy::filters {

bool origin_allowed(const route::Cors& cors, std::string_view origin);

// A preflight is an OPTIONS request with Origin and Access-Control-Request-Method.
bool is_preflight(std::string_view method, std::string_view origin, std::string_view request_method);

struct OwnedHeader {
  std::string_view name;  // a literal
  std::string value;
};

// The fields of the gateway's answer to a preflight; empty for a refused origin.
std::vector<OwnedHeader> preflight_headers(const route::Cors& cors, std::string_view origin,
                                           std::string_view request_method, std::string_view request_headers);

// Fields added to the response of an actual cross-origin request from an allowed origin. Views point
// into `cors` and `origin`.
void add_response_headers(const route::Cors& cors, std::string_view origin, std::vector<http::Header>& headers);

}  // namespace mg::proxy::filters
