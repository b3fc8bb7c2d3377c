#include "echo/retry_simulator.h"

#include <limits>

#include "echo/router.h"

namespace mg::echo {

std::optional<int64_t> parse_go_int(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (neg) return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  return static_cast<int64_t>(v);
}

std::optional<RetryParams> parse_retry_params(std::string_view raw_query, std::string& error) {
  RetryParams p;
  auto uuid = query_value(raw_query, "uuid");
  if (!uuid || uuid->empty()) {
    error = "uuid is required";
    return std::nullopt;
  }
  p.uuid = std::move(*uuid);
  auto succeed_after = query_value(raw_query, "succeedAfter");
  auto parsed = succeed_after ? parse_go_int(*succeed_after) : std::nullopt;
  if (!parsed) {
    error = "succeedAfter is required";
    return std::nullopt;
  }
  p.succeed_after = *parsed;
  if (auto code = query_value(raw_query, "responseCode")) p.response_code = parse_go_int(*code);
  if (auto delay = query_value(raw_query, "delayRetry"); delay && !delay->empty())
    p.delay_retry = std::move(*delay);
  return p;
}

bool RetrySimulator::record_attempt(const std::string& uuid, int64_t succeed_after) {
  int64_t& attempts = attempts_[uuid];
  if (attempts < succeed_after) {
    ++attempts;
    return true;
  }
  return false;
}

}  // namespace mg::echo
