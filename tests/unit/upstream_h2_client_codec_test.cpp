// The upstream HTTP/2 client codec against the gateway's own server codec (http::Http2Codec), bytes
// passed in memory: a request and its answer with trailers, the response body held to the stream window
// until the caller consumes it, the backend's stream limit, a GOAWAY refusing the streams above its
// last-stream-id (safe to send again) and a RST_STREAM (not).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "h2_codec_pair.h"
#include "http/http2_codec.h"
#include "upstream/h2_client_codec.h"

namespace mg::upstream {
namespace {

class H2ClientCodecTest : public test::H2CodecPair {
 protected:
  using H2CodecPair::H2CodecPair;

  void answer(http::Http2Stream& s, std::string body, std::vector<http::Http2Field> trailers = {}) {
    s.out = std::move(body);
    s.out_eof = true;
    s.trailers = std::move(trailers);
    const std::vector<http::Http2Field> fields{{":status", "200"}, {"x-backend", "one"}};
    ASSERT_TRUE(server_codec_.submit_response(s, fields, true));
  }

};

TEST_F(H2ClientCodecTest, SendsRequestAndReadsTheAnswerWithTrailers) {
  auto stream = get("/one?x=1");
  pump();
  ASSERT_EQ(server_.requests.size(), 1u);
  EXPECT_EQ(server_.requests[0]->method, "GET");
  EXPECT_EQ(server_.requests[0]->path, "/one?x=1");
  EXPECT_EQ(server_.requests[0]->authority, "backend.example");
  answer(*server_.requests[0], "hello", {{"grpc-status", "0"}});
  pump();
  EXPECT_TRUE(stream->head_done);
  EXPECT_EQ(stream->status, 200);
  ASSERT_EQ(stream->fields.size(), 1u);
  EXPECT_EQ(stream->fields[0].name, "x-backend");
  EXPECT_EQ(stream->body, "hello");
  EXPECT_TRUE(stream->body_done);
  ASSERT_EQ(stream->trailers.size(), 1u);
  EXPECT_EQ(stream->trailers[0].name, "grpc-status");
  EXPECT_TRUE(stream->closed);
  EXPECT_FALSE(stream->refused());
}

TEST_F(H2ClientCodecTest, ResponseBodyWaitsForTheCallerToConsume) {
  auto stream = get("/big");
  pump();
  answer(*server_.requests[0], std::string(200 * 1024, 'x'));
  pump();
  EXPECT_EQ(stream->body.size(), 16u * 1024);  // the stream window, and no more
  size_t total = 0;
  while (!stream->body_done) {
    const size_t n = stream->body.size();
    ASSERT_GT(n, 0u);
    total += n;
    stream->body.clear();
    client_codec_.consume(*stream, n);
    pump();
  }
  total += stream->body.size();
  EXPECT_EQ(total, 200u * 1024);
}

TEST_F(H2ClientCodecTest, GoawayRefusesTheStreamsAboveItsLastStreamId) {
  auto first = get("/a");
  auto second = get("/b");
  pump();
  ASSERT_EQ(server_.requests.size(), 2u);
  // GOAWAY, last-stream-id 1 (the first request), NO_ERROR.
  const std::string goaway("\0\0\x08\x07\0\0\0\0\0\0\0\0\x01\0\0\0\0", 17);
  ASSERT_TRUE(client_codec_.receive(goaway));
  EXPECT_TRUE(second->closed);
  EXPECT_TRUE(second->refused());
  EXPECT_FALSE(first->closed);
  EXPECT_TRUE(client_codec_.draining());
  auto third = std::make_shared<H2ClientStream>();
  EXPECT_FALSE(client_codec_.submit(third, {}, false));
}

TEST_F(H2ClientCodecTest, RstStreamIsNotARefusal) {
  auto stream = get("/reset");
  pump();
  server_codec_.reset(*server_.requests[0], NGHTTP2_INTERNAL_ERROR);
  pump();
  EXPECT_TRUE(stream->closed);
  EXPECT_EQ(stream->error_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_FALSE(stream->head_done);
  EXPECT_FALSE(stream->refused());
}

class H2ClientCodecLimitTest : public H2ClientCodecTest {
 protected:
  static http::Http2Settings one_stream() {
    http::Http2Settings s;
    s.max_concurrent_streams = 1;
    return s;
  }
  H2ClientCodecLimitTest() : H2ClientCodecTest(one_stream()) {}
};

TEST_F(H2ClientCodecLimitTest, StreamsBeyondTheBackendsLimitWaitForASlot) {
  pump();  // the SETTINGS exchange
  auto first = get("/1");
  EXPECT_TRUE(client_codec_.full());
  auto second = get("/2");
  pump();
  ASSERT_EQ(server_.requests.size(), 1u);
  answer(*server_.requests[0], "one");
  pump();
  EXPECT_TRUE(first->body_done);
  ASSERT_EQ(server_.requests.size(), 2u);
  answer(*server_.requests[1], "two");
  pump();
  EXPECT_EQ(second->body, "two");
}

}  // namespace
}  // namespace mg::upstream
