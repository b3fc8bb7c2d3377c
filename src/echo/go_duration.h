#pragma once
// Go's time.ParseDuration, reproduced exactly (grammar, units, overflow, error texts), because the echo
// server's `delay` and `delayRetry` parameters are Go durations and a bad one must fail with the very
// message the Go server sends ("time: invalid duration \"abc\"").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace mg::echo {

struct DurationResult {
  bool ok = false;
  std::chrono::nanoseconds value{0};  // may be negative (a negative sleep returns at once, as in Go)
  std::string error;                  // Go's error text when !ok
};

DurationResult parse_go_duration(std::string_view s);

// Go's time-package quote(): printable ASCII kept (with \" and \\ escaped), every other byte as \xNN.
std::string go_time_quote(std::string_view s);

}  // namespace mg::echo
