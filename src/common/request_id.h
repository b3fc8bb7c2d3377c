#pragma once
// X-Request-Id values: random (version 4) UUIDs from a per-thread generator, so workers never contend.

#include <string>
#include <string_view>

namespace mg {

std::string generate_request_id();
// Writes a new id into `out` (reusing its storage).
void generate_request_id(std::string& out);

// A client-supplied id is kept only when it is short and printable, so it is safe in logs and headers.
bool is_acceptable_request_id(std::string_view id);

}  // namespace mg
