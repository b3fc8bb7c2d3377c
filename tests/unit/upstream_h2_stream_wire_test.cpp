// The h2c half of an Exchange (upstream::H2StreamWire) against the gateway's own HTTP/2 server codec,
// bytes passed in memory (no socket: the connection's codec is driven by hand): the request head is the
// same set of fields HTTP/1.1 forwards, the answer comes as a ResponseHead and pieces that open the
// backend's window only once taken, and a deadline resets its own stream and no other.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <nghttp2/nghttp2.h>

#include "h2_codec_pair.h"
#include "http/http2_codec.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "upstream/h2_stream_wire.h"

namespace mg::upstream {
namespace {

using namespace std::chrono_literals;

asio::awaitable<void> send(H2StreamWire& wire, std::string body, std::optional<bool>& sent) {
  sent = co_await wire.send_body(body, true);
}
asio::awaitable<void> head(H2StreamWire& wire, std::optional<HeadResult>& result) {
  result = co_await wire.read_head("GET", http::Limits{});
}
asio::awaitable<void> body(H2StreamWire& wire, std::string_view& piece, std::optional<BodyRead>& result) {
  result = co_await wire.read_body(piece);
}

class H2StreamWireTest : public ::testing::Test {
 protected:
  void attach(H2StreamWire& wire) {
    wire.attach(io_.get_executor(), connections_, stats_, endpoint_, 1s, nullptr, connection_);
  }
  // Moves the bytes both ways (and runs what they woke) until nothing more happens.
  void pump() {
    for (int i = 0; i < 100; ++i) {
      io_.restart();
      io_.poll();
      std::string a, b;
      ASSERT_TRUE(connection_->codec().produce(a, 1 << 20));
      if (!a.empty()) {
        ASSERT_TRUE(server_codec_.receive(a));
      }
      ASSERT_TRUE(server_codec_.produce(b, 1 << 20));
      if (!b.empty()) {
        ASSERT_TRUE(connection_->codec().receive(b));
      }
      io_.restart();
      if (a.empty() && b.empty() && io_.poll() == 0) return;
    }
    FAIL() << "the codecs never went quiet";
  }
  void get(H2StreamWire& wire, std::string_view path) {
    const std::array<http::Header, 1> headers{http::Header{"Host", "backend.example"}};
    wire.set_request(http::OutgoingRequest{"GET", path, headers, {}, {}}, http::ForwardingInfo{"10.0.0.1", "rid"},
                     http::BodyFraming::kNone, 0);
    std::optional<bool> sent;
    asio::co_spawn(io_, send(wire, {}, sent), asio::detached);
    pump();
    ASSERT_EQ(sent, true);
  }
  void answer(http::Http2Stream& s, std::string payload, std::vector<http::Http2Field> trailers = {}) {
    s.out = std::move(payload);
    s.out_eof = true;
    s.trailers = std::move(trailers);
    const std::vector<http::Http2Field> fields{{":status", "200"}, {"x-backend", "one"}};
    ASSERT_TRUE(server_codec_.submit_response(s, fields, true));
  }

