#pragma once
// RFC 6455 framing without I/O: a frame header read from bytes (with the checks section 5 asks of a
// server), masking, a server frame's header written, and the handshake's Sec-WebSocket-Accept. The
// echo backend uses it; the gateway relays upgraded connections as bytes and never parses frames.

#include <cstdint>
#include <string>
#include <string_view>

namespace mg::http::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes of RFC 6455 7.4.1 that a server sends on its own.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseTooBig = 1009;

inline constexpr size_t kMaxControlPayload = 125;

struct FrameHeader {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = {};
  uint64_t payload_length = 0;
  size_t header_length = 0;  // bytes before the payload
};

enum class FrameStatus : uint8_t { kIncomplete, kOk, kError };

struct FrameResult {
  FrameStatus status = FrameStatus::kIncomplete;
  uint16_t close_code = 0;  // on kError: what the close frame should say
  std::string_view error;   // on kError: why, for the log
};

// Reads a frame header from the start of `in`. A client's frames must be masked (`from_client`); a
// payload above `max_payload` is an error (1009), as are reserved bits, unknown opcodes, fragmented or
// long control frames and non-minimal 64-bit lengths with the top bit set (1002).
FrameResult parse_frame_header(std::string_view in, bool from_client, uint64_t max_payload, FrameHeader& out);

// XORs `data` with the mask; `offset` is the position of data[0] in the payload (for payloads unmasked
// in pieces).
void apply_mask(char* data, size_t size, const uint8_t mask[4], uint64_t offset = 0);

// Appends an unmasked frame header (a server's) with the shortest length encoding.
void append_frame_header(std::string& out, bool fin, uint8_t opcode, uint64_t payload_length);

// Appends a masked frame (a client's), header and payload; for tests and tools.
void append_masked_frame(std::string& out, bool fin, uint8_t opcode, std::string_view payload, const uint8_t mask[4]);

// base64(SHA-1(key + the RFC 6455 GUID)), the value of Sec-WebSocket-Accept.
std::string accept_key(std::string_view client_key);

// A Sec-WebSocket-Key: the base64 of 16 bytes the caller drew at random (RFC 6455 4.1).
std::string client_key(uint64_t random_high, uint64_t random_low);

}  // namespace mg::http::ws
