#pragma once
// The /ws echo after its handshake: every text or binary message comes back whole with its type, a
// ping gets its pong, a close is answered with a close and ends the connection (RFC 6455 5.5.1).

#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace mg::echo {

// A message may be this large (Go's DefaultMaxPayloadBytes); a larger one is refused with 1009.
inline constexpr uint64_t kMaxWebSocketMessage = 32u << 20;

// `pending`: bytes the client sent right after its handshake, already read.
asio::awaitable<void> echo_websocket(asio::ip::tcp::socket& socket, std::string pending);

}  // namespace mg::echo
