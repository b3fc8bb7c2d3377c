#include "stats/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace mg::stats {

namespace {

// Bytes a JSON string (kJson) or a text field (kText) cannot carry as they are.
enum EscapeClass : uint8_t { kPlain = 0, kJson = 1, kText = 2 };
constexpr std::array<uint8_t, 256> kEscapes = [] {
  std::array<uint8_t, 256> t{};
  for (size_t u = 0; u < 256; ++u) {
    if (u < 0x20 || u == 0x7f || u == '"' || u == '\\') t[u] |= kJson;
    if (u < 0x20 || u >= 0x7f || u == '"' || u == '\\') t[u] |= kText;
  }
  return t;
}();

// `s` in double quotes: quotes and backslashes after a backslash, the other bytes of `cls` as JSON's
// four-digit or the text format's two-digit hex escapes; the runs between them appended whole.
void append_quoted(std::string& out, std::string_view s, EscapeClass cls) {
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if ((kEscapes[u] & cls) == 0) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (u == '"' || u == '\\') {
      out += '\\';
      out += static_cast<char>(u);
    } else if (cls == kJson) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      fmt::format_to(std::back_inserter(out), "\\x{:02X}", u);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) { append_quoted(out, s, kJson); }

void append_text_string(std::string& out, std::string_view s) { append_quoted(out, s, kText); }

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

// Numbers without fmt's format-string machinery: they are most of a line's fields.
template <typename Integer>
void append_number(std::string& out, Integer value) {
  const fmt::format_int digits(value);
  out.append(digits.data(), digits.size());
}

// Milliseconds with three decimals, as {:.3f} writes them.
void append_millis(std::string& out, double value) {
  const auto thousandths = static_cast<uint64_t>(std::llround(value * 1000));
  append_number(out, thousandths / 1000);
  const auto frac = static_cast<unsigned>(thousandths % 1000);
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
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
    append_number(out, value);
  }
  void millis(std::string_view n, double value) {
    if (value < 0) return;  // not measured
    name(n);
    append_millis(out, value);
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
    out += ' ';
    append_number(out, value);
  }
  void millis(std::string_view, double value) {
    if (value < 0) {
      out += " -";
    } else {
      out += ' ';
      append_millis(out, value);
    }
  }
};

void append_time(std::string& out, std::chrono::system_clock::time_point now) {
  // The date and time to the second change once a second: formatted once per second and thread.
  thread_local std::chrono::sys_seconds cached_second{};
  thread_local std::string cached_text;
  const auto second = std::chrono::floor<std::chrono::seconds>(now);
  if (second != cached_second || cached_text.empty()) {
    cached_text = fmt::format("{:%Y-%m-%dT%H:%M:%S}", second);
    cached_second = second;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - second).count();
  out += cached_text;
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
}

// A worker's lines between two flushes (AccessLog::buffer_on_this_thread).
struct ThreadLines {
  AccessLog* log = nullptr;  // whose lines `lines` holds
  std::string lines;
  AccessLog::FlushScheduler schedule = nullptr;
  void* context = nullptr;
  bool scheduled = false;
};
thread_local ThreadLines t_lines;
// Past this, a worker's lines go out at once rather than at the end of the loop's turn.
constexpr size_t kThreadLinesLimit = 64 * 1024;

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
  flush_thread();
  if (t_lines.log == this) t_lines.log = nullptr;
  if (owns_fd_) ::close(fd_);
}

void AccessLog::buffer_on_this_thread(FlushScheduler schedule, void* context) {
  t_lines.schedule = schedule;
  t_lines.context = context;
}

void AccessLog::flush_thread() {
  ThreadLines& t = t_lines;
  t.scheduled = false;
  if (t.log != this || t.lines.empty()) return;
  write_all(t.lines);
  t.lines.clear();
  if (t.lines.capacity() > 2 * kThreadLinesLimit) std::string().swap(t.lines);
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
  ThreadLines& t = t_lines;
  if (t.schedule == nullptr) {  // not a worker: the line goes out now
    std::string line;
    line.reserve(reserve);
    format_entry(line, e, format_, std::chrono::system_clock::now());
    write_all(line);
    return;
  }
  if (t.log != this) {
    if (t.log != nullptr) t.log->flush_thread();
    t.log = this;
  }
  format_entry(t.lines, e, format_, std::chrono::system_clock::now());
  if (t.lines.size() >= kThreadLinesLimit) {
    flush_thread();
  } else if (!t.scheduled) {
    t.scheduled = true;
    t.schedule(t.context);
  }
}

void AccessLog::log(const RequestLogEntry& e) {
  write_entry(e, 448);
}

void AccessLog::log(const MirrorLogEntry& e) {
  write_entry(e, 384);
}

void AccessLog::write_all(const std::string& line) const {
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
