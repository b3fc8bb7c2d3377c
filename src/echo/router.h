#pragma once
// Request routing of echo-basic's plain HTTP port (echo-basic.md section 3.1): the echo-specific `//`
// collapsing followed by Go 1.22 ServeMux rules (trailing-slash and clean-path redirects), plus the
// small URL helpers the handlers need (query lookup with Go's ParseQuery rules). Pure functions, no I/O.

#include <optional>
#include <string>
#include <string_view>

namespace mg::echo {

enum class RouteKind : uint8_t {
  kEcho,
  kHealth,
  kStatus,       // /status/...: see status_code
  kRetry,        // /retry/...
  kWebSocket,    // exactly /ws
  kRedirect,     // 301 to location
  kBadRequest,   // the target could not be decoded (Go rejects it before any handler)
  kOptionsStar,  // "OPTIONS *": Go answers 200 with an empty body
};

struct Route {
  RouteKind kind = RouteKind::kEcho;
  std::string_view location;  // kRedirect: points into the caller's scratch string
  int status_code = 0;        // kStatus: the code (000-999), or -1 when the target does not match
};

// Decides the handler for a raw request-target. `scratch` holds the decoded path and any redirect
// location; keep it alive while using the result.
Route route_request(std::string_view method, std::string_view target, std::string& scratch);

// `^/status/(\d\d\d)$` against the raw target: the code (000-999), or -1.
int match_status_target(std::string_view target);

// The path and query parts of a request-target (origin- or absolute-form), undecoded.
std::string_view target_path(std::string_view target);
std::string_view target_query(std::string_view target);  // after the first '?', or empty

// Go's unescape in path mode: %XX decoded, '+' kept. False on a malformed escape.
bool unescape_path(std::string_view in, std::string& out);
// Go's ServeMux cleanPath: path.Clean, leading '/' added, trailing '/' kept.
std::string clean_path(std::string_view path);
// Go's url.URL{Path: p}.EscapedPath() for the redirect Location.
void append_escaped_path(std::string& out, std::string_view path);

// First value of key in a raw query, decoded like Go's url.ParseQuery (pairs with ';' or bad escapes
// are skipped, '+' is a space). nullopt when absent.
std::optional<std::string> query_value(std::string_view raw_query, std::string_view key);

}  // namespace mg::echo
