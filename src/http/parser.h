#pragma once
// Strict, non-allocating HTTP/1.x head parsers (RFC 9112). They are stateless: the caller passes
// everything received so far and re-parses after each read. Views in the output point into the input.
// Anything ambiguous is an error, never repaired: a gateway must not read a message differently from
// the backend behind it.

#include <string_view>

#include "http/message.h"

namespace mg::http {

enum class ParseStatus : uint8_t { kComplete, kIncomplete, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  int error_status = 0;     // HTTP status to answer with (400, 414, 431, 501, 505)
  std::string_view error;   // short reason, static storage
};

ParseResult parse_request_head(std::string_view input, const Limits& limits, RequestHead& out);

// `request_method` decides whether a body can follow (HEAD and CONNECT answers have none).
ParseResult parse_response_head(std::string_view input, const Limits& limits, std::string_view request_method,
                                ResponseHead& out);

}  // namespace mg::http
