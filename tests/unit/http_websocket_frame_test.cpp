// The WebSocket frame codec (RFC 6455 5) and the handshake's accept key: the RFC's own examples, every
// header form a client may send, and the frames a server must refuse.

#include "http/websocket_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/sha1.h"

namespace mg::http::ws {
namespace {

std::string hex(const std::array<uint8_t, 20>& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

TEST(Sha1, MatchesRfc3174TestVectors) {
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  // 55, 56 and 64 bytes: the tail needs one final block, two, and none of its own.
  EXPECT_EQ(hex(sha1(std::string(55, 'a'))), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(hex(sha1(std::string(56, 'a'))), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(hex(sha1(std::string(64, 'a'))), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(WebSocketAccept, MatchesRfc6455Example) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketAccept, ClientKeyIsBase64OfSixteenBytes) {
  EXPECT_EQ(client_key(0, 0), "AAAAAAAAAAAAAAAAAAAAAA==");
  EXPECT_EQ(client_key(~uint64_t{0}, ~uint64_t{0}), "/////////////////////w==");
}

TEST(WebSocketFrame, ParsesRfc6455MaskedHello) {
  // RFC 6455 5.7: a single-frame masked text message "Hello".
  const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  FrameHeader h;
  ASSERT_EQ(parse_frame_header(frame, true, 1024, h).status, FrameStatus::kOk);
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, kText);
  EXPECT_EQ(h.payload_length, 5u);
  EXPECT_EQ(h.header_length, 6u);
  std::string payload = frame.substr(h.header_length);
  apply_mask(payload.data(), payload.size(), h.mask);
  EXPECT_EQ(payload, "Hello");
}

TEST(WebSocketFrame, UnmasksInPiecesWithOffset) {
  const uint8_t mask[4] = {1, 2, 3, 4};
  std::string frame;
  append_masked_frame(frame, true, kBinary, "abcdefg", mask);
  FrameHeader h;
  ASSERT_EQ(parse_frame_header(frame, true, 1024, h).status, FrameStatus::kOk);
  std::string payload = frame.substr(h.header_length);
  apply_mask(payload.data(), 3, h.mask, 0);
  apply_mask(payload.data() + 3, 4, h.mask, 3);
  EXPECT_EQ(payload, "abcdefg");
}

TEST(WebSocketFrame, RoundTripsEveryLengthForm) {
  const uint8_t mask[4] = {9, 8, 7, 6};
  for (size_t n : {0u, 125u, 126u, 65535u, 65536u, 1u << 20}) {
    std::string frame;
    append_masked_frame(frame, false, kBinary, std::string(n, 'x'), mask);
    FrameHeader h;
    ASSERT_EQ(parse_frame_header(frame, true, 2u << 20, h).status, FrameStatus::kOk) << n;
    EXPECT_EQ(h.payload_length, n);
    EXPECT_FALSE(h.fin);
    EXPECT_EQ(h.header_length + n, frame.size());
    // Every shorter prefix of the header is incomplete, never an error.
    for (size_t cut = 0; cut < h.header_length; ++cut)
      EXPECT_EQ(parse_frame_header(std::string_view(frame).substr(0, cut), true, 2u << 20, h).status,
                FrameStatus::kIncomplete);
  }
}

TEST(WebSocketFrame, ServerHeaderUsesShortestLength) {
  std::string out;
  append_frame_header(out, true, kText, 5);
  EXPECT_EQ(out, std::string("\x81\x05", 2));
  out.clear();
  append_frame_header(out, true, kBinary, 256);
  EXPECT_EQ(out, std::string("\x82\x7e\x01\x00", 4));
  out.clear();
  append_frame_header(out, true, kBinary, 65536);
  EXPECT_EQ(out, std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  FrameHeader h;
  ASSERT_EQ(parse_frame_header(out, false, 1u << 20, h).status, FrameStatus::kOk);
  EXPECT_EQ(h.payload_length, 65536u);
}

TEST(WebSocketFrame, RefusesWhatAServerMustNotAccept) {
  const uint8_t mask[4] = {1, 1, 1, 1};
  FrameHeader h;
  auto code = [&](std::string_view frame, uint64_t max = 1024) {
    FrameResult r = parse_frame_header(frame, true, max, h);
    return r.status == FrameStatus::kError ? r.close_code : 0;
  };
  EXPECT_EQ(code(std::string("\x81\x05hello", 7)), kCloseProtocolError);  // unmasked
  EXPECT_EQ(code(std::string("\xc1\x80\x01\x01\x01\x01", 6)), kCloseProtocolError);  // RSV1
  EXPECT_EQ(code(std::string("\x83\x80\x01\x01\x01\x01", 6)), kCloseProtocolError);  // opcode 3
  EXPECT_EQ(code(std::string("\x09\x80\x01\x01\x01\x01", 6)), kCloseProtocolError);  // fragmented ping
  std::string long_ping;
  append_masked_frame(long_ping, true, kPing, std::string(126, 'p'), mask);
  EXPECT_EQ(code(long_ping), kCloseProtocolError);
  std::string big;
  append_masked_frame(big, true, kBinary, std::string(2000, 'b'), mask);
  EXPECT_EQ(code(big), kCloseTooBig);
  EXPECT_EQ(code(std::string("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10), UINT64_MAX), kCloseProtocolError);
}

}  // namespace
}  // namespace mg::http::ws
