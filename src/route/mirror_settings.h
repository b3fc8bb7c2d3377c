#pragma once
// What a MirrorPolicy (mirrorgate.io/v1alpha1) sets for the mirrors of the HTTPRoute rules it targets:
// the options the Gateway API's RequestMirror filter cannot express. A field left unset falls back to
// the process-wide default from the command line (--mirror-timeout, --mirror-body-limit, ...), so a
// mirror without any policy behaves exactly as documented in docs/mirroring.md.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "route/header_modifier.h"

namespace mg::route {

// Opt-in comparison of a mirror's response with the primary's (see docs/mirroring.md).
struct ResponseComparison {
  bool enabled = false;
  uint32_t percent = 100;                      // share of completed copies that are compared
  std::vector<std::string> headers;            // lowercase response header names compared (besides status)
  std::vector<std::string> ignore_json_paths;  // JSON Pointers (RFC 6901) left out of JSON body comparison
  uint64_t max_body_bytes = 64 * 1024;         // larger bodies: status and headers compared, body skipped
};

struct MirrorSettings {
  std::string policy;  // "namespace/name" of the MirrorPolicy these come from
  std::optional<std::chrono::milliseconds> timeout;  // whole copy: connect, send, read the answer
  std::optional<uint32_t> max_in_flight;             // copies in flight per mirror backend, per worker
  std::optional<uint64_t> max_bytes_in_flight;       // request bytes of those copies, per worker
  std::optional<uint64_t> max_body_bytes;            // larger request bodies: copy skipped, counted
  std::string host_suffix;  // appended to the copy's Host ("-shadow", Envoy's way); empty: Host kept
  HeaderModifier request_headers;            // edits applied to the copy only (e.g. strip credentials)
  std::vector<std::string> allowed_methods;  // only these methods are copied; empty: every method
  ResponseComparison comparison;
};

}  // namespace mg::route
