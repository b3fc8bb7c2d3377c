#pragma once
// When a PEM certificate stops being valid, for the listener certificates' expiry gauge in /metrics.

#include <cstdint>
#include <optional>
#include <string_view>

namespace mg::net {

// The notAfter of the first certificate in `pem` (a chain starts with its leaf), in seconds since the Unix
// epoch; nullopt when no certificate parses.
std::optional<int64_t> certificate_not_after(std::string_view pem);

}  // namespace mg::net
