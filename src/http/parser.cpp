#include "http/parser.h"

#include "http/syntax.h"

namespace mg::http {
namespace {

ParseResult complete() { return {ParseStatus::kComplete, 0, {}}; }
ParseResult incomplete() { return {ParseStatus::kIncomplete, 0, {}}; }
ParseResult fail(int status, std::string_view why) { return {ParseStatus::kError, status, why}; }

// Reads "HTTP/d.d" at the start of s. Returns false if it is not that shape.
bool parse_version(std::string_view s, int& major, int& minor) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || s[6] != '.') return false;
  if (s[5] < '0' || s[5] > '9' || s[7] < '0' || s[7] > '9') return false;
  major = s[5] - '0';
  minor = s[7] - '0';
  return true;
}

// Finds the end of the line starting at pos. Lines must end in CRLF: a bare CR or bare LF is an error
// (both are classic request-smuggling vectors). Returns npos when the line is not complete yet.
enum class LineEnd { kFound, kIncomplete, kBareCr, kBareLf };
LineEnd find_line_end(std::string_view in, size_t pos, size_t& cr) {
  for (size_t i = pos; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r') {
      if (i + 1 >= in.size()) return LineEnd::kIncomplete;
      if (in[i + 1] != '\n') return LineEnd::kBareCr;
      cr = i;
      return LineEnd::kFound;
    }
    if (c == '\n') return LineEnd::kBareLf;
  }
  return LineEnd::kIncomplete;
}

// Parses header lines from pos up to and including the empty line. Shared by requests and responses.
ParseResult parse_header_block(std::string_view in, size_t pos, const Limits& limits, std::vector<Header>& out,
                               size_t& head_length) {
  for (;;) {
    if (pos >= limits.max_header_bytes + 2) return fail(431, "request header fields too large");
    size_t cr = 0;
    switch (find_line_end(in, pos, cr)) {
      case LineEnd::kIncomplete:
        if (in.size() > limits.max_header_bytes) return fail(431, "request header fields too large");
        return incomplete();
      case LineEnd::kBareCr:
        return fail(400, "bare CR in header section");
      case LineEnd::kBareLf:
        return fail(400, "bare LF in header section");
      case LineEnd::kFound:
        break;
    }
    if (cr > limits.max_header_bytes) return fail(431, "request header fields too large");
    if (cr == pos) {  // empty line: end of head
      head_length = cr + 2;
      return complete();
    }
    std::string_view line = in.substr(pos, cr - pos);
    if (line[0] == ' ' || line[0] == '\t') return fail(400, "obsolete line folding in header");
    size_t colon = 0;
    while (colon < line.size() && is_tchar(line[colon])) ++colon;
    if (colon == line.size() || line[colon] != ':') {
      if (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t'))
        return fail(400, "whitespace between header name and colon");
      return fail(400, "invalid header name");
    }
    if (colon == 0) return fail(400, "empty header name");
    std::string_view value = line.substr(colon + 1);
    for (char c : value)
      if (!is_field_value_char(c)) return fail(400, "invalid character in header value");
    if (out.size() >= limits.max_headers) return fail(431, "too many header fields");
    out.push_back(Header{line.substr(0, colon), trim_ows(value)});
    pos = cr + 2;
  }
}

// Content-Length must be a single run of digits; duplicates (even equal ones) are refused because
// a backend might read the other one.
std::string_view absorb_content_length(std::string_view value, bool& seen, uint64_t& length) {
  if (seen) return "duplicate Content-Length";
  seen = true;
  return parse_decimal(value, length) ? std::string_view{} : "invalid Content-Length";
}

// RFC 3986 3.2.2 reg-name characters: unreserved, sub-delims and '%' of a pct-encoding.
bool is_reg_name_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=%").find(c) != std::string_view::npos;
}

// uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): a reg-name (IPv4 addresses included) or a bracketed
// IP-literal, then an optional port of digits. No userinfo ("user@host" is refused, RFC 9110 4.2.4), no
// whitespace. Empty is valid: a client sends an empty Host when the target has no authority.
bool is_valid_authority(std::string_view s) {
  std::string_view port;
  if (s.starts_with('[')) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1))
      if (!is_reg_name_char(c) && c != ':') return false;
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    const size_t colon = s.find(':');
    for (char c : s.substr(0, colon))
      if (!is_reg_name_char(c)) return false;
    if (colon != std::string_view::npos) port = s.substr(colon + 1);
  }
  for (char c : port)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string_view find_header(std::span<const Header> headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

std::string_view RequestHead::find(std::string_view name) const { return find_header(headers, name); }

std::string_view ResponseHead::find(std::string_view name) const { return find_header(headers, name); }

ParseResult parse_request_head(std::string_view in, const Limits& limits, RequestHead& out) {
  out.clear();
  size_t pos = 0;
  // RFC 9112 2.2: ignore at least one empty line before the request-line (robustness for old clients).
  while (pos < 4 && in.size() >= pos + 2 && in[pos] == '\r' && in[pos + 1] == '\n') pos += 2;

  size_t cr = 0;
  switch (find_line_end(in, pos, cr)) {
    case LineEnd::kIncomplete:
      if (in.size() - pos > limits.max_request_line) return fail(414, "request line too long");
      return incomplete();
    case LineEnd::kBareCr:
      return fail(400, "bare CR in request line");
    case LineEnd::kBareLf:
      return fail(400, "bare LF in request line");
    case LineEnd::kFound:
      break;
  }
  if (cr - pos > limits.max_request_line) return fail(414, "request line too long");
  std::string_view line = in.substr(pos, cr - pos);

  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  out.method = line.substr(0, sp1);
  if (!is_token(out.method)) return fail(400, "invalid method");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (out.target.empty()) return fail(400, "empty request target");
  for (char c : out.target) {
    // RFC 3986: a URI is ASCII (other bytes are percent-encoded) and a request-target has no fragment.
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return fail(400, "invalid character in request target");
    if (c == '#') return fail(400, "fragment in request target");
  }
  int major = 0, minor = 0;
  if (!parse_version(line.substr(sp2 + 1), major, minor)) return fail(400, "malformed HTTP version");
  if (major != 1) return fail(505, "HTTP version not supported");
  out.minor_version = minor >= 1 ? 1 : 0;  // RFC 9110 2.5: a higher 1.x minor is handled as 1.1

  ParseResult r = parse_header_block(in, cr + 2, limits, out.headers, out.head_length);
  if (r.status != ParseStatus::kComplete) return r;

  bool cl_seen = false;
  int host_count = 0;
  int te_headers = 0;
  std::string_view te;
  bool close = false, keep_alive_token = false;
  for (const auto& h : out.headers) {
    if (iequals(h.name, "content-length")) {
      if (auto why = absorb_content_length(h.value, cl_seen, out.content_length); !why.empty())
        return fail(400, why);
    } else if (iequals(h.name, "transfer-encoding")) {
      ++te_headers;
      te = h.value;
    } else if (iequals(h.name, "host")) {
      ++host_count;
      out.host = h.value;
      if (!is_valid_authority(h.value)) return fail(400, "invalid Host header");
    } else if (iequals(h.name, "connection")) {
      out.connection = h.value;
      for_each_list_element(h.value, [&](std::string_view t) {
        if (iequals(t, "close")) close = true;
        if (iequals(t, "keep-alive")) keep_alive_token = true;
      });
    } else if (iequals(h.name, "expect")) {
      if (!iequals(h.value, "100-continue")) return fail(417, "unsupported expectation");
      out.expect_continue = true;
    } else if (iequals(h.name, "upgrade")) {
      out.has_upgrade = true;
    }
  }

  if (te_headers > 0) {
    if (te_headers > 1) return fail(400, "repeated Transfer-Encoding");
    if (out.minor_version == 0) return fail(400, "Transfer-Encoding in HTTP/1.0 request");
    if (cl_seen) return fail(400, "both Content-Length and Transfer-Encoding");
    int chunked = 0, elements = 0;
    bool unknown = false, chunked_last = false;
    for_each_list_element(te, [&](std::string_view coding) {
      ++elements;
      chunked_last = iequals(coding, "chunked");
      if (chunked_last) ++chunked;
      else unknown = true;
    });
    if (elements == 0) return fail(400, "empty Transfer-Encoding");
    // RFC 9112 6.3: chunked anywhere but last (or twice) leaves the length unknowable: 400. A coding we
    // do not implement in front of a final chunked: 501.
    if (chunked > 1 || (chunked == 1 && !chunked_last)) return fail(400, "invalid Transfer-Encoding");
    if (unknown) return fail(501, "unsupported transfer coding");
    out.framing = BodyFraming::kChunked;
  } else if (cl_seen) {
    out.framing = out.content_length > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
  }

  if (host_count > 1) return fail(400, "multiple Host headers");
  if (out.minor_version == 1 && host_count == 0) return fail(400, "missing Host header");

  // Absolute-form target: its authority is the host, and must agree with the Host header.
  if (out.target.front() != '/' && out.target != "*" && out.method != "CONNECT") {
    size_t scheme_end = out.target.find("://");
    if (scheme_end == std::string_view::npos) return fail(400, "invalid request target");
    std::string_view scheme = out.target.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return fail(400, "invalid request target scheme");
    std::string_view rest = out.target.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    if (authority.empty()) return fail(400, "missing authority in request target");
    if (!is_valid_authority(authority)) return fail(400, "invalid authority in request target");
    if (host_count == 1 && !iequals(authority, out.host)) return fail(400, "Host does not match request target");
    out.host = authority;
    // What a backend gets is the origin-form: the path (at least "/") and the query.
    std::string_view path_and_query = rest.substr(authority.size());
    if (path_and_query.starts_with('/')) {
      out.target = path_and_query;
    } else if (path_and_query.empty()) {
      out.target = "/";
    } else {  // "?query" after an empty path
      out.target_storage.assign("/").append(path_and_query);
      out.target = out.target_storage;
    }
  } else if (out.target == "*" && out.method != "OPTIONS") {
    return fail(400, "asterisk-form target only allowed for OPTIONS");
  }

  out.keep_alive = out.minor_version == 1 ? !close : (keep_alive_token && !close);
  return complete();
}

ParseResult parse_response_head(std::string_view in, const Limits& limits, std::string_view request_method,
                                ResponseHead& out) {
  out.clear();
  size_t cr = 0;
  switch (find_line_end(in, 0, cr)) {
    case LineEnd::kIncomplete:
      if (in.size() > limits.max_request_line) return fail(502, "upstream status line too long");
      return incomplete();
    case LineEnd::kBareCr:
    case LineEnd::kBareLf:
      return fail(502, "upstream status line has a bare CR or LF");
    case LineEnd::kFound:
      break;
  }
  std::string_view line = in.substr(0, cr);
  int major = 0, minor = 0;
  if (line.size() < 12 || !parse_version(line.substr(0, 8), major, minor) || major != 1 || line[8] != ' ')
    return fail(502, "malformed upstream status line");
  std::string_view code = line.substr(9, 3);
  uint64_t status = 0;
  if (!parse_decimal(code, status) || status < 100 || status > 599) return fail(502, "invalid upstream status code");
  if (line.size() > 12 && line[12] != ' ') return fail(502, "malformed upstream status line");
  out.status = static_cast<int>(status);
  out.reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  for (char c : out.reason)
    if (!is_field_value_char(c)) return fail(502, "invalid character in upstream reason phrase");
  out.minor_version = minor >= 1 ? 1 : 0;

  ParseResult r = parse_header_block(in, cr + 2, limits, out.headers, out.head_length);
  if (r.status == ParseStatus::kError) return fail(502, r.error);
  if (r.status != ParseStatus::kComplete) return r;

  bool cl_seen = false;
  int te_headers = 0;
  std::string_view te;
  bool close = false, keep_alive_token = false;
  for (const auto& h : out.headers) {
    if (iequals(h.name, "content-length")) {
      if (!absorb_content_length(h.value, cl_seen, out.content_length).empty())
        return fail(502, "invalid or duplicate upstream Content-Length");
    } else if (iequals(h.name, "transfer-encoding")) {
      ++te_headers;
      te = h.value;
    } else if (iequals(h.name, "connection")) {
      out.connection = h.value;
      for_each_list_element(h.value, [&](std::string_view t) {
        if (iequals(t, "close")) close = true;
        if (iequals(t, "keep-alive")) keep_alive_token = true;
      });
    }
  }
  out.keep_alive = out.minor_version == 1 ? !close : (keep_alive_token && !close);

  bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304 || request_method == "HEAD" ||
                 (request_method == "CONNECT" && status >= 200 && status < 300);
  if (no_body) {
    out.framing = BodyFraming::kNone;
    return complete();
  }
  if (te_headers > 0) {
    if (cl_seen || te_headers > 1) return fail(502, "ambiguous upstream response framing");
    bool chunked_last = false;
    int chunked = 0;
    for_each_list_element(te, [&](std::string_view coding) {
      chunked_last = iequals(coding, "chunked");
      if (chunked_last) ++chunked;
    });
    if (chunked > 1) return fail(502, "invalid upstream Transfer-Encoding");
    // RFC 9112 6.3: a response whose final coding is not chunked is delimited by closing the connection.
    out.framing = chunked_last ? BodyFraming::kChunked : BodyFraming::kUntilClose;
    if (!chunked_last) out.keep_alive = false;
  } else if (cl_seen) {
    out.framing = out.content_length > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
  } else {
    out.framing = BodyFraming::kUntilClose;
    out.keep_alive = false;
  }
  return complete();
}

}  // namespace mg::http
