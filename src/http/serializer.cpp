#include "http/serializer.h"

#include <fmt/format.h>

#include "http/syntax.h"

namespace mg::http {


bool is_connection_specific(std::string_view name, std::string_view connection_value) {
  bool fixed = false;
  switch (name.size()) {
    case 2: fixed = iequals(name, "te"); break;
    case 7: fixed = iequals(name, "trailer") || iequals(name, "upgrade"); break;
    case 10: fixed = iequals(name, "connection") || iequals(name, "keep-alive"); break;
    case 14: fixed = iequals(name, "content-length"); break;
    case 16: fixed = iequals(name, "proxy-connection"); break;
    case 17: fixed = iequals(name, "transfer-encoding"); break;
    default: break;
  }
  if (fixed) return true;
  // Fields the Connection header names are hop-by-hop too (but never Host: it is not the sender's to drop).
  return !connection_value.empty() && !iequals(name, "host") && list_contains(connection_value, name);
}

namespace {

void append_framing(std::string& out, BodyFraming framing, uint64_t length) {
  if (framing == BodyFraming::kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (framing == BodyFraming::kContentLength) {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", length);
  }
}

}  // namespace

void append_upstream_request_head(std::string& out, const RequestHead& request, const ForwardingInfo& info,
                                  BodyFraming framing, uint64_t body_length) {
  append_upstream_request_head(out, OutgoingRequest{request.method, request.target, request.headers, request.connection, {}},
                               info, framing, body_length);
}

bool is_gateway_owned(std::string_view name) {
  return iequals(name, "x-forwarded-for") || iequals(name, "x-forwarded-proto") || iequals(name, "x-request-id") ||
         iequals(name, "expect") || iequals(name, "x-mirrorgate-mirror") || iequals(name, "traceparent") ||
         iequals(name, "tracestate");
}

namespace {

// Header lines for for_each_upstream_field.
struct HeaderLines {
  std::string& out;
  void field(std::string_view name, std::string_view value) { out.append(name).append(": ").append(value).append("\r\n"); }
  void forwarded_for(std::string_view name, std::span<const Header> prior, std::string_view client_ip) {
    out.append(name).append(": ");
    for_each_forwarded_for(prior, client_ip, [this](std::string_view part) { out.append(part); });
    out.append("\r\n");
  }
};

}  // namespace

void append_upstream_request_head(std::string& out, const OutgoingRequest& request, const ForwardingInfo& info,
                                  BodyFraming framing, uint64_t body_length) {
  out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  HeaderLines lines{out};
  for_each_upstream_field(request, info, lines);
  append_framing(out, framing, body_length);
  if (!request.upgrade.empty()) out.append("Connection: Upgrade\r\nUpgrade: ").append(request.upgrade).append("\r\n");
  out.append("\r\n");
}

namespace {

// The status line, the end-to-end fields and the request id of a response to the client.
void append_status_and_fields(std::string& out, const ResponseHead& response, std::span<const Header> headers,
                              std::string_view request_id) {
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} ", response.status);
  out.append(response.reason.empty() ? reason_phrase(response.status) : response.reason).append("\r\n");
  for (const auto& h : headers) {
    if (is_connection_specific(h.name, response.connection)) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!request_id.empty() && response.find("x-request-id").empty())
    out.append("X-Request-Id: ").append(request_id).append("\r\n");
}

}  // namespace

void append_downstream_response_head(std::string& out, const ResponseHead& response,
                                     BodyFraming framing, uint64_t body_length, bool close,
                                     std::string_view request_id, bool bodiless) {
  append_downstream_response_head(out, response, response.headers, framing, body_length, close, request_id,
                                  bodiless);
}

void append_downstream_response_head(std::string& out, const ResponseHead& response,
                                     std::span<const Header> headers, BodyFraming framing,
                                     uint64_t body_length, bool close, std::string_view request_id, bool bodiless) {
  append_status_and_fields(out, response, headers, request_id);
  if (close) out.append("Connection: close\r\n");
  std::string_view length = response.find("content-length");
  if (bodiless && !length.empty()) {
    out.append("Content-Length: ").append(length).append("\r\n");
  } else {
    append_framing(out, framing, body_length);
  }
  out.append("\r\n");
}

void append_switching_protocols_head(std::string& out, const ResponseHead& response, std::span<const Header> headers,
                                     std::string_view request_id) {
  append_status_and_fields(out, response, headers, request_id);
  out.append("Connection: Upgrade\r\nUpgrade: ").append(response.find("upgrade")).append("\r\n\r\n");
}

std::string local_reply(int status, std::string_view body, bool close, std::string_view request_id,
                        std::span<const Header> extra_headers) {
  const bool bodiless = status == 204 || status == 304;
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  for (const auto& h : extra_headers) out.append(h.name).append(": ").append(h.value).append("\r\n");
  if (!bodiless)
    fmt::format_to(std::back_inserter(out), "Content-Type: text/plain\r\nContent-Length: {}\r\n", body.size() + 1);
  if (!request_id.empty()) out.append("X-Request-Id: ").append(request_id).append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (!bodiless) out.append(body).append("\n");
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace mg::http
