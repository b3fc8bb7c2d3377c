// libFuzzer target for W3C trace context (common/trace_context.h), whose input is any client's header
// value: never crash; a traceparent the parser accepted has lower-hex, non-zero ids, and the gateway's
// traceparent made from it parses to the same trace id and flag; an accepted tracestate is within its
// size bound.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/trace_context.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool lower_hex_not_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }) &&
         s.find_first_not_of('0') != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  mg::TraceParent t;
  if (mg::parse_traceparent(in, t)) {
    check(size >= mg::kTraceparentSize);
    check(lower_hex_not_zero(mg::view(t.trace_id)) && lower_hex_not_zero(mg::view(t.parent_id)));
    const mg::TraceparentValue out = mg::format_traceparent(t.trace_id, t.parent_id, t.sampled);
    mg::TraceParent again;
    check(mg::parse_traceparent(mg::view(out), again));
    check(mg::view(again.trace_id) == mg::view(t.trace_id) && again.sampled == t.sampled);
  }
  if (mg::is_valid_tracestate(in)) check(size <= mg::kMaxTracestateSize);
  return 0;
}
