#pragma once
// SHA-1 (RFC 3174), for the WebSocket handshake only (RFC 6455 4.2.2 names it). Self-contained so that
// the echo binary needs no crypto library; it is not for anything that must resist collisions.

#include <array>
#include <cstdint>
#include <string_view>

namespace mg::http {

std::array<uint8_t, 20> sha1(std::string_view data);

}  // namespace mg::http
