#include "echo/router.h"

#include <vector>

#include "http/syntax.h"

namespace mg::echo {
namespace {

// Decodes one query component (Go's QueryUnescape). False on a malformed escape.
bool unescape_query(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;
      int hi = http::hex_digit_value(in[i + 1]), lo = http::hex_digit_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// True when the raw query key decodes to exactly `key`; decodes on the fly so the common miss allocates
// nothing.
bool query_key_equals(std::string_view raw, std::string_view key) {
  size_t k = 0;
  for (size_t i = 0; i < raw.size(); ++i, ++k) {
    char c = raw[i];
    if (c == '%') {
      if (raw.size() - i < 3) return false;
      int hi = http::hex_digit_value(raw[i + 1]), lo = http::hex_digit_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (k >= key.size() || key[k] != c) return false;
  }
  return k == key.size();
}

bool is_unreserved_in_path(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '@':
      return true;
    default:
      return false;
  }
}

// Go's path.Clean for a path that starts with '/'.
std::string go_path_clean(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  std::vector<size_t> segment_starts;  // where each kept segment's '/' begins in out
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    size_t end = p.find('/', i);
    if (end == std::string_view::npos) end = p.size();
    std::string_view segment = p.substr(i, end - i);
    i = end;
    if (segment == ".") continue;
    if (segment == "..") {
      if (!segment_starts.empty()) {
        out.resize(segment_starts.back());
        segment_starts.pop_back();
      }
      continue;
    }
    segment_starts.push_back(out.size());
    out.push_back('/');
    out.append(segment);
  }
  if (out.empty()) out.push_back('/');  // not `= "/"`: GCC 12 reports a false -Wrestrict
  return out;
}

// True when Go would neither decode, collapse nor clean anything in this raw path.
bool is_plainly_clean(std::string_view p) {
  if (p.empty() || p[0] != '/') return false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '%') return false;
    if (c == '/' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == '/') return false;
      if (n == '.') {
        // "/." or "/.." as a whole segment
        size_t end = p.find('/', i + 1);
        std::string_view seg =
            p.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1);
        if (seg == "." || seg == "..") return false;
      }
    }
  }
  return true;
}

// Routing on a path that is already clean (no redirects left except the missing trailing slash).
Route route_clean_path(std::string_view path, std::string_view target) {
  if (path == "/health") return {RouteKind::kHealth, {}, 0};
  if (path == "/ws") return {RouteKind::kWebSocket, {}, 0};
  if (path.starts_with("/status/")) return {RouteKind::kStatus, {}, match_status_target(target)};
  if (path.starts_with("/retry/")) return {RouteKind::kRetry, {}, 0};
  return {RouteKind::kEcho, {}, 0};
}

}  // namespace

std::string_view target_path(std::string_view target) {
  if (!target.empty() && target[0] != '/') {
    // Absolute form: skip scheme://authority.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return target.substr(0, target.find('?'));
    std::string_view rest = target.substr(scheme_end + 3);
    size_t path_start = rest.find_first_of("/?");
    if (path_start == std::string_view::npos) return {};
    rest = rest.substr(path_start);
    return rest.substr(0, rest.find('?'));
  }
  return target.substr(0, target.find('?'));
}

std::string_view target_query(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

bool unescape_path(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (in.size() - i < 3) return false;
    int hi = http::hex_digit_value(in[i + 1]), lo = http::hex_digit_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string clean_path(std::string_view path) {
  if (path.empty()) return "/";
  std::string p;
  if (path[0] != '/') p.push_back('/');
  p.append(path);
  std::string np = go_path_clean(p);
  if (p.back() == '/' && np != "/") np.push_back('/');
  return np;
}

void append_escaped_path(std::string& out, std::string_view path) {
  static constexpr char kUpperHex[] = "0123456789ABCDEF";
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (is_unreserved_in_path(u)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[u >> 4]);
      out.push_back(kUpperHex[u & 0xF]);
    }
  }
}

int match_status_target(std::string_view target) {
  static constexpr std::string_view kPrefix = "/status/";
  if (target.size() != kPrefix.size() + 3 || target.substr(0, kPrefix.size()) != kPrefix) return -1;
  int code = 0;
  for (char c : target.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return -1;
    code = code * 10 + (c - '0');
  }
  return code;
}

Route route_request(std::string_view method, std::string_view target, std::string& scratch) {
  if (target == "*") return {method == "OPTIONS" ? RouteKind::kOptionsStar : RouteKind::kBadRequest, {}, 0};

  std::string_view raw_path = target_path(target);
  std::string_view raw_query = target_query(target);
  // Fast path for the usual target: nothing to decode, collapse or clean, so route without copying.
  if (is_plainly_clean(raw_path) && raw_path != "/status" && raw_path != "/retry")
    return route_clean_path(raw_path, target);

  std::string decoded;
  if (!unescape_path(raw_path, decoded)) return {RouteKind::kBadRequest, {}, 0};

  // echo-basic's own pre-routing step: non-overlapping "//" -> "/", left to right.
  std::string collapsed;
  collapsed.reserve(decoded.size());
  for (size_t i = 0; i < decoded.size(); ++i) {
    collapsed.push_back(decoded[i]);
    if (decoded[i] == '/' && i + 1 < decoded.size() && decoded[i + 1] == '/') ++i;
  }

  std::string cleaned = clean_path(collapsed);
  auto redirect_to = [&](std::string_view path) {
    scratch.clear();
    append_escaped_path(scratch, path);
    if (!raw_query.empty()) {
      scratch.push_back('?');
      scratch.append(raw_query);
    }
    return Route{RouteKind::kRedirect, scratch, 0};
  };
  // ServeMux checks the missing-trailing-slash redirect before the clean-path one.
  if (cleaned == "/status" || cleaned == "/retry") return redirect_to(cleaned + "/");
  if (cleaned != collapsed) return redirect_to(cleaned);

  return route_clean_path(cleaned, target);
}

std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty() || pair.find(';') != std::string_view::npos) continue;
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (!query_key_equals(raw_key, key)) continue;
    std::string value;
    if (!unescape_query(raw_value, value)) continue;  // Go skips the pair, a later one may still match
    return value;
  }
  return std::nullopt;
}

}  // namespace mg::echo
