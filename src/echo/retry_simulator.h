#pragma once
// The /retry/ simulator of echo-basic.md section 8: per-uuid attempt counters that make the first
// `succeedAfter` attempts fail (with a status code, or with a TCP reset), so gateway retry policies can be
// tested. Everything here is free of I/O; the server applies the decision.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mg::echo {

// Go's strconv.Atoi: optional sign, decimal digits, int64 range.
std::optional<int64_t> parse_go_int(std::string_view s);

struct RetryParams {
  std::string uuid;
  int64_t succeed_after = 0;
  std::optional<int64_t> response_code;  // nullopt: failing attempts reset the connection
  std::optional<std::string> delay_retry;
};

// Reads the parameters from a raw query. On a missing uuid / succeedAfter returns nullopt and sets
// `error` to Go's 400 text.
std::optional<RetryParams> parse_retry_params(std::string_view raw_query, std::string& error);

// Process-wide state. echo-basic serialises every /retry/ request behind one mutex (including the
// successful echo and its delay); requests here run on different worker threads and must not block their
// event loop while waiting, so the lock is a flag that waiters poll with a short timer (see server.cpp).
class RetrySimulator {
 public:
  bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }

  // Caller holds the lock. True when this attempt must fail; counts it.
  bool record_attempt(const std::string& uuid, int64_t succeed_after);

 private:
  std::atomic<bool> locked_{false};
  std::unordered_map<std::string, int64_t> attempts_;  // never reset, as in echo-basic
};

}  // namespace mg::echo
