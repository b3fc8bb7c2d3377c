// RFC 9113 5.1.1: a HEADERS frame on a stream id the client never opened, below its highest one, is a
// connection error; one on a stream that was open (trailers that cross a reset) is not. Http2Codec keeps
// the recent ids to tell the two apart (every id until the list is first trimmed, then at least the
// newest kRecentIds = 256); these tests drive it with raw frames across that trimming.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "h2_codec_pair.h"
#include "http/http2_codec.h"

namespace mg::http {
namespace {

constexpr uint8_t kHeaders = 1, kSettings = 4, kGoaway = 7;
constexpr uint32_t kCancel = 8;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4;

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const auto n = static_cast<uint32_t>(payload.size());
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) f += static_cast<char>(stream >> shift);
  return f + payload;
}

// A field as a literal without indexing (no Huffman): no HPACK state between blocks.
std::string literal(const std::string& name, const std::string& value) {
  return std::string(1, '\0') + static_cast<char>(name.size()) + name + static_cast<char>(value.size()) + value;
}

std::string request_block() {
  return literal(":method", "GET") + literal(":scheme", "http") + literal(":authority", "a.example") +
         literal(":path", "/");
}

class Http2StreamIdsTest : public ::testing::Test {
 protected:
  Http2StreamIdsTest() : codec_(recorder_, Http2Settings{}) {
    EXPECT_TRUE(codec_.receive(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(kSettings, 0, 0, "")));
  }

  // Opens stream `id` with a GET whose body is still coming, and resets it (CANCEL) from the gateway's
  // side: the client's trailers may cross the RST_STREAM.
  void open_and_reset(uint32_t id) {
    ASSERT_TRUE(codec_.receive(frame(kHeaders, kEndHeaders, id, request_block())));
    ASSERT_FALSE(recorder_.requests.empty());
    codec_.reset(*recorder_.requests.back(), kCancel);
    ASSERT_FALSE(goaway_in_output());
  }

  // A trailer-like HEADERS on `id`: true when the connection survived it.
  bool late_headers(uint32_t id) {
    return codec_.receive(frame(kHeaders, kEndHeaders | kEndStream, id, literal("x-late", "1"))) &&
           !codec_.goaway_sent() && !goaway_in_output();
  }

  bool goaway_in_output() {
    std::string out;
    EXPECT_TRUE(codec_.produce(out, 1 << 20));
    for (size_t at = 0; at + 9 <= out.size();) {
      const size_t length = (static_cast<uint8_t>(out[at]) << 16) | (static_cast<uint8_t>(out[at + 1]) << 8) |
                            static_cast<uint8_t>(out[at + 2]);
      if (static_cast<uint8_t>(out[at + 3]) == kGoaway) return true;
      at += 9 + length;
    }
    return false;
  }

  test::H2ServerRecorder recorder_;
  Http2Codec codec_;
};

TEST_F(Http2StreamIdsTest, HeadersOnAStreamThatWasOpenAreNotAnError) {
  for (uint32_t id = 1; id <= 9; id += 2) open_and_reset(id);
  EXPECT_TRUE(late_headers(3));
  EXPECT_EQ(recorder_.requests.size(), 5u);
}

TEST_F(Http2StreamIdsTest, HeadersOnAnIdTheClientSkippedAreAConnectionError) {
  open_and_reset(1);
  open_and_reset(7);  // 3 and 5 were never opened, and can no longer be (5.1.1)
  EXPECT_FALSE(late_headers(5));
}

TEST_F(Http2StreamIdsTest, TheNewestStreamsStayKnownAfterManyMore) {
  // 600 streams, with one id skipped early and one late: the list is trimmed on the way.
  uint32_t id = 1;
  for (int i = 0; i < 600; ++i, id += 2) {
    if (i == 10 || i == 590) continue;
    open_and_reset(id);
  }
  const uint32_t highest = id - 2;
  EXPECT_TRUE(late_headers(highest - 2 * 100));  // one of the newest 256: open once, so not an error
  // The id skipped early is older than every kept one: it cannot be told from an old stream's any more,
  // so it is ignored, not an error (were the list never trimmed, it would be one).
  EXPECT_TRUE(late_headers(1 + 2 * 10));
  EXPECT_FALSE(late_headers(1 + 2 * 590));  // skipped, among the newest: the connection error
}

}  // namespace
}  // namespace mg::http
