#pragma once
// One line per request and one per mirror copy outcome, joined by request_id (and trace_id), as JSON
// (the default) or as text in the style of Envoy's and nginx's logs. Both carry the same fields in the
// same order, from one list per line type (access_log.cpp; docs/operations.md documents it). Each
// write(2) carries whole lines only, so lines from different workers never interleave, and SIGUSR1's
// reopen swaps the file under the same descriptor, so no line is lost or split by a rotation.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace mg::stats {

enum class AccessLogFormat { kJson, kText };

struct RequestLogEntry {
  std::string_view request_id;
  std::string_view trace_id;  // W3C trace id (32 hex digits); empty for what never became a request
  std::string_view client;
  std::string_view method;
  std::string_view host;
  std::string_view target;
  std::string_view protocol;  // "HTTP/1.1", "HTTP/1.0", "HTTP/2"
  std::string_view route;
  std::string_view rule;  // the rule's name, else its index
  std::string_view backend;
  std::string_view upstream_host;
  std::string_view upstream_pod;
  std::string_view upstream_protocol;  // "HTTP/1.1" or "h2c"; empty (not written) when no backend was tried
  int status = 0;
  uint64_t request_bytes = 0;  // body bytes received from the client
  uint64_t response_bytes = 0;
  double duration_ms = 0;
  double upstream_duration_ms = -1;  // to the backend's response head; negative: no backend answered
  size_t mirrors = 0;
  uint32_t retries = 0;
  std::string_view error;  // why the gateway answered itself, if it did
};

struct MirrorLogEntry {
  std::string_view request_id;
  std::string_view trace_id;
  std::string_view route;
  std::string_view rule;
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

// "json" or "text"; false for anything else.
bool parse_access_log_format(std::string_view name, AccessLogFormat& out);

// A whole line (with its newline) for `time`, appended to `out`.
void format_log_line(std::string& out, const RequestLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time);
void format_log_line(std::string& out, const MirrorLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time);

class AccessLog {
 public:
  // "-" writes to stdout, "off" disables, anything else is a file opened for appending.
  explicit AccessLog(const std::string& destination, AccessLogFormat format = AccessLogFormat::kJson);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return fd_ >= 0; }
  void log(const RequestLogEntry& e);
  void log(const MirrorLogEntry& e);

  // A worker's lines wait in a buffer of its thread, and go out in one write at the end of the event
  // loop's turn (or at 64 KiB), as nginx's `access_log ... buffer=` does: under load one write carries
  // many requests, and an idle gateway still writes each line at once. `schedule(context)` is called
  // on the calling thread when a batch begins, and must make that thread call flush_thread() soon (a
  // worker posts it to its io_context). Threads that never call this write each line at once.
  using FlushScheduler = void (*)(void* context);
  static void buffer_on_this_thread(FlushScheduler schedule, void* context);
  // Writes the calling thread's buffered lines.
  void flush_thread();

  // Log rotation (SIGUSR1): opens the file's path again and puts the new file under the descriptor the
  // workers write to, in one step (dup3), so each line goes whole to the old file or to the new one.
  // Nothing to do for stdout or off. `message` says what happened, for the gateway's log.
  bool reopen(std::string& message);

 private:
  template <typename Entry>
  void write_entry(const Entry& e);
  void write_all(std::string_view bytes) const;
  std::string path_;
  AccessLogFormat format_;
  int fd_ = -1;
  bool owns_fd_ = false;
};

// JSON string escaping for log fields (quotes, backslash, control characters).
void append_json_string(std::string& out, std::string_view s);
// The text format's quoted string: quotes and backslashes escaped with a backslash, control characters
// and bytes outside printable ASCII as \xHH (as nginx does), so one line is always one line.
void append_text_string(std::string& out, std::string_view s);

}  // namespace mg::stats
