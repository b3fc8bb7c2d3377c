// The incremental chunked decoder (RFC 9112 7.1): it must give the same answer however the bytes are
// split, drop extensions and trailers, and refuse every chunk-size form a backend could read differently.

#include "http/chunked.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace mg::http {
namespace {

struct Decoded {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  std::string body;
  size_t consumed = 0;  // bytes of the input the decoder took, in total
};

// Feeds `in` in pieces of `step` bytes (0: all at once), as a connection would: bytes the decoder did not
// consume stay in front of the next piece.
Decoded decode(std::string_view in, size_t step = 0) {
  ChunkedDecoder decoder;
  Decoded out;
  std::string pending;
  size_t fed = 0;
  while (fed < in.size() || !pending.empty()) {
    size_t n = step == 0 ? in.size() - fed : std::min(step, in.size() - fed);
    pending.append(in.substr(fed, n));
    fed += n;
    for (;;) {
      size_t consumed = 0;
      std::string_view data;
      out.status = decoder.next(pending, consumed, data);
      EXPECT_LE(consumed, pending.size());
      if (out.status == ChunkedDecoder::Status::kError) return out;
      if (out.status == ChunkedDecoder::Status::kData) {
        EXPECT_FALSE(data.empty());
        EXPECT_GE(data.data(), pending.data());
        EXPECT_LE(data.data() + data.size(), pending.data() + pending.size());
        out.body.append(data);
      }
      pending.erase(0, consumed);
      out.consumed += consumed;
      if (out.status == ChunkedDecoder::Status::kDone) return out;
      if (out.status == ChunkedDecoder::Status::kNeedMore || pending.empty()) break;
    }
    if (n == 0) break;  // nothing new to feed and the decoder wants more
  }
  return out;
}

bool rejects(std::string_view in) { return decode(in).status == ChunkedDecoder::Status::kError; }

TEST(ChunkedDecoder, DecodesChunksAndStopsAfterTheLastChunk) {
  const std::string body = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  Decoded d = decode(body + "GET / HTTP/1.1\r\n");
  EXPECT_EQ(d.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.body, "hello, world");
  EXPECT_EQ(d.consumed, body.size());  // the pipelined request after it is not eaten
}

TEST(ChunkedDecoder, ByteByByteEqualsWhole) {
  const std::string in =
      "A;name=value;q=\"quoted ; string\"\r\n0123456789\r\n1F\r\nabcdefghijklmnopqrstuvwxyz01234\r\n"
      "001\r\nx\r\n0;last\r\nX-Trailer: 1\r\nOther: two words\r\n\r\n";
  Decoded whole = decode(in);
  ASSERT_EQ(whole.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(whole.body, "0123456789abcdefghijklmnopqrstuvwxyz01234x");
  for (size_t step : {1, 2, 3, 7, 16}) {
    Decoded split = decode(in, step);
    EXPECT_EQ(split.status, whole.status) << "step " << step;
    EXPECT_EQ(split.body, whole.body) << "step " << step;
    EXPECT_EQ(split.consumed, whole.consumed) << "step " << step;
  }
}

TEST(ChunkedDecoder, DropsExtensionsAndTrailers) {
  Decoded d = decode("3;ext=1\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 42\r\n\r\n");
  EXPECT_EQ(d.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.body, "abc");
}

TEST(ChunkedDecoder, KeepsTrailersForACallerThatRelaysThem) {
  const std::string in = "3\r\nabc\r\n0\r\nGrpc-Status: 0\r\nX-Sum:  42 \r\n\r\n";
  for (size_t step : {size_t{1}, size_t{5}, in.size()}) {
    ChunkedDecoder decoder;
    std::string trailers;
    decoder.keep_trailers(&trailers);
    std::string pending;
    ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
    for (size_t fed = 0; fed < in.size() && status != ChunkedDecoder::Status::kDone;) {
      pending.append(in.substr(fed, step));
      fed += step;
      for (;;) {
        size_t consumed = 0;
        std::string_view data;
        status = decoder.next(pending, consumed, data);
        pending.erase(0, consumed);
        if (status != ChunkedDecoder::Status::kData) break;
      }
    }
    EXPECT_EQ(status, ChunkedDecoder::Status::kDone);
    EXPECT_EQ(trailers, "Grpc-Status: 0\nX-Sum:  42 \n") << "step " << step;
  }
}

TEST(ChunkedDecoder, AcceptsUppercaseHexAndLeadingZeros) {
  Decoded d = decode("00000000000000A\r\n0123456789\r\n0\r\n\r\n");  // 15 digits: the maximum
  EXPECT_EQ(d.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.body, "0123456789");
}

TEST(ChunkedDecoder, WaitsForMoreWhenIncomplete) {
  EXPECT_EQ(decode("5\r\nhel").status, ChunkedDecoder::Status::kData);
  EXPECT_EQ(decode("5\r\nhello\r\n").status, ChunkedDecoder::Status::kNeedMore);
  EXPECT_EQ(decode("0\r\n").status, ChunkedDecoder::Status::kNeedMore);
  EXPECT_EQ(decode("fffffffffffffff\r\n").status, ChunkedDecoder::Status::kNeedMore);
}

TEST(ChunkedDecoder, RejectsNonHexChunkSizes) {
  EXPECT_TRUE(rejects("0x5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("-1\r\nx\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("+5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects(" 5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("g\r\n"));
  EXPECT_TRUE(rejects(";ext\r\n"));
}

TEST(ChunkedDecoder, RejectsMoreThan15HexDigits) {
  EXPECT_TRUE(rejects("0000000000000005\r\nhello\r\n0\r\n\r\n"));  // 16 digits, small value
  EXPECT_TRUE(rejects("ffffffffffffffff\r\n"));
  EXPECT_TRUE(rejects("10000000000000000\r\n"));  // would wrap to 0 in 64 bits
}

TEST(ChunkedDecoder, RejectsTrailingJunkAfterChunkSize) {
  // Only ";" chunk-ext may follow the size (BWS before ";" is tolerated by the grammar, nothing else).
  EXPECT_TRUE(rejects("5 \r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5\t\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5 5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5x\r\nhello\r\n0\r\n\r\n"));
}

TEST(ChunkedDecoder, RejectsChunkExtensionWithoutName) {
  // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), chunk-ext-name = token.
  EXPECT_TRUE(rejects("5 ;\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5;\r\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5;=x\r\nhello\r\n0\r\n\r\n"));
}

TEST(ChunkedDecoder, RejectsControlCharactersInExtensions) {
  using namespace std::string_literals;
  EXPECT_TRUE(rejects("5;a=\0\r\nhello\r\n0\r\n\r\n"s));
  EXPECT_TRUE(rejects("5;a\nb\r\nhello\r\n0\r\n\r\n"));
}

TEST(ChunkedDecoder, RejectsDataNotFollowedByCrlf) {
  EXPECT_TRUE(rejects("5\r\nhelloXX\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5\r\nhello\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5\r\nhello\r0\r\n\r\n"));
  EXPECT_TRUE(rejects("3\r\nhello\r\n0\r\n\r\n"));  // size smaller than the data
}

TEST(ChunkedDecoder, RejectsBareLineEndingsInSizeLine) {
  EXPECT_TRUE(rejects("5\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5\rhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("5;ext\nhello\r\n0\r\n\r\n"));
  EXPECT_TRUE(rejects("0\r\n\n"));
}

TEST(ChunkedDecoder, RejectsMalformedTrailers) {
  EXPECT_TRUE(rejects("0\r\n folded: x\r\n\r\n"));
  EXPECT_TRUE(rejects("0\r\nX: a\nY: b\r\n\r\n"));
  EXPECT_TRUE(rejects("0\r\nX: a\rY\r\n\r\n"));
  EXPECT_TRUE(rejects("0\r\n: novalue\r\n\r\n"));
}

TEST(ChunkedDecoder, RejectsTrailerLineWithoutColon) {
  // A trailer is a field line (name ":" value); "validated and dropped" must include that shape.
  EXPECT_TRUE(rejects("0\r\nNoColonHere\r\n\r\n"));
  EXPECT_TRUE(rejects("0\r\nBad Name: x\r\n\r\n"));
}

TEST(ChunkedDecoder, RejectsOversizedSizeLineAndTrailers) {
  EXPECT_TRUE(rejects("5;" + std::string(ChunkedDecoder::kMaxSizeLine, 'e') + "\r\nhello\r\n0\r\n\r\n"));
  std::string trailers = "0\r\n";
  while (trailers.size() < ChunkedDecoder::kMaxTrailerBytes + 100) trailers += "X-T: " + std::string(100, 't') + "\r\n";
  EXPECT_TRUE(rejects(trailers + "\r\n"));
}

TEST(ChunkedDecoder, ErrorIsStickyAndResetStartsOver) {
  ChunkedDecoder decoder;
  size_t consumed = 0;
  std::string_view data;
  EXPECT_EQ(decoder.next("x", consumed, data), ChunkedDecoder::Status::kError);
  EXPECT_FALSE(decoder.error().empty());
  EXPECT_EQ(decoder.next("0\r\n\r\n", consumed, data), ChunkedDecoder::Status::kError);
  decoder.reset();
  EXPECT_EQ(decoder.next("0\r\n\r\n", consumed, data), ChunkedDecoder::Status::kDone);
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(consumed, 5u);
}

}  // namespace
}  // namespace mg::http
