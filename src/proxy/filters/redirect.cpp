#include "proxy/filters/redirect.h"

#include "proxy/filters/path_rewrite.h"

namespace mg::proxy::filters {

namespace {
std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

int well_known_port(std::string_view scheme) {
  if (scheme == "http") return 80;
  if (scheme == "https") return 443;
  return 0;
}
}  // namespace

std::string redirect_location(const route::RequestRedirect& redirect, const RedirectInput& request) {
  std::string_view scheme = redirect.scheme.empty() ? request.scheme : std::string_view(redirect.scheme);
  std::string_view host = redirect.hostname.empty() ? host_without_port(request.host)
                                                    : std::string_view(redirect.hostname);
  // Port: as configured; else the new scheme's well-known port when the scheme was set; else the
  // listener's port.
  int port = redirect.port;
  if (port == 0) {
    int known = redirect.scheme.empty() ? 0 : well_known_port(scheme);
    port = known ? known : request.listener_port;
  }
  std::string location;
  location.append(scheme).append("://").append(host);
  if (port != well_known_port(scheme)) location.append(":").append(std::to_string(port));
  location.append(rewrite_target(request.target, redirect.path, request.matched_prefix));
  return location;
}

}  // namespace mg::proxy::filters
