#pragma once
// What a ClientTrafficPolicy (mirrorgate.io/v1alpha1) sets for the client side of one listener: the
// request head limits, the body limit and the client timeouts. A field left unset falls back to the
// process-wide default from the command line (--max-request-line, --header-timeout, ...), so a listener
// without any policy behaves exactly as the flags say.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "http/message.h"
#include "net/tls_context.h"

namespace mg::route {

struct ClientTrafficSettings {
  std::string policy;                        // "namespace/name" of the ClientTrafficPolicy these come from
  std::optional<size_t> max_request_line;    // 414 beyond
  std::optional<size_t> max_header_bytes;    // 431 beyond
  std::optional<size_t> max_headers;         // 431 beyond
  std::optional<uint64_t> max_request_body;  // 413 beyond; 0 = unlimited
  std::optional<std::chrono::milliseconds> header_timeout;  // 408
  std::optional<std::chrono::milliseconds> idle_timeout;
  // spec.tls, for the sections of an HTTPS port (set: the translator puts it on their TLS context).
  std::optional<net::TlsOptions> tls;
};

// The limits a downstream connection enforces, all set.
struct ClientLimits {
  http::Limits head;
  uint64_t max_request_body = 0;  // 0 = unlimited
  std::chrono::milliseconds header_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
};

// The settings (null: no policy) over the defaults, field by field.
ClientLimits effective_client_limits(const ClientTrafficSettings* settings, ClientLimits defaults);

}  // namespace mg::route
