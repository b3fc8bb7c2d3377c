#include "stats/access_log.h"

#include <fcntl.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
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
// The longest a byte becomes when escaped (JSON's \u00XX), what a line's size bound counts per byte.
constexpr size_t kMaxEscapedByte = 6;

// Where a line is written: a cursor into space the caller made large enough for the line's bound (no
// capacity check per byte, as appending to a std::string would make).
struct Cursor {
  char* p;
  void put(char c) { *p++ = c; }
  void put(std::string_view s) {
    if (s.empty()) return;  // (an empty view may have no data pointer at all)
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
};

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

// The first byte at or after `i` that `cls` escapes, else s.size(). Most fields escape nothing, so this
// is the whole cost of most of them: 16 bytes a step where SSE2 is there (every x86-64).
size_t next_escaped(std::string_view s, size_t i, EscapeClass cls) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // Below 0x20, unsigned: min(v, 0x1f) == v. The text format also escapes 0x7f and above (signed: v
    // < 0x20 catches 0x80-0xff too); JSON only 0x7f.
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    if (cls == kText) {
      hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));
    } else {
      hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v),
                                           _mm_cmpeq_epi8(v, del)));
    }
    if (const int mask = _mm_movemask_epi8(hit); mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < s.size(); ++i) {
    if ((kEscapes[static_cast<unsigned char>(s[i])] & cls) != 0) return i;
  }
  return s.size();
}

// `s` in double quotes: quotes and backslashes after a backslash, the other bytes of `cls` as JSON's
// four-digit or the text format's two-digit hex escapes; the runs between them copied whole.
void put_quoted(Cursor& out, std::string_view s, EscapeClass cls) {
  out.put('"');
  size_t run = 0;
  for (size_t i = next_escaped(s, 0, cls); i < s.size(); i = next_escaped(s, i + 1, cls)) {
    const auto u = static_cast<unsigned char>(s[i]);
    out.put(s.substr(run, i - run));
    run = i + 1;
    out.put('\\');
    if (u == '"' || u == '\\') {
      out.put(static_cast<char>(u));
    } else if (cls == kJson) {
      out.put("u00");
      out.put(kLowerHex[u >> 4]);
      out.put(kLowerHex[u & 15]);
    } else {
      out.put('x');
      out.put(kUpperHex[u >> 4]);
      out.put(kUpperHex[u & 15]);
    }
  }
  out.put(s.substr(run));
  out.put('"');
}

