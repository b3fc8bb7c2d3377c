#include "echo/go_duration.h"

#include <array>
#include <utility>

namespace mg::echo {
namespace {

constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;  // |min int64|, the largest magnitude Go accepts

DurationResult fail(std::string message) {
  return {false, std::chrono::nanoseconds{0}, std::move(message)};
}

DurationResult invalid(std::string_view orig) {
  return fail("time: invalid duration " + go_time_quote(orig));
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

uint64_t unit_nanos(std::string_view u) {
  // Both micro signs are accepted, as in Go: U+00B5 and U+03BC.
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 8> kUnits{{
      {"ns", 1},
      {"us", 1000},
      {"\xC2\xB5s", 1000},
      {"\xCE\xBCs", 1000},
      {"ms", 1000000},
      {"s", 1000000000},
      {"m", 60ULL * 1000000000},
      {"h", 3600ULL * 1000000000},
  }};
  for (const auto& [name, nanos] : kUnits)
    if (name == u) return nanos;
  return 0;
}

}  // namespace

std::string go_time_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || u < 0x20) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    } else {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

DurationResult parse_go_duration(std::string_view s) {
  const std::string_view orig = s;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return {true, std::chrono::nanoseconds{0}, {}};
  if (s.empty()) return invalid(orig);

  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) return invalid(orig);

    // Integer part; overflow here is an error (Go's leadingInt).
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > kMaxMagnitude / 10) return invalid(orig);
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMaxMagnitude) return invalid(orig);
    }
    const bool pre = i > 0;
    s.remove_prefix(i);

    // Fraction part; digits past the precision are ignored, not an error (Go's leadingFraction).
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      size_t j = 0;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (kMaxMagnitude - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kMaxMagnitude) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid(orig);

    size_t k = 0;
    while (k < s.size() && s[k] != '.' && !is_digit(s[k])) ++k;
    if (k == 0) return fail("time: missing unit in duration " + go_time_quote(orig));
    std::string_view unit_name = s.substr(0, k);
    s.remove_prefix(k);
    uint64_t unit = unit_nanos(unit_name);
    if (unit == 0)
      return fail("time: unknown unit " + go_time_quote(unit_name) + " in duration " + go_time_quote(orig));

    if (v > kMaxMagnitude / unit) return invalid(orig);
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMaxMagnitude) return invalid(orig);
    }
    total += v;
    if (total > kMaxMagnitude) return invalid(orig);
  }
  if (neg) {
    // -2^63 is representable; negate in unsigned arithmetic to avoid signed overflow.
    return {true, std::chrono::nanoseconds{static_cast<int64_t>(0 - total)}, {}};
  }
  if (total > kMaxMagnitude - 1) return invalid(orig);
  return {true, std::chrono::nanoseconds{static_cast<int64_t>(total)}, {}};
}

}  // namespace mg::echo
