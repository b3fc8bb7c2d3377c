#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a client sent, checked as
// the spec says, or a new trace when it sent none or a bad one; the span ids the gateway gives its own
// requests (the primary's and each mirror copy's, siblings under the client's span); `tracestate`
// checked and bounded. Fixed-size values: nothing here allocates.

#include <array>
#include <cstddef>
#include <string_view>

namespace mg {

using TraceId = std::array<char, 32>;  // lower-case hex, never all zeros
using SpanId = std::array<char, 16>;   // lower-case hex, never all zeros

struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};  // the caller's span
  bool sampled = false;
};

// "00-" trace-id "-" parent-id "-" flags: the version the gateway sends (and the length of version 00).
inline constexpr size_t kTraceparentSize = 55;
using TraceparentValue = std::array<char, kTraceparentSize>;

// The longest tracestate passed on (the spec asks vendors to pass at least 512 characters); a longer
// one is dropped, not cut (cutting could leave a member half written).
inline constexpr size_t kMaxTracestateSize = 512;

// A traceparent value as a vendor must read it: version 00 exactly, a later version by its first 55
// characters (followed by the end or a dash), version ff never; lower-case hex only; trace and parent
// ids not all zeros. False: restart the trace.
bool parse_traceparent(std::string_view value, TraceParent& out);

// A new trace for a request that came without a usable traceparent: random ids, sampled with
// probability `sampling_ratio` (0..1), decided from the trace id as OpenTelemetry's TraceIdRatioBased
// sampler does.
TraceParent start_trace(double sampling_ratio);

SpanId new_span_id();

// "00-<trace-id>-<span-id>-0x" for a request the gateway sends with `span` as its parent-id.
TraceparentValue format_traceparent(const TraceId& trace_id, const SpanId& span, bool sampled);

// A tracestate value (the request's tracestate lines joined with commas) is valid when it is a list of
// at most 32 key=value members with valid, unique keys and values (empty members allowed), and at most
// kMaxTracestateSize bytes long.
bool is_valid_tracestate(std::string_view value);

inline std::string_view view(const TraceId& id) {
  return {id.data(), id.size()};
}
inline std::string_view view(const SpanId& id) {
  return {id.data(), id.size()};
}
inline std::string_view view(const TraceparentValue& v) {
  return {v.data(), v.size()};
}

}  // namespace mg