void append_quoted(std::string& out, std::string_view s, EscapeClass cls) {
  const size_t old = out.size();
  out.resize(old + 2 + kMaxEscapedByte * s.size());
  Cursor cursor{out.data() + old};
  put_quoted(cursor, s, cls);
  out.resize(static_cast<size_t>(cursor.p - out.data()));
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
void put_number(Cursor& out, Integer value) {
  const fmt::format_int digits(value);
  out.put(std::string_view(digits.data(), digits.size()));
}
constexpr size_t kMaxNumber = 20;  // digits of the largest uint64_t

// Milliseconds with three decimals, as {:.3f} writes them.
void put_millis(Cursor& out, double value) {
  const auto thousandths = static_cast<uint64_t>(std::llround(value * 1000));
  put_number(out, thousandths / 1000);
  const auto frac = static_cast<unsigned>(thousandths % 1000);
  out.put('.');
  out.put(static_cast<char>('0' + frac / 100));
  out.put(static_cast<char>('0' + frac / 10 % 10));
  out.put(static_cast<char>('0' + frac % 10));
}

// The most bytes a line's fields can take in either format: a first pass over the same field list, so
// that the line is then written with no capacity check per byte.
struct SizeBound {
  size_t bytes = 0;
  void text(std::string_view n, std::string_view value, Empty) { bytes += n.size() + 6 + kMaxEscapedByte * value.size(); }
  template <typename Number>
  void number(std::string_view n, Number) {
    bytes += n.size() + 4 + kMaxNumber;
  }
  void millis(std::string_view n, double) { bytes += n.size() + 4 + kMaxNumber + 4; }
};
// The time, the line type and the punctuation around the fields.
constexpr size_t kLineFrame = 64;

// {"time":"...","type":"request","request_id":"...",...}
struct JsonWriter {
  Cursor& out;
  void name(std::string_view n) {
    out.put(",\"");
    out.put(n);
    out.put("\":");
  }
  void text(std::string_view n, std::string_view value, Empty empty) {
    if (value.empty() && empty == Empty::kOmitted) return;
    name(n);
    put_quoted(out, value, kJson);
  }
  template <typename Number>
  void number(std::string_view n, Number value) {
    name(n);
    put_number(out, value);
  }
  void millis(std::string_view n, double value) {
    if (value < 0) return;  // not measured
    name(n);
    put_millis(out, value);
  }
};

// TIME TYPE "request_id" "trace_id" ...: strings quoted, numbers bare, "-" for no value, one space apart.
struct TextWriter {
  Cursor& out;
  void text(std::string_view, std::string_view value, Empty) {
    out.put(' ');
    if (value.empty()) {
      out.put('-');
    } else {
      put_quoted(out, value, kText);
    }
  }
  template <typename Number>
  void number(std::string_view, Number value) {
    out.put(' ');
    put_number(out, value);
  }
  void millis(std::string_view, double value) {
    out.put(' ');
    if (value < 0) {
      out.put('-');
    } else {
      put_millis(out, value);
    }
  }
};

void put_time(Cursor& out, std::chrono::system_clock::time_point now) {
  // The date and time to the second change once a second: formatted once per second and thread.
  thread_local std::chrono::sys_seconds cached_second{};
  thread_local std::string cached_text;
  const auto second = std::chrono::floor<std::chrono::seconds>(now);
  if (second != cached_second || cached_text.empty()) {
    cached_text = fmt::format("{:%Y-%m-%dT%H:%M:%S}", second);
    cached_second = second;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - second).count();
  out.put(cached_text);
  out.put('.');
  out.put(static_cast<char>('0' + ms / 100));
  out.put(static_cast<char>('0' + ms / 10 % 10));
  out.put(static_cast<char>('0' + ms % 10));
  out.put('Z');
}

// Lines waiting to be written: bytes that are appended to through a Cursor, so (unlike a std::string
// resized for a line's bound) the room a line may need is never filled in before it is written.
class LineBuffer {
 public:
  // Room for `bytes` more at the end; the line's end goes to commit().
  Cursor room_for(size_t bytes) {
    if (capacity_ - size_ < bytes) grow(size_ + bytes);
    return Cursor{data_.get() + size_};
  }
  void commit(const Cursor& end) { size_ = static_cast<size_t>(end.p - data_.get()); }
  std::string_view view() const { return {data_.get(), size_}; }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }
  // Gives a buffer that grew far past `keep` back to the allocator.
  void shrink_past(size_t keep) {
    if (capacity_ > keep && size_ == 0) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  void grow(size_t needed) {
    const size_t capacity = std::max({needed, 2 * capacity_, size_t{4096}});
    auto data = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ > 0) std::memcpy(data.get(), data_.get(), size_);
    data_ = std::move(data);
    capacity_ = capacity;
  }
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// A worker's lines between two flushes (AccessLog::buffer_on_this_thread).
struct ThreadLines {
  AccessLog* log = nullptr;  // whose lines `lines` holds
  LineBuffer lines;
  AccessLog::FlushScheduler schedule = nullptr;
  void* context = nullptr;
  bool scheduled = false;
};
thread_local ThreadLines t_lines;
// Past this, a worker's lines go out at once rather than at the end of the loop's turn.
constexpr size_t kThreadLinesLimit = 64 * 1024;

template <typename Entry>
void format_entry(LineBuffer& buffer, const Entry& e, AccessLogFormat format,
                  std::chrono::system_clock::time_point now) {
  SizeBound bound;
  visit_fields(e, bound);
  Cursor out = buffer.room_for(kLineFrame + bound.bytes);
  if (format == AccessLogFormat::kJson) {
    out.put("{\"time\":\"");
    put_time(out, now);
    out.put("\",\"type\":\"");
    out.put(line_type(e));
    out.put('"');
    JsonWriter w{out};
    visit_fields(e, w);
    out.put("}\n");
  } else {
    put_time(out, now);
    out.put(' ');
    out.put(line_type(e));
    TextWriter w{out};
    visit_fields(e, w);
    out.put('\n');
  }
  buffer.commit(out);
}

// A line formatted on its own (not a worker's, or for a caller's string).
template <typename Entry>
std::string_view format_alone(const Entry& e, AccessLogFormat format, std::chrono::system_clock::time_point now) {
  thread_local LineBuffer line;
  line.clear();
  format_entry(line, e, format, now);
  return line.view();
}

}  // namespace

void format_log_line(std::string& out, const RequestLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time) {
  out += format_alone(e, format, time);
}

void format_log_line(std::string& out, const MirrorLogEntry& e, AccessLogFormat format,
                     std::chrono::system_clock::time_point time) {
  out += format_alone(e, format, time);
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
  write_all(t.lines.view());
  t.lines.clear();
  t.lines.shrink_past(2 * kThreadLinesLimit);
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
void AccessLog::write_entry(const Entry& e) {
  if (fd_ < 0) return;
  ThreadLines& t = t_lines;
  if (t.schedule == nullptr) {  // not a worker: the line goes out now
    write_all(format_alone(e, format_, std::chrono::system_clock::now()));
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

void AccessLog::log(const RequestLogEntry& e) { write_entry(e); }

void AccessLog::log(const MirrorLogEntry& e) { write_entry(e); }

void AccessLog::write_all(std::string_view line) const {
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
