#include "stats/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
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

AccessLog::AccessLog(const std::string& destination) {
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

namespace {
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  append_json_string(out, value);
}
void append_time(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::format_to(std::back_inserter(out), "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count());
}
}  // namespace

void AccessLog::log(const RequestLogEntry& e) {
  if (fd_ < 0) return;
  std::string line;
  line.reserve(384);
  append_time(line);
  append_field(line, "type", "request");
  append_field(line, "request_id", e.request_id);
  append_field(line, "client", e.client);
  append_field(line, "method", e.method);
  append_field(line, "host", e.host);
  append_field(line, "path", e.target);
  if (!e.protocol.empty()) append_field(line, "protocol", e.protocol);
  append_field(line, "route", e.route);
  append_field(line, "backend", e.backend);
  append_field(line, "upstream_host", e.upstream_host);
  append_field(line, "upstream_pod", e.upstream_pod);
  if (!e.upstream_protocol.empty()) append_field(line, "upstream_protocol", e.upstream_protocol);
  fmt::format_to(std::back_inserter(line),
                 ",\"status\":{},\"request_bytes\":{},\"bytes\":{},\"duration_ms\":{:.3f},\"mirrors\":{}", e.status,
                 e.request_bytes, e.response_bytes, e.duration_ms, e.mirrors);
  if (!e.error.empty()) append_field(line, "error", e.error);
  write_line(line);
}

void AccessLog::log(const MirrorLogEntry& e) {
  if (fd_ < 0) return;
  std::string line;
  line.reserve(320);
  append_time(line);
  append_field(line, "type", "mirror");
  append_field(line, "request_id", e.request_id);
  append_field(line, "route", e.route);
  append_field(line, "method", e.method);
  append_field(line, "path", e.path);
  append_field(line, "mirror_backend", e.mirror_backend);
  append_field(line, "upstream_host", e.upstream_host);
  append_field(line, "upstream_pod", e.upstream_pod);
  if (!e.upstream_protocol.empty()) append_field(line, "upstream_protocol", e.upstream_protocol);
  append_field(line, "outcome", e.outcome);
  if (!e.reason.empty()) append_field(line, "reason", e.reason);
  fmt::format_to(std::back_inserter(line), ",\"status\":{},\"duration_ms\":{:.3f},\"request_bytes\":{}", e.status,
                 e.duration_ms, e.request_bytes);
  write_line(line);
}

void AccessLog::write_line(std::string& line) {
  line += "}\n";
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
