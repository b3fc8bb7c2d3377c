#include "echo/echo_json.h"

#include <algorithm>
#include <array>

#include "http/syntax.h"

namespace mg::echo {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i] (2..4), or 0 if it is invalid. Mirrors Go's
// utf8.DecodeRuneInString: overlong forms, surrogates and code points above U+10FFFF are invalid, and an
// invalid sequence consumes exactly one byte.
size_t utf8_sequence_length(std::string_view s, size_t i, uint32_t& rune) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c0 = b(0);
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 2;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 3;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 4;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + need > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < need; ++k)
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  rune = need == 2 ? (c0 & 0x1Fu) : need == 3 ? (c0 & 0x0Fu) : (c0 & 0x07u);
  for (size_t k = 1; k < need; ++k) rune = (rune << 6) | (b(k) & 0x3Fu);
  return need;
}

// True for ASCII bytes Go writes literally inside a string.
constexpr std::array<bool, 128> make_safe_table() {
  std::array<bool, 128> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = true;
  t['"'] = t['\\'] = t['<'] = t['>'] = t['&'] = false;
  return t;
}
constexpr std::array<bool, 128> kSafe = make_safe_table();

void append_indent_string(std::string& out, std::string_view indent, std::string_view key,
                          std::string_view value) {
  out += indent;
  append_json_string(out, key);
  out += ": ";
  append_json_string(out, value);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t start = 0;  // beginning of the pending run of literal bytes
  size_t i = 0;
  auto flush = [&](size_t end) {
    if (end > start) out.append(s.data() + start, end - start);
  };
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (kSafe[c]) {
        ++i;
        continue;
      }
      flush(i);
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
      }
      start = ++i;
      continue;
    }
    uint32_t rune = 0;
    size_t n = utf8_sequence_length(s, i, rune);
    if (n == 0) {
      flush(i);
      out += "\\ufffd";
      start = ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      flush(i);
      out += rune == 0x2028 ? "\\u2028" : "\\u2029";
      i += n;
      start = i;
      continue;
    }
    i += n;
  }
  flush(i);
  out.push_back('"');
}

std::string canonical_header_key(std::string_view name) {
  std::string out(name.size(), '\0');
  for (size_t i = 0; i < name.size(); ++i) out[i] = canonical_header_char(name, i);
  return out;
}

void append_error_json(std::string& out, std::string_view message) {
  out += "{\"message\":";
  append_json_string(out, message);
  out += '}';
}

void EchoJsonWriter::append(std::string& out, const EchoRequest& request, const EchoEnv& env) {
  const auto& headers = request.headers;
  // Index headers.size() stands for the Cache-Control Go synthesises from "Pragma: no-cache".
  const auto synthetic = static_cast<uint32_t>(headers.size());
  static constexpr std::string_view kCacheControl = "Cache-Control";

  order_.clear();
  bool has_cache_control = false;
  bool pragma_seen = false, pragma_no_cache = false;
  for (uint32_t i = 0; i < headers.size(); ++i) {
    std::string_view name = headers[i].name;
    if (http::iequals(name, "host") || http::iequals(name, "transfer-encoding")) continue;
    if (request.chunked && http::iequals(name, "trailer")) continue;
    if (http::iequals(name, "cache-control")) has_cache_control = true;
    if (!pragma_seen && http::iequals(name, "pragma")) {
      pragma_seen = true;
      pragma_no_cache = headers[i].value == "no-cache";
    }
    order_.push_back(i);
  }
  if (pragma_no_cache && !has_cache_control) order_.push_back(synthetic);

  auto name_of = [&](uint32_t i) { return i == synthetic ? kCacheControl : headers[i].name; };
  auto value_of = [&](uint32_t i) {
    return i == synthetic ? std::string_view("no-cache") : headers[i].value;
  };
  // Canonical byte order without materialising names; ties keep arrival order (values stay in order).
  auto canonical_less = [](std::string_view a, std::string_view b) {
    size_t n = std::min(a.size(), b.size());
    for (size_t k = 0; k < n; ++k) {
      auto ca = static_cast<unsigned char>(canonical_header_char(a, k));
      auto cb = static_cast<unsigned char>(canonical_header_char(b, k));
      if (ca != cb) return ca < cb;
    }
    return a.size() < b.size();
  };
  std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
    std::string_view na = name_of(a), nb = name_of(b);
    if (canonical_less(na, nb)) return true;
    if (canonical_less(nb, na)) return false;
    return a < b;
  });

  out += "{\n";
  append_indent_string(out, " ", "path", request.target);
  out += ",\n";
  append_indent_string(out, " ", "host", request.host);
  out += ",\n";
  append_indent_string(out, " ", "method", request.method);
  out += ",\n";
  append_indent_string(out, " ", "proto", request.major_version == 2    ? "HTTP/2.0"
                                                   : request.minor_version == 0 ? "HTTP/1.0"
                                                                                : "HTTP/1.1");
  out += ",\n \"headers\": {";
  if (order_.empty()) {
    out += "},\n";
  } else {
    std::string_view previous;
    for (size_t k = 0; k < order_.size(); ++k) {
      std::string_view name = name_of(order_[k]);
      bool same = k > 0 && !canonical_less(previous, name) && !canonical_less(name, previous);
      if (same) {
        out += ",\n   ";
      } else {
        if (k > 0) out += "\n  ],";
        name_.assign(name.size(), '\0');
        for (size_t c = 0; c < name.size(); ++c) name_[c] = canonical_header_char(name, c);
        out += "\n  ";
        append_json_string(out, name_);
        out += ": [\n   ";
      }
      append_json_string(out, value_of(order_[k]));
      previous = name;
    }
    out += "\n  ]\n },\n";
  }
  append_indent_string(out, " ", "httpPort", env.http_port);
  out += ",\n";
  append_indent_string(out, " ", "namespace", env.namespace_name);
  out += ",\n";
  append_indent_string(out, " ", "ingress", env.ingress);
  out += ",\n";
  append_indent_string(out, " ", "service", env.service);
  out += ",\n";
  append_indent_string(out, " ", "pod", env.pod);
  out += "\n}";
}

}  // namespace mg::echo
