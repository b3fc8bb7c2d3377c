#include "http/websocket_frame.h"

#include "http/sha1.h"

namespace mg::http::ws {
namespace {

FrameResult error(uint16_t code, std::string_view why) { return {FrameStatus::kError, code, why}; }

bool known_opcode(uint8_t op) {
  return op == kContinuation || op == kText || op == kBinary || op == kClose || op == kPing || op == kPong;
}

void append_length(std::string& out, uint8_t mask_bit, uint64_t length) {
  if (length <= 125) {
    out.push_back(static_cast<char>(mask_bit | length));
  } else if (length <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
  }
}

std::string base64(const uint8_t* data, size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < size) v |= uint32_t{data[i + 1]} << 8;
    if (i + 2 < size) v |= data[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < size ? kAlphabet[v & 63] : '=');
  }
  return out;
}

}  // namespace

FrameResult parse_frame_header(std::string_view in, bool from_client, uint64_t max_payload, FrameHeader& out) {
  if (in.size() < 2) return {};
  const auto b0 = static_cast<uint8_t>(in[0]);
  const auto b1 = static_cast<uint8_t>(in[1]);
  out.fin = (b0 & 0x80) != 0;
  out.opcode = b0 & 0x0F;
  out.masked = (b1 & 0x80) != 0;
  // No extension was negotiated, so no reserved bit may be set (RFC 6455 5.2).
  if ((b0 & 0x70) != 0) return error(kCloseProtocolError, "reserved bits set");
  if (!known_opcode(out.opcode)) return error(kCloseProtocolError, "unknown opcode");
  if (from_client && !out.masked) return error(kCloseProtocolError, "unmasked client frame");
  const bool control = (out.opcode & 0x8) != 0;
  uint64_t length = b1 & 0x7F;
  if (control && (!out.fin || length > kMaxControlPayload))
    return error(kCloseProtocolError, "fragmented or long control frame");
  size_t pos = 2;
  if (length == 126) {
    if (in.size() < pos + 2) return {};
    length = (uint64_t{static_cast<uint8_t>(in[2])} << 8) | static_cast<uint8_t>(in[3]);
    pos += 2;
  } else if (length == 127) {
    if (in.size() < pos + 8) return {};
    length = 0;
    for (size_t i = 0; i < 8; ++i) length = (length << 8) | static_cast<uint8_t>(in[pos + i]);
    if (length >> 63) return error(kCloseProtocolError, "invalid payload length");
    pos += 8;
  }
  if (length > max_payload) return error(kCloseTooBig, "message too big");
  if (out.masked) {
    if (in.size() < pos + 4) return {};
    for (size_t i = 0; i < 4; ++i) out.mask[i] = static_cast<uint8_t>(in[pos + i]);
    pos += 4;
  }
  out.payload_length = length;
  out.header_length = pos;
  return {FrameStatus::kOk, 0, {}};
}

void apply_mask(char* data, size_t size, const uint8_t mask[4], uint64_t offset) {
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask[(offset + i) & 3]);
}

void append_frame_header(std::string& out, bool fin, uint8_t opcode, uint64_t payload_length) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0F)));
  append_length(out, 0, payload_length);
}

void append_masked_frame(std::string& out, bool fin, uint8_t opcode, std::string_view payload, const uint8_t mask[4]) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0F)));
  append_length(out, 0x80, payload.size());
  out.append(reinterpret_cast<const char*>(mask), 4);
  const size_t start = out.size();
  out.append(payload);
  apply_mask(out.data() + start, payload.size(), mask);
}

std::string client_key(uint64_t random_high, uint64_t random_low) {
  uint8_t bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(random_high >> (8 * i));
    bytes[8 + i] = static_cast<uint8_t>(random_low >> (8 * i));
  }
  return base64(bytes, sizeof bytes);
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3
  const auto digest = sha1(input);
  return base64(digest.data(), digest.size());
}

}  // namespace mg::http::ws
