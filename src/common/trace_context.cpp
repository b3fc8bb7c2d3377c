#include "common/trace_context.h"

#include <algorithm>
#include <cstdint>

#include "common/fast_random.h"

namespace mg {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool all_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_lower_hex);
}

bool all_zeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

unsigned hex_value(char c) {
  return c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'a' + 10);
}

// 16 hex digits of `v` at `out`.
void put_hex16(char* out, uint64_t v) {
  for (size_t i = 0; i < 16; ++i) out[i] = kHex[(v >> ((15 - i) * 4)) & 0xf];
}

// A random id of N hex digits that is not all zeros (which the spec reserves for "invalid").
template <size_t N>
std::array<char, N> random_id() {
  std::array<char, N> id{};
  do {
    for (size_t at = 0; at < N; at += 16) put_hex16(id.data() + at, fast_random());
  } while (all_zeros({id.data(), N}));
  return id;
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

// simple-key, or tenant-id "@" system-id.
bool is_valid_key(std::string_view key) {
  const size_t at = key.find('@');
  if (at == std::string_view::npos) {
    return !key.empty() && key.size() <= 256 && key[0] >= 'a' && key[0] <= 'z' &&
           std::all_of(key.begin(), key.end(), is_key_char);
  }
  const std::string_view tenant = key.substr(0, at), system = key.substr(at + 1);
  const bool tenant_ok = !tenant.empty() && tenant.size() <= 241 &&
                         ((tenant[0] >= 'a' && tenant[0] <= 'z') || (tenant[0] >= '0' && tenant[0] <= '9')) &&
                         std::all_of(tenant.begin(), tenant.end(), is_key_char);
  const bool system_ok = !system.empty() && system.size() <= 14 && system[0] >= 'a' && system[0] <= 'z' &&
                         std::all_of(system.begin(), system.end(), is_key_char);
  return tenant_ok && system_ok;
}

bool is_value_char(char c) {
  return c >= 0x20 && c <= 0x7e && c != ',' && c != '=';
}

// Up to 256 printable characters but ',' and '=', the last not a space.
bool is_valid_value(std::string_view value) {
  return !value.empty() && value.size() <= 256 && value.back() != ' ' &&
         std::all_of(value.begin(), value.end(), is_value_char);
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool parse_traceparent(std::string_view value, TraceParent& out) {
  if (value.size() < kTraceparentSize) return false;
  const std::string_view version = value.substr(0, 2);
  if (!all_lower_hex(version) || version == "ff") return false;
  // Version 00 is exactly 55 characters; a later one may append fields after a dash.
  if (version == "00" ? value.size() != kTraceparentSize
                      : value.size() > kTraceparentSize && value[kTraceparentSize] != '-')
    return false;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  const std::string_view trace_id = value.substr(3, 32), parent_id = value.substr(36, 16),
                         flags = value.substr(53, 2);
  if (!all_lower_hex(trace_id) || !all_lower_hex(parent_id) || !all_lower_hex(flags)) return false;
  if (all_zeros(trace_id) || all_zeros(parent_id)) return false;
  std::copy(trace_id.begin(), trace_id.end(), out.trace_id.begin());
  std::copy(parent_id.begin(), parent_id.end(), out.parent_id.begin());
  out.sampled = (hex_value(flags[1]) & 1) != 0;
  return true;
}

TraceParent start_trace(double sampling_ratio) {
  TraceParent trace;
  trace.trace_id = random_id<32>();
  trace.parent_id = {};  // no caller: the gateway's span is the root
  // TraceIdRatioBased: the trace id's last 8 bytes, shifted to 63 bits, against ratio * 2^63.
  uint64_t low = 0;
  for (size_t i = 16; i < 32; ++i) low = (low << 4) | hex_value(trace.trace_id[i]);
  const double ratio = std::clamp(sampling_ratio, 0.0, 1.0);
  constexpr double kScale = 9223372036854775808.0;  // 2^63
  trace.sampled = ratio >= 1.0 || static_cast<double>(low >> 1) < ratio * kScale;
  return trace;
}

SpanId new_span_id() {
  return random_id<16>();
}

TraceparentValue format_traceparent(const TraceId& trace_id, const SpanId& span, bool sampled) {
  TraceparentValue v{};
  v[0] = '0';
  v[1] = '0';
  v[2] = '-';
  std::copy(trace_id.begin(), trace_id.end(), v.begin() + 3);
  v[35] = '-';
  std::copy(span.begin(), span.end(), v.begin() + 36);
  v[52] = '-';
  v[53] = '0';
  v[54] = sampled ? '1' : '0';
  return v;
}

bool is_valid_tracestate(std::string_view value) {
  if (value.size() > kMaxTracestateSize) return false;
  std::array<std::string_view, 32> keys;
  size_t members = 0;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view member = trim_ows(value.substr(0, comma));
    if (!member.empty()) {
      const size_t eq = member.find('=');
      if (eq == std::string_view::npos) return false;
      const std::string_view key = member.substr(0, eq);
      if (!is_valid_key(key) || !is_valid_value(member.substr(eq + 1))) return false;
      if (members == keys.size()) return false;  // more than 32 members
      if (std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(members), key) !=
          keys.begin() + static_cast<std::ptrdiff_t>(members))
        return false;  // a key twice
      keys[members++] = key;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return true;
}

}  // namespace mg
