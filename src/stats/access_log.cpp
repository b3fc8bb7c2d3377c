#include "stats/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace mg::stats {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_text_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\x{:02X}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

bool parse_access_log_format(std::string_view name, AccessLogFormat& out) {
  if (name == "json") {
    out = AccessLogFormat::kJson;
  } else if (name == "text") {
    out = AccessLogFormat::kText;
  } else {
    return false;
  }
  return true;
}

namespace {

// Whether a field with no value is left out of a JSON line (the text format always writes "-").
enum class Empty { kWritten, kOmitted };

// The field lists: each line type's fields, in order, once. Both formats walk them (docs/operations.md,
// "Access log", documents them in this order).
template <typename Writer>
void visit_fields(const RequestLogEntry& e, Writer& w) {
  w.text("request_id", e.request_id, Empty::kWritten);
  w.text("trace_id", e.trace_id, Empty::kOmitted);
  w.text("client", e.client, Empty::kWritten);
  w.text("method", e.method, Empty::kWritten);
  w.text("host", e.host, Empty::kWritten);
  w.text("path", e.target, Empty::kWritten);
  w.text("protocol", e.protocol, Empty::kOmitted);
  w.text("route", e.route, Empty::kWritten);
  w.text("rule", e.rule, Empty::kWritten);
  w.text("backend", e.backend, Empty::kWritten);
  w.text("upstream_host", e.upstream_host, Empty::kWritten);
  w.text("upstream_pod", e.upstream_pod, Empty::kWritten);
  w.text("upstream_protocol", e.upstream_protocol, Empty::kOmitted);
  w.number("status", e.status);
  w.number("request_bytes", e.request_bytes);
  w.number("bytes", e.response_bytes);
  w.millis("duration_ms", e.duration_ms);
  w.millis("upstream_duration_ms", e.upstream_duration_ms);
  w.number("mirrors", e.mirrors);
  w.number("retries", e.retries);
  w.text("error", e.error, Empty::kOmitted);
}

template <typename Writer>
void visit_fields(const MirrorLogEntry& e, Writer& w) {
  w.text("request_id", e.request_id, Empty::kWritten);
  w.text("trace_id", e.trace_id, Empty::kOmitted);
  w.text("route", e.route, Empty::kWritten);
  w.text("rule", e.rule, Empty::kWritten);
  w.text("method", e.method, Empty::kWritten);
  w.text("path", e.path, Empty::kWritten);
  w.text("mirror_backend", e.mirror_backend, Empty::kWritten);
  w.text("upstream_host", e.upstream_host, Empty::kWritten);
  w.text("upstream_pod", e.upstream_pod, Empty::kWritten);
  w.text("upstream_protocol", e.upstream_protocol, Empty::kOmitted);
  w.text("outcome", e.outcome, Empty::kWritten);
  w.text("reason", e.reason, Empty::kOmitted);
  w.number("status", e.status);
  w.millis("duration_ms", e.duration_ms);
  w.number("request_bytes", e.request_bytes);
}

constexpr std::string_view line_type(const RequestLogEntry&) {
  return "request";
}
constexpr std::string_view line_type(const MirrorLogEntry&) {
  return "mirror";
}

// {"time":"...","type":"request","request_id":"...",...}
struct JsonWriter {
  std::string& out;
  void name(std::string_view n) {
    out += ",\"";
    out += n;
    out += "\":";
  }
  void text(std::string_view n, std::string_view value, Empty empty) {
    if (value.empty() && empty == Empty::kOmitted) return;
    name(n);
    append_json_string(out, value);
  }
  template <typename Number>
  void number(std::string_view n, Number value) {
    name(n);
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
  void millis(std::string_view n, double value) {
    if (value < 0) return;  // not measured
    name(n);
    fmt::format_to(std::back_inserter(out), "{:.3f}", value);
  }
};

// TIME TYPE "request_id" "trace_id" ...: strings quoted, numbers bare, "-" for no value, one space apart.
struct TextWriter {
  std::string& out;
  void text(std::string_view, std::string_view value, Empty) {
    out += ' ';
    if (value.empty()) {
      out += '-';
    } else {
      append_text_string(out, value);
    }
  }
  template <typename Number>
  void number(std::string_view, Number value) {
    fmt::format_to(std::back_inserter(out), " {}", value);
  }
  void millis(std::string_view, double value) {
    if (value < 0) {
      out += " -";
    } else {
      fmt::format_to(std::back_inserter(out), " {:.3f}", value);
    }
  }
};

void append_time(std::string& out, std::chrono::system_clock::time_point now) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count());
}

template <typename Entry>
void format_entry(std::string& out, const Entry& e, AccessLogFormat format,
                  std::chrono::system_clock::time_point now) {
  if (format == AccessLogFormat::kJson) {
    out += "{\"time\":\"";
    append_time(out, now);
    out += "\",\"type\":\"";
    out += line_type(e);
    out += '"';
    JsonWriter w{out};
    visit_fields(e, w);
    out += "}\n";
  } else {
    append_time(out, now);
    out += ' ';
    out += line_type(e);
    TextWriter w{out};
    visit_fields(e, w);
    out += '\n';
  }
}

}  // namespace

void format_log_line(std::string& out, const RequestLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time) {
  format_entry(out, e, format, time);
}

void format_log_line(std::string& out, const MirrorLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time) {
  format_entry(out, e, format, time);
}

AccessLog::AccessLog(const std::string& destination, AccessLogFormat format)
    : path_(destination), format_(format) {
  if (destination == "off") return;
  if (destination == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  fd_ = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(fmt::format("cannot open access log {}", destination));
  owns_fd_ = true;
}

AccessLog::~AccessLog() {
  if (owns_fd_) ::close(fd_);
}

bool AccessLog::reopen(std::string& message) {
  if (!owns_fd_) {
    message =
        fd_ < 0 ? "the access log is off: nothing to reopen" : "the access log is stdout: nothing to reopen";
    return true;
  }
  const int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fresh < 0) {
    message = fmt::format("cannot reopen the access log {}: {}; still writing to the file it had open", path_,
                          std::strerror(errno));
    return false;
  }
  // Workers keep writing to fd_ throughout: dup3 swaps the file under it atomically.
  const bool swapped = ::dup3(fresh, fd_, O_CLOEXEC) >= 0;
  const int saved = errno;
  ::close(fresh);
  if (!swapped) {
    message = fmt::format("cannot reopen the access log {}: {}", path_, std::strerror(saved));
    return false;
  }
  message = fmt::format("access log {} reopened", path_);
  return true;
}

template <typename Entry>
void AccessLog::write_entry(const Entry& e, size_t reserve) {
  if (fd_ < 0) return;
  std::string line;
  line.reserve(reserve);
  format_entry(line, e, format_, std::chrono::system_clock::now());
  write_line(line);
}

void AccessLog::log(const RequestLogEntry& e) {
  write_entry(e, 448);
}

void AccessLog::log(const MirrorLogEntry& e) {
  write_entry(e, 384);
}

void AccessLog::write_line(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a full disk or closed pipe must not stop the data plane
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace mg::stats
