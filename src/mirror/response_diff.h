#pragma once
// Response comparison, the pure part: given what was captured of the primary's response and of a
// mirror copy's, say whether they match and, when not, list readable differences. Status first, then
// the chosen headers, then the body: JSON bodies structurally (key order ignored, numbers by value,
// ignore paths skipped), anything else byte for byte. No I/O, no clocks: unit-testable on its own.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"
#include "route/mirror_settings.h"

namespace mg::mirror {

// What one side answered, as far as the comparison needs it.
struct CapturedResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // chosen headers: lowercase name, value
  std::string content_type;
  std::string body;        // decoded body bytes, at most the capture limit
  bool truncated = false;  // the body was longer than the capture limit (and `body` is then empty)
};

// Copies the headers named in `names` (lowercase) and the Content-Type out of a parsed head, whose
// views die with its buffer. Repeated fields are joined with ", " as RFC 9110 allows.
void capture_head(int status, std::span<const http::Header> headers, std::span<const std::string> names,
                  CapturedResponse& out);

struct DiffResult {
  bool match = true;
  std::vector<std::string> differences;  // readable, at most kMaxListedDifferences plus a summary line
  std::string note;                      // what was not compared and why, e.g. the body over the cap
};

inline constexpr size_t kMaxListedDifferences = 20;

DiffResult compare_responses(const CapturedResponse& primary, const CapturedResponse& mirror,
                             const route::ResponseComparison& settings);

// "64 KiB", "1 MiB", "1000 bytes": how limits read in differences and notes.
std::string format_size(uint64_t bytes);

}  // namespace mg::mirror
