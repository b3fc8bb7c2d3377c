#include "echo/response.h"

#include <charconv>
#include <ctime>

#include "http/syntax.h"

namespace mg::echo {
namespace {

std::string_view go_status_text(int code) {
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 418:
      return "I'm a teapot";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Entity";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 510:
      return "Not Extended";
    case 511:
      return "Network Authentication Required";
    default:
      return {};
  }
}

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;
  out.append(buf, static_cast<size_t>(end - buf));
}

// strings.TrimSpace for ASCII.
std::string_view trim_space(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string status_line_text(int code) {
  std::string_view text = go_status_text(code);
  if (!text.empty()) return std::string(text);
  return "status code " + std::to_string(code);
}

bool body_allowed_for_status(int code) {
  return !((code >= 100 && code <= 199) || code == 204 || code == 304);
}

std::string_view cached_http_date() {
  thread_local std::time_t cached_second = -1;
  thread_local char buf[40];
  thread_local size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {buf, len};
}

void parse_echo_set_headers(std::span<const http::Header> request_headers, std::vector<ResponseHeader>& out) {
  out.clear();
  for (const auto& h : request_headers) {
    if (!http::iequals(h.name, "x-echo-set-header")) continue;
    std::string_view list = h.value;
    for (;;) {
      size_t comma = list.find(',');
      std::string_view piece = trim_space(list.substr(0, comma));
      size_t colon = piece.find(':');
      std::string_view name = piece.substr(0, colon);
      std::string_view value =
          colon == std::string_view::npos ? std::string_view{} : trim_space(piece.substr(colon + 1));
      // Go keeps invalid names in its map but skips them when writing; they cannot reach the wire here
      // either.
      if (http::is_token(name)) {
        ResponseHeader* existing = nullptr;
        for (auto& r : out)
          if (r.name == name) existing = &r;
        if (existing != nullptr) {
          existing->value.push_back(',');
          existing->value.append(value);
        } else {
          out.push_back(ResponseHeader{name, std::string(value)});
        }
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
}

void append_response(std::string& out, const ResponseSpec& spec) {
  out += spec.minor_version == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_number(out, static_cast<uint64_t>(spec.status));
  out.push_back(' ');
  std::string_view text = go_status_text(spec.status);
  if (!text.empty()) {
    out += text;
  } else {
    out += "status code ";
    append_number(out, static_cast<uint64_t>(spec.status));
  }
  out += "\r\n";
  for (const auto& h : spec.extra_headers) {
    // These three are ours: an echo request must not be able to break the response framing, and Go
    // overwrites a canonically spelt Content-Type / X-Content-Type-Options anyway.
    if (http::iequals(h.name, "content-length") || http::iequals(h.name, "transfer-encoding") ||
        http::iequals(h.name, "connection"))
      continue;
    if ((!spec.content_type.empty() && h.name == "Content-Type") ||
        (spec.nosniff && h.name == "X-Content-Type-Options"))
      continue;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (!spec.location.empty()) {
    out += "Location: ";
    out += spec.location;
    out += "\r\n";
  }
  if (!spec.content_type.empty()) {
    out += "Content-Type: ";
    out += spec.content_type;
    out += "\r\n";
  }
  if (spec.nosniff) out += "X-Content-Type-Options: nosniff\r\n";
  out += "Date: ";
  out += cached_http_date();
  out += "\r\n";
  // Go leaves Content-Length out of a HEAD answer whose handler wrote nothing.
  if (body_allowed_for_status(spec.status) && !(spec.head_request && spec.body.empty())) {
    out += "Content-Length: ";
    append_number(out, spec.body.size());
    out += "\r\n";
  }
  if (spec.minor_version >= 1 && !spec.keep_alive) out += "Connection: close\r\n";
  if (spec.minor_version == 0 && spec.keep_alive) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!spec.head_request && body_allowed_for_status(spec.status)) out += spec.body;
}

}  // namespace mg::echo
