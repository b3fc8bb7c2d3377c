// What the gateway writes: request heads for backends (hop-by-hop fields gone, forwarding fields set by
// the gateway alone, re-framed) and response heads for clients.

#include "http/serializer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/parser.h"

namespace mg::http {
namespace {

RequestHead parse_or_die(std::string_view in) {
  RequestHead head;
  ParseResult r = http::parse_request_head(in, Limits{}, head);
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error;
  return head;
}

std::string upstream_head(std::string_view request, BodyFraming framing = BodyFraming::kNone,
                          uint64_t length = 0) {
  RequestHead head = parse_or_die(request);
  std::string out;
  append_upstream_request_head(out, head, ForwardingInfo{"10.0.0.7", "req-1", "http"}, framing, length);
  return out;
}

bool has_line(std::string_view head, std::string_view line) {
  return head.find("\r\n" + std::string(line) + "\r\n") != std::string_view::npos;
}

size_t count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string_view::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

TEST(UpstreamRequestHead, IsAWellFormedHeadTheStrictParserAccepts) {
  std::string out = upstream_head("GET /a HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  RequestHead again;
  ASSERT_EQ(http::parse_request_head(out, Limits{}, again).status, ParseStatus::kComplete) << out;
  EXPECT_EQ(again.head_length, out.size());
  EXPECT_EQ(out.rfind("GET /a HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n", 0), 0u) << out;
}

TEST(UpstreamRequestHead, SpeaksHttp11ToTheBackendForAnHttp10Client) {
  std::string out = upstream_head("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.rfind("GET / HTTP/1.1\r\n", 0), 0u) << out;
}

TEST(UpstreamRequestHead, RemovesHopByHopFields) {
  std::string out = upstream_head(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
      "Trailer: X-Sum\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\nX-Keep: 1\r\n\r\n");
  for (const char* name : {"Connection:", "Keep-Alive:", "TE:", "Trailer:", "Upgrade:", "Proxy-Connection:"})
    EXPECT_EQ(out.find(name), std::string::npos) << name << " in\n" << out;
  EXPECT_TRUE(has_line(out, "X-Keep: 1")) << out;
}

// Regression: names as long as a built-in hop-by-hop name (7: "X-Other", 10: "X-Internal", ...) must
// be removed too, not only checked against that built-in name.
TEST(UpstreamRequestHead, RemovesFieldsNamedByConnection) {
  std::string out = upstream_head(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret ,x-other\r\nX-SECRET: s\r\nX-Other: o\r\n"
      "X-Public: p\r\n\r\n");
  EXPECT_EQ(out.find("X-SECRET"), std::string::npos) << out;
  EXPECT_EQ(out.find("X-Other"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "X-Public: p")) << out;
}

TEST(UpstreamRequestHead, NeverRemovesHostEvenWhenConnectionNamesIt) {
  std::string out = upstream_head("GET / HTTP/1.1\r\nHost: a.example\r\nConnection: Host\r\n\r\n");
  EXPECT_TRUE(has_line(out, "Host: a.example")) << out;
}

TEST(UpstreamRequestHead, AppendsClientToExistingXForwardedFor) {
  EXPECT_TRUE(has_line(upstream_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "X-Forwarded-For: 10.0.0.7"));
  std::string out = upstream_head("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n");
  EXPECT_TRUE(has_line(out, "X-Forwarded-For: 1.1.1.1, 10.0.0.7")) << out;
  EXPECT_EQ(count(out, "X-Forwarded-For"), 1u) << out;
  out = upstream_head(
      "GET / HTTP/1.1\r\nHost: a\r\nx-forwarded-for: 1.1.1.1, 2.2.2.2\r\nX-Forwarded-For: 3.3.3.3\r\n\r\n");
  EXPECT_TRUE(has_line(out, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7")) << out;
  EXPECT_EQ(count(out, "orwarded-For"), 1u) << out;
}

TEST(UpstreamRequestHead, GatewayAloneSetsForwardedProtoAndRequestId) {
  std::string out = upstream_head(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Request-Id: spoofed\r\n\r\n");
  EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http")) << out;
  EXPECT_TRUE(has_line(out, "X-Request-Id: req-1")) << out;
  EXPECT_EQ(out.find("https"), std::string::npos) << out;
  EXPECT_EQ(out.find("spoofed"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, DropsExpectBecauseTheGatewayAnswersIt) {
  std::string out = upstream_head("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                                  BodyFraming::kContentLength, 3);
  EXPECT_EQ(out.find("Expect"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, ReframesTheBodyItself) {
  std::string out = upstream_head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0003\r\n\r\n",
                                  BodyFraming::kContentLength, 3);
  EXPECT_TRUE(has_line(out, "Content-Length: 3")) << out;
  EXPECT_EQ(count(out, "Content-Length"), 1u) << out;
  out = upstream_head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n",
                      BodyFraming::kChunked, 0);
  EXPECT_TRUE(has_line(out, "Transfer-Encoding: chunked")) << out;
  EXPECT_EQ(count(out, "Transfer-Encoding"), 1u) << out;
  EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
  out = upstream_head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                      BodyFraming::kNone, 0);
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << out;
  EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
}

ResponseHead parse_response_or_die(std::string_view in, std::string_view method = "GET") {
  ResponseHead head;
  ParseResult r = http::parse_response_head(in, Limits{}, method, head);
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error;
  return head;
}

TEST(DownstreamResponseHead, RemovesHopByHopAndConnectionNamedFields) {
  ResponseHead head = parse_response_or_die(
      "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n"
      "Content-Length: 2\r\nX-App: 1\r\n\r\n");
  std::string out;
  append_downstream_response_head(out, head, BodyFraming::kContentLength, 2, false, "rid", false);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;
  EXPECT_EQ(out.find("Keep-Alive"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "X-App: 1")) << out;
  EXPECT_TRUE(has_line(out, "Content-Length: 2")) << out;
  EXPECT_TRUE(has_line(out, "X-Request-Id: rid")) << out;
  EXPECT_EQ(out.find("Connection"), std::string::npos) << out;
}

TEST(DownstreamResponseHead, SaysCloseWhenClosing) {
  ResponseHead head = parse_response_or_die("HTTP/1.1 204 No Content\r\n\r\n");
  std::string out;
  append_downstream_response_head(out, head, BodyFraming::kNone, 0, true, {}, true);
  EXPECT_TRUE(has_line(out, "Connection: close")) << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(DownstreamResponseHead, KeepsContentLengthOfABodilessHeadAnswer) {
  ResponseHead head = parse_response_or_die("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HEAD");
  std::string out;
  append_downstream_response_head(out, head, BodyFraming::kNone, 0, false, {}, true);
  EXPECT_TRUE(has_line(out, "Content-Length: 1234")) << out;
  EXPECT_EQ(count(out, "Content-Length"), 1u) << out;
}

TEST(DownstreamResponseHead, KeepsTheBackendsRequestId) {
  ResponseHead head = parse_response_or_die("HTTP/1.1 200 OK\r\nX-Request-Id: theirs\r\nContent-Length: 0\r\n\r\n");
  std::string out;
  append_downstream_response_head(out, head, BodyFraming::kContentLength, 0, false, "ours", false);
  EXPECT_TRUE(has_line(out, "X-Request-Id: theirs")) << out;
  EXPECT_EQ(out.find("ours"), std::string::npos) << out;
}

TEST(LocalReply, IsACompleteResponseWithItsOwnLength) {
  std::string reply = local_reply(400, "bad request", true, "rid-9");
  ResponseHead head;
  ASSERT_EQ(http::parse_response_head(reply, Limits{}, "GET", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.status, 400);
  EXPECT_EQ(head.reason, "Bad Request");
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, reply.size() - head.head_length);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_EQ(head.find("x-request-id"), "rid-9");
}

TEST(LocalReply, HasAReasonPhraseForEveryStatusTheParserAnswers) {
  for (int status : {400, 414, 417, 431, 501, 502, 504, 505})
    EXPECT_NE(reason_phrase(status), "Unknown") << status;
}

TEST(UpstreamRequestHead, ReplacesTheClientsTraceContextWithTheGateways) {
  RequestHead head = parse_or_die(
      "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
      "tracestate: bad state\r\nTraceState: x=1\r\n\r\n");
  std::string out;
  ForwardingInfo info{"10.0.0.7", "req-1", "http", "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", "x=1"};
  append_upstream_request_head(out, head, info, BodyFraming::kNone, 0);
  EXPECT_TRUE(has_line(out, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"));
  EXPECT_TRUE(has_line(out, "tracestate: x=1"));
  EXPECT_EQ(count(out, "00f067aa0ba902b7"), 0u);
  EXPECT_EQ(count(out, "bad state"), 0u);
  EXPECT_EQ(count(out, "TraceState"), 0u);
  // Without trace context to send (a mirror copy's shared head), neither field goes out.
  out.clear();
  append_upstream_request_head(out, head, ForwardingInfo{"10.0.0.7", "req-1", "http"}, BodyFraming::kNone, 0);
  EXPECT_EQ(count(out, "trace"), 0u);
}

}  // namespace

}  // namespace mg::http