  asio::io_context io_;
  test::H2ServerRecorder server_;
  http::Http2Codec server_codec_{server_, http::Http2Settings{}};
  std::shared_ptr<h2c::H2cConnection> connection_ = std::make_shared<h2c::H2cConnection>(io_.get_executor());
  H2cConnections connections_;
  stats::WorkerStats stats_;
  route::Endpoint endpoint_{"127.0.0.1", 9, "pod", "127.0.0.1:9"};
};

TEST_F(H2StreamWireTest, HeadCarriesTheFieldsHttp1WouldForwardAsHttp2Fields) {
  const std::vector<http::Header> headers{
      {"Host", "backend.example"}, {"Connection", "keep-alive, X-Hop"}, {"X-Hop", "gone"},
      {"Keep-Alive", "timeout=5"}, {"X-Forwarded-For", "192.0.2.7"},   {"X-Request-Id", "forged"},
      {"Accept", "text/plain"},    {"Transfer-Encoding", "chunked"}};
  const http::OutgoingRequest request{"POST", "/submit?x=1", headers, "keep-alive, X-Hop", {}};
  const http::ForwardingInfo info{"10.0.0.1", "rid-1", "https",
                                  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
  H2StreamWire wire;
  attach(wire);
  wire.set_request(request, info, http::BodyFraming::kContentLength, 5);
  std::optional<bool> sent;
  asio::co_spawn(io_, send(wire, "hello", sent), asio::detached);
  pump();
  ASSERT_EQ(sent, true);
  ASSERT_EQ(server_.requests.size(), 1u);
  const http::Http2Stream& got = *server_.requests[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.path, "/submit?x=1");
  EXPECT_EQ(got.scheme, "http");
  EXPECT_EQ(got.authority, "backend.example");
  EXPECT_EQ(got.body, "hello");
  EXPECT_TRUE(got.body_done);

  // The same request serialised for HTTP/1.1 and parsed: its fields, lowercased, are the HTTP/2 ones
  // (Host is :authority; the framing is HTTP/2's).
  std::string h1;
  http::append_upstream_request_head(h1, request, info, http::BodyFraming::kContentLength, 5);
  http::RequestHead parsed;
  ASSERT_EQ(http::parse_request_head(h1, http::Limits{}, parsed).status, http::ParseStatus::kComplete);
  std::vector<std::pair<std::string, std::string>> expected, actual;
  for (const auto& h : parsed.headers) {
    std::string name(h.name);
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return http::ascii_lower(c); });
    if (name != "host") expected.emplace_back(name, std::string(h.value));
  }
  for (const auto& f : got.fields) actual.emplace_back(f.name, f.value);
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  EXPECT_EQ(actual, expected);
  const auto has = [&](std::string_view name, std::string_view value) {
    return std::find(actual.begin(), actual.end(), std::pair<std::string, std::string>(name, value)) != actual.end();
  };
  EXPECT_TRUE(has("x-forwarded-for", "192.0.2.7, 10.0.0.1"));
  EXPECT_TRUE(has("x-request-id", "rid-1"));
  EXPECT_TRUE(has("x-forwarded-proto", "https"));
  EXPECT_TRUE(has("content-length", "5"));
  EXPECT_TRUE(has("accept", "text/plain"));
  for (const auto& [name, value] : actual) {
    EXPECT_NE(name, "connection");
    EXPECT_NE(name, "keep-alive");
    EXPECT_NE(name, "x-hop");
    EXPECT_NE(name, "transfer-encoding");
  }
}

TEST_F(H2StreamWireTest, BodyPiecesOpenTheBackendsWindowOnlyOnceTaken) {
  H2StreamWire wire;
  attach(wire);
  get(wire, "/big");
  ASSERT_EQ(server_.requests.size(), 1u);
  const std::string payload = [] {
    std::string s(200 * 1024, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }();
  answer(*server_.requests[0], payload, {{"grpc-status", "0"}});
  std::optional<HeadResult> got_head;
  asio::co_spawn(io_, head(wire, got_head), asio::detached);
  pump();
  ASSERT_EQ(got_head, HeadResult::kOk);
  EXPECT_EQ(wire.head().status, 200);
  EXPECT_EQ(wire.head().find("x-backend"), "one");
  EXPECT_EQ(wire.head().framing, http::BodyFraming::kChunked);  // no length: up to END_STREAM

  std::string received;
  for (;;) {
    std::string_view piece;
    BodyRead read = wire.take_body(piece);
    if (read == BodyRead::kWait) {
      std::optional<BodyRead> waited;
      asio::co_spawn(io_, body(wire, piece, waited), asio::detached);
      pump();
      ASSERT_TRUE(waited.has_value());
      read = *waited;
    }
    if (read == BodyRead::kDone) break;
    ASSERT_EQ(read, BodyRead::kData);
    ASSERT_LE(piece.size(), 64u * 1024);  // the stream window
    const std::string copy(piece);
    pump();  // not taken yet: nothing more may come, and the piece stays as it was
    EXPECT_FALSE(wire.buffered());
    EXPECT_EQ(piece, copy);
    received.append(piece);
  }
  EXPECT_EQ(received, payload);
  ASSERT_EQ(wire.trailers().size(), 1u);
  EXPECT_EQ(wire.trailers()[0].name, "grpc-status");
  EXPECT_TRUE(wire.at_message_end());
}

TEST_F(H2StreamWireTest, DeadlineResetsItsOwnStreamAndNoOther) {
  H2StreamWire slow, other;
  attach(slow);
  attach(other);
  get(slow, "/slow");
  get(other, "/other");
  ASSERT_EQ(server_.requests.size(), 2u);
  std::optional<HeadResult> slow_head, other_head;
  slow.arm(5ms);
  asio::co_spawn(io_, head(slow, slow_head), asio::detached);
  asio::co_spawn(io_, head(other, other_head), asio::detached);
  io_.restart();
  io_.run_for(50ms);  // the deadline passes
  pump();
  EXPECT_TRUE(slow.fired());
  ASSERT_EQ(slow_head, HeadResult::kTimeout);
  EXPECT_TRUE(server_.requests[0]->closed);
  EXPECT_EQ(server_.requests[0]->error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_FALSE(server_.requests[1]->closed);
  EXPECT_FALSE(other_head.has_value());  // still waiting for its answer
  EXPECT_TRUE(connection_->usable());

  answer(*server_.requests[1], "fine");
  pump();
  ASSERT_EQ(other_head, HeadResult::kOk);
  EXPECT_FALSE(other.fired());
  std::string_view piece;
  ASSERT_EQ(other.take_body(piece), BodyRead::kData);
  EXPECT_EQ(piece, "fine");
  slow.finish();
  other.finish();
}

TEST_F(H2StreamWireTest, CancelEndsTheWaitAndResetsTheStream) {
  H2StreamWire wire;
  attach(wire);
  get(wire, "/gone");
  std::optional<HeadResult> got_head;
  asio::co_spawn(io_, head(wire, got_head), asio::detached);
  pump();
  EXPECT_FALSE(got_head.has_value());
  wire.cancel();
  pump();
  ASSERT_EQ(got_head, HeadResult::kClosed);
  EXPECT_FALSE(wire.fired());
  EXPECT_TRUE(server_.requests[0]->closed);
  EXPECT_TRUE(connection_->usable());
}

TEST_F(H2StreamWireTest, CopyHeadInHttp1BytesIsParsedOnceIntoFields) {
  H2StreamWire wire;
  attach(wire);
  const std::string head_bytes =
      "PUT /copy HTTP/1.1\r\nHost: backend.example-shadow\r\nX-Mirrorgate-Mirror: route=ns/r; rule=0; mirror=0\r\n"
      "Content-Length: 4\r\n\r\n";
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_bytes), asio::buffer(std::string_view("data"))};
  std::string_view copy_body;
  ASSERT_TRUE(wire.set_request_bytes(buffers, copy_body));
  EXPECT_EQ(copy_body, "data");
  std::optional<bool> sent;
  asio::co_spawn(io_, send(wire, std::string(copy_body), sent), asio::detached);
  pump();
  ASSERT_EQ(sent, true);
  ASSERT_EQ(server_.requests.size(), 1u);
  const http::Http2Stream& got = *server_.requests[0];
  EXPECT_EQ(got.method, "PUT");
  EXPECT_EQ(got.authority, "backend.example-shadow");
  EXPECT_EQ(got.body, "data");
  ASSERT_EQ(got.fields.size(), 2u);
  EXPECT_EQ(got.fields[0].name, "x-mirrorgate-mirror");
  EXPECT_EQ(got.fields[1].name, "content-length");
}

}  // namespace
}  // namespace mg::upstream
