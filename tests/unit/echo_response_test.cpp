#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "echo/response.h"
#include "echo/retry_simulator.h"

namespace mg::echo {
namespace {

std::vector<ResponseHeader> set_headers(std::vector<http::Header> request) {
  std::vector<ResponseHeader> out;
  parse_echo_set_headers(request, out);
  return out;
}

TEST(EchoSetHeader, SplitsOnCommasAndFirstColonKeepingNameSpelling) {
  auto out = set_headers({{"X-Echo-Set-Header", "x-header-set: a , X-Other:b:c,Bare"}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name, "x-header-set");
  EXPECT_EQ(out[0].value, "a");
  EXPECT_EQ(out[1].name, "X-Other");
  EXPECT_EQ(out[1].value, "b:c");
  EXPECT_EQ(out[2].name, "Bare");
  EXPECT_EQ(out[2].value, "");
}

TEST(EchoSetHeader, AppendsRepeatedExactNamesWithComma) {
  auto out = set_headers({{"x-echo-set-header", "X-A: 1"}, {"X-Echo-Set-Header", "X-A:2, x-a:3"}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "X-A");
  EXPECT_EQ(out[0].value, "1,2");
  EXPECT_EQ(out[1].name, "x-a");
  EXPECT_EQ(out[1].value, "3");
}

TEST(EchoSetHeader, DropsEmptyAndInvalidNames) {
  EXPECT_TRUE(set_headers({{"X-Echo-Set-Header", ""}}).empty());
  EXPECT_TRUE(set_headers({{"X-Echo-Set-Header", ",, :v"}}).empty());
  EXPECT_TRUE(set_headers({{"X-Echo-Set-Header", "Bad Name:v"}}).empty());
  EXPECT_TRUE(set_headers({{"X-Other", "X-A:1"}}).empty());
}

TEST(EchoResponse, WritesHeadersInOrderWithContentLength) {
  std::vector<ResponseHeader> extra{{"X-Foo", "bar"}, {"Content-Type", "text/evil"}, {"content-length", "9"}};
  ResponseSpec spec;
  spec.extra_headers = extra;
  spec.content_type = "application/json";
  spec.nosniff = true;
  spec.body = "{}";
  std::string out;
  append_response(out, spec);
  std::string date(cached_http_date());
  EXPECT_EQ(
      out,
      "HTTP/1.1 200 OK\r\nX-Foo: bar\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
      "Date: " +
          date + "\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(EchoResponse, HeadKeepsContentLengthButSendsNoBody) {
  ResponseSpec spec;
  spec.head_request = true;
  spec.body = "hello";
  std::string out;
  append_response(out, spec);
  EXPECT_NE(out.find("Content-Length: 5\r\n\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(EchoResponse, NoContentLengthForBodylessStatusesAndConnectionForHttp10) {
  ResponseSpec spec;
  spec.status = 204;
  spec.minor_version = 0;
  std::string out;
  append_response(out, spec);
  EXPECT_EQ(out.rfind("HTTP/1.0 204 No Content\r\n", 0), 0u);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  out.clear();
  spec.status = 299;
  spec.minor_version = 1;
  spec.keep_alive = false;
  append_response(out, spec);
  EXPECT_EQ(out.rfind("HTTP/1.1 299 status code 299\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
}

TEST(EchoRetry, ParsesParametersWithGoErrors) {
  std::string error;
  EXPECT_FALSE(parse_retry_params("succeedAfter=1", error));
  EXPECT_EQ(error, "uuid is required");
  EXPECT_FALSE(parse_retry_params("uuid=u&succeedAfter=x", error));
  EXPECT_EQ(error, "succeedAfter is required");
  auto p = parse_retry_params("uuid=u&succeedAfter=2&responseCode=503&delayRetry=1s", error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->uuid, "u");
  EXPECT_EQ(p->succeed_after, 2);
  EXPECT_EQ(p->response_code, 503);
  EXPECT_EQ(p->delay_retry, "1s");
  p = parse_retry_params("uuid=u&succeedAfter=%2B2&responseCode=abc", error);  // a raw + would be a space
  ASSERT_TRUE(p);
  EXPECT_EQ(p->succeed_after, 2);
  EXPECT_FALSE(p->response_code);  // not an integer: reset mode
}

TEST(EchoRetry, FailsFirstAttemptsPerUuidThenSucceedsForever) {
  RetrySimulator sim;
  ASSERT_TRUE(sim.try_lock());
  EXPECT_FALSE(sim.try_lock());
  EXPECT_TRUE(sim.record_attempt("a", 2));
  EXPECT_TRUE(sim.record_attempt("a", 2));
  EXPECT_FALSE(sim.record_attempt("a", 2));
  EXPECT_FALSE(sim.record_attempt("a", 2));
  EXPECT_TRUE(sim.record_attempt("b", 1));
  EXPECT_FALSE(sim.record_attempt("c", 0));
  sim.unlock();
  EXPECT_TRUE(sim.try_lock());
}

TEST(EchoRetry, ParsesIntegersLikeAtoi) {
  EXPECT_EQ(parse_go_int("42"), 42);
  EXPECT_EQ(parse_go_int("-7"), -7);
  EXPECT_EQ(parse_go_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_go_int("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(parse_go_int("9223372036854775808"));
  EXPECT_FALSE(parse_go_int(""));
  EXPECT_FALSE(parse_go_int("1_000"));
  EXPECT_FALSE(parse_go_int(" 1"));
}

}  // namespace
}  // namespace mg::echo
