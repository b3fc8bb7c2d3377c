// libFuzzer target for the WebSocket frame header parser (http/websocket_frame.h): never crash; a header
// read lies inside the input and every shorter prefix is incomplete, never an error; a frame header the
// parser accepted, written again (masked, as a client sends it), parses to the same header and its
// payload unmasks to the bytes masked.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "http/websocket_frame.h"

namespace {

namespace ws = mg::http::ws;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool from_client = size > 0 && (data[0] & 1);
  const uint64_t max_payload = size > 1 ? uint64_t{1} << (data[size - 1] % 40) : 1024;
  ws::FrameHeader h;
  const ws::FrameResult r = ws::parse_frame_header(in, from_client, max_payload, h);
  if (r.status == ws::FrameStatus::kError) {
    check(r.close_code == ws::kCloseProtocolError || r.close_code == ws::kCloseTooBig);
    check(!r.error.empty());
    return 0;
  }
  if (r.status == ws::FrameStatus::kIncomplete) return 0;
  check(h.header_length >= 2 && h.header_length <= 14 && h.header_length <= size);
  check(h.payload_length <= max_payload);
  check(!from_client || h.masked);
  check((h.opcode & 0x8) == 0 || (h.fin && h.payload_length <= ws::kMaxControlPayload));
  for (size_t cut = 0; cut < h.header_length; ++cut) {
    ws::FrameHeader partial;
    check(ws::parse_frame_header(in.substr(0, cut), from_client, max_payload, partial).status ==
          ws::FrameStatus::kIncomplete);
  }
  // Small payloads only: the round trip writes the payload out.
  if (h.payload_length > 4096) return 0;
  const std::string payload(static_cast<size_t>(h.payload_length), 'p');
  std::string again;
  ws::append_masked_frame(again, h.fin, h.opcode, payload, h.mask);
  ws::FrameHeader reread;
  check(ws::parse_frame_header(again, true, max_payload, reread).status == ws::FrameStatus::kOk);
  check(reread.fin == h.fin && reread.opcode == h.opcode && reread.payload_length == h.payload_length);
  check(std::memcmp(reread.mask, h.mask, 4) == 0 || !h.masked);
  std::string unmasked = again.substr(reread.header_length);
  ws::apply_mask(unmasked.data(), unmasked.size(), reread.mask);
  check(unmasked == payload);
  return 0;
}
