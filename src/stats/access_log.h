#pragma once
// One JSON line per request and one per mirror copy outcome, joined by request_id. Lines are written
// with a single write(2) each, so lines from different workers never interleave.

#include <cstdint>
#include <string>
#include <string_view>

namespace mg::stats {

struct RequestLogEntry {
  std::string_view request_id;
  std::string_view client;
  std::string_view method;
  std::string_view host;
  std::string_view target;
  std::string_view protocol;  // "HTTP/1.1", "HTTP/1.0", "HTTP/2"
  std::string_view route;
  std::string_view backend;
  std::string_view upstream_host;
  std::string_view upstream_pod;
  std::string_view upstream_protocol;  // "HTTP/1.1" or "h2c"; empty (not written) when no backend was tried
  int status = 0;
  uint64_t request_bytes = 0;  // body bytes received from the client
  uint64_t response_bytes = 0;
  double duration_ms = 0;
  size_t mirrors = 0;
  std::string_view error;  // why the gateway answered itself, if it did
};

struct MirrorLogEntry {
  std::string_view request_id;
  std::string_view route;
  std::string_view method;
  std::string_view path;  // the request-target the copy was sent with (after the route's rewrites)
  std::string_view mirror_backend;
  std::string_view upstream_host;
  std::string_view upstream_pod;
  std::string_view upstream_protocol;  // "HTTP/1.1" or "h2c"
  int status = 0;
  std::string_view outcome;  // completed, failed, dropped
  std::string_view reason;
  double duration_ms = 0;
  uint64_t request_bytes = 0;
};

class AccessLog {
 public:
  // "-" writes to stdout, "off" disables, anything else is a file opened for appending.
  explicit AccessLog(const std::string& destination);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return fd_ >= 0; }
  void log(const RequestLogEntry& e);
  void log(const MirrorLogEntry& e);

 private:
  void write_line(std::string& line);
  int fd_ = -1;
  bool owns_fd_ = false;
};

// JSON string escaping for log fields (quotes, backslash, control characters).
void append_json_string(std::string& out, std::string_view s);

}  // namespace mg::stats
