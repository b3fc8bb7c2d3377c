#include "route/client_traffic_settings.h"

namespace mg::route {

ClientLimits effective_client_limits(const ClientTrafficSettings* settings, ClientLimits defaults) {
  if (!settings) return defaults;
  ClientLimits out = defaults;
  out.head.max_request_line = settings->max_request_line.value_or(defaults.head.max_request_line);
  out.head.max_header_bytes = settings->max_header_bytes.value_or(defaults.head.max_header_bytes);
  out.head.max_headers = settings->max_headers.value_or(defaults.head.max_headers);
  out.max_request_body = settings->max_request_body.value_or(defaults.max_request_body);
  out.header_timeout = settings->header_timeout.value_or(defaults.header_timeout);
  out.idle_timeout = settings->idle_timeout.value_or(defaults.idle_timeout);
  return out;
}

}  // namespace mg::route
