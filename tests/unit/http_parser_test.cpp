// The strict HTTP/1 head parsers (RFC 9112): every rule that keeps the gateway and the backend behind it
// from reading one byte stream as two different message sequences, plus the positive cases they must not break.

#include "http/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace mg::http {
namespace {

ParseResult parse(std::string_view in, RequestHead& head, const Limits& limits = {}) {
  return parse_request_head(in, limits, head);
}

// Status of parsing `in` as a request: 0 when complete, -1 when incomplete, else the error status.
int request_status(std::string_view in, const Limits& limits = {}) {
  RequestHead head;
  ParseResult r = parse(in, head, limits);
  if (r.status == ParseStatus::kComplete) return 0;
  if (r.status == ParseStatus::kIncomplete) return -1;
  return r.error_status;
}

int response_status(std::string_view in, std::string_view method = "GET") {
  ResponseHead head;
  ParseResult r = parse_response_head(in, Limits{}, method, head);
  if (r.status == ParseStatus::kComplete) return 0;
  if (r.status == ParseStatus::kIncomplete) return -1;
  return r.error_status;
}

// A GET with Host plus `extra` header lines (each ending in CRLF).
std::string get_with(std::string_view extra, std::string_view version = "HTTP/1.1") {
  return "GET / " + std::string(version) + "\r\nHost: example.com\r\n" + std::string(extra) + "\r\n";
}

bool inside(std::string_view view, std::string_view input) {
  return view.empty() || (view.data() >= input.data() && view.data() + view.size() <= input.data() + input.size());
}

// ------------------------------------------------------------------------------------------------
// Positive cases

TEST(RequestParser, ParsesSimpleGetIntoViewsOfTheInput) {
  const std::string in = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  t/1 \r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(in, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/a?b=c");
  EXPECT_EQ(head.minor_version, 1);
  EXPECT_EQ(head.head_length, in.size());
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].name, "User-Agent");
  EXPECT_EQ(head.headers[1].value, "t/1");  // OWS trimmed on both sides
  EXPECT_EQ(head.find("user-agent"), "t/1");
  EXPECT_TRUE(inside(head.method, in));
  EXPECT_TRUE(inside(head.target, in));
  for (const auto& h : head.headers) {
    EXPECT_TRUE(inside(h.name, in));
    EXPECT_TRUE(inside(h.value, in));
  }
}

TEST(RequestParser, ParsesOnlyTheFirstHeadOfPipelinedInput) {
  const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string in = first + "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(in, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.target, "/1");
  EXPECT_EQ(head.host, "a");
  EXPECT_EQ(head.head_length, first.size());
}

TEST(RequestParser, ByteByByteFeedingIsIncompleteUntilTheLastByteThenIdentical) {
  const std::string in =
      "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: keep-alive\r\n"
      "X-Empty:\r\n\r\nhello";
  RequestHead whole;
  ASSERT_EQ(parse(in, whole).status, ParseStatus::kComplete);
  const size_t head_end = whole.head_length;
  ASSERT_EQ(head_end, in.size() - 5);
  for (size_t n = 0; n < head_end; ++n) {
    RequestHead partial;
    EXPECT_EQ(parse(std::string_view(in).substr(0, n), partial).status, ParseStatus::kIncomplete) << "prefix " << n;
  }
  RequestHead exact;
  ASSERT_EQ(parse(std::string_view(in).substr(0, head_end), exact).status, ParseStatus::kComplete);
  EXPECT_EQ(exact.method, whole.method);
  EXPECT_EQ(exact.target, whole.target);
  EXPECT_EQ(exact.head_length, whole.head_length);
  EXPECT_EQ(exact.framing, BodyFraming::kContentLength);
  EXPECT_EQ(exact.content_length, 5u);
  ASSERT_EQ(exact.headers.size(), whole.headers.size());
  for (size_t i = 0; i < exact.headers.size(); ++i) {
    EXPECT_EQ(exact.headers[i].name, whole.headers[i].name);
    EXPECT_EQ(exact.headers[i].value, whole.headers[i].value);
  }
}

TEST(RequestParser, IgnoresOneEmptyLineBeforeTheRequestLine) {
  RequestHead head;
  ASSERT_EQ(parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
}

TEST(RequestParser, ContentLengthFramesTheBody) {
  RequestHead head;
  ASSERT_EQ(parse(get_with("Content-Length: 42\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 42u);
  ASSERT_EQ(parse(get_with("Content-Length: 0\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
}

TEST(RequestParser, ChunkedTransferEncodingFramesTheBody) {
  RequestHead head;
  ASSERT_EQ(parse(get_with("Transfer-Encoding: chunked\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  ASSERT_EQ(parse(get_with("Transfer-Encoding: CHUNKED\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
}

TEST(RequestParser, AcceptsTabAsOptionalWhitespaceBeforeChunked) {
  // RFC 9110 5.6.3: OWS = *( SP / HTAB ), so "Transfer-Encoding:\tchunked" is plain chunked.
  RequestHead head;
  ASSERT_EQ(parse(get_with("Transfer-Encoding:\tchunked\t\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
}

TEST(RequestParser, Http11IsKeepAliveUnlessConnectionClose) {
  RequestHead head;
  ASSERT_EQ(parse(get_with(""), head).status, ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse(get_with("Connection: close\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse(get_with("Connection: X-Foo, CLOSE\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_EQ(head.connection, "X-Foo, CLOSE");
}

TEST(RequestParser, Http10ClosesUnlessKeepAlive) {
  RequestHead head;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::kComplete);  // no Host needed
  EXPECT_EQ(head.minor_version, 0);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestParser, HigherHttp1MinorVersionIsHandledAsHttp11) {
  RequestHead head;
  ASSERT_EQ(parse(get_with("", "HTTP/1.2"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.minor_version, 1);
}

TEST(RequestParser, RecognisesExpect100Continue) {
  RequestHead head;
  ASSERT_EQ(parse(get_with("Expect: 100-continue\r\nContent-Length: 3\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_TRUE(head.expect_continue);
  ASSERT_EQ(parse(get_with("Expect: 100-Continue\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_TRUE(head.expect_continue);
  ASSERT_EQ(parse(get_with(""), head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.expect_continue);
}

TEST(RequestParser, RejectsUnknownExpectationWith417) {
  EXPECT_EQ(request_status(get_with("Expect: teapot\r\n")), 417);
}

TEST(RequestParser, AcceptsAbsoluteFormWithMatchingHost) {
  RequestHead head;
  ASSERT_EQ(parse("GET http://Example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.host, "Example.com");
  EXPECT_EQ(head.target, "/x");  // the origin-form, as a backend must be sent it
}

TEST(RequestParser, TurnsAnAbsoluteFormTargetIntoItsOriginForm) {
  struct Case {
    std::string target, authority, origin_form;
  };
  for (const Case& c : std::vector<Case>{{"http://a/p?q=1", "a", "/p?q=1"},
                                         {"https://a/", "a", "/"},
                                         {"http://a", "a", "/"},          // empty path: "/" (RFC 9112 3.2.1)
                                         {"http://a?q=1", "a", "/?q=1"},  // empty path before a query
                                         {"HTTP://a:8080/x", "a:8080", "/x"}}) {
    RequestHead head;
    const std::string in = "GET " + c.target + " HTTP/1.1\r\nHost: " + c.authority + "\r\n\r\n";
    ASSERT_EQ(parse(in, head).status, ParseStatus::kComplete) << c.target;
    EXPECT_EQ(head.target, c.origin_form) << c.target;
    EXPECT_EQ(head.host, c.authority) << c.target;
  }
}

TEST(RequestParser, RejectsAnAbsoluteFormWithUserinfoOrABadAuthority) {
  EXPECT_EQ(request_status("GET http://user@a/ HTTP/1.1\r\nHost: user@a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET http://a:8x/ HTTP/1.1\r\nHost: a:8x\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET http://a/x#frag HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParser, RejectsAHostThatIsNotUriHostAndPort) {
  // RFC 9112 3.2: a Host field with an invalid value gets 400.
  for (std::string host :
       {"user@a", "a b", "a:8x", "a:80:90", "[::1", "[]", "[::1]x", "a/b", "a\\b", "a\"b", "a<b"})
    EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"), 400) << host;
  for (std::string host : {"", "a", "a:", "a:8080", "127.0.0.1:80", "[::1]", "[::1]:8443", "a_b.example",
                           "xn--bcher-kva.example.", "Foo.Example.COM"})
    EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"), 0) << host;
}

TEST(RequestParser, RejectsNonAsciiBytesAndFragmentsInTheTarget) {
  EXPECT_EQ(request_status("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /caf%C3%A9?x=%23 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

TEST(RequestParser, AcceptsAsteriskFormOnlyForOptions) {
  EXPECT_EQ(request_status("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
  EXPECT_EQ(request_status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParser, AcceptsExactlyTheLimits) {
  Limits limits;
  // A request line of exactly max_request_line bytes.
  std::string line = "GET /" + std::string(limits.max_request_line - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), limits.max_request_line);
  EXPECT_EQ(request_status(line + "\r\nHost: a\r\n\r\n"), 0);
  // Exactly max_headers fields.
  std::string many;
  for (size_t i = 1; i < limits.max_headers; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(request_status(get_with(many)), 0);
}

// ------------------------------------------------------------------------------------------------
// Framing: Content-Length and Transfer-Encoding

TEST(RequestParser, RejectsContentLengthWithTransferEncoding) {
  EXPECT_EQ(request_status(get_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")), 400);
}

TEST(RequestParser, RejectsDuplicateContentLengthEvenWhenEqual) {
  EXPECT_EQ(request_status(get_with("Content-Length: 5\r\nContent-Length: 5\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Content-Length: 5\r\nContent-Length: 6\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Content-Length: 5, 5\r\n")), 400);
  EXPECT_EQ(request_status(get_with("content-length: 5\r\nCONTENT-LENGTH: 5\r\n")), 400);
}

TEST(RequestParser, RejectsContentLengthThatIsNotDecimalDigits) {
  for (const char* value : {"-1", "+5", "0x5", "5a", "5 5", "", "1e3", "18446744073709551616",
                            "99999999999999999999"}) {
    EXPECT_EQ(request_status(get_with(std::string("Content-Length: ") + value + "\r\n")), 400) << value;
  }
}

TEST(RequestParser, RejectsUnknownTransferCodingWith501) {
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: xchunked\r\n")), 501);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: gzip, chunked\r\n")), 501);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: identity\r\n")), 501);
}

TEST(RequestParser, RejectsRepeatedChunkedWith400) {
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: chunked, chunked\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")), 400);
}

TEST(RequestParser, RejectsChunkedThatIsNotTheFinalCodingWith400) {
  // RFC 9112 6.3: chunked not final in a request -> the server MUST answer 400 and close. That MUST
  // outranks the SHOULD of 501 for a coding the server does not know.
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: chunked, identity\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: chunked, gzip\r\n")), 400);
}

TEST(RequestParser, RejectsEmptyTransferEncoding) {
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: \r\n")), 400);
  EXPECT_EQ(request_status(get_with("Transfer-Encoding: ,\r\n")), 400);
}

TEST(RequestParser, RejectsTransferEncodingInHttp10) {
  EXPECT_EQ(request_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

// ------------------------------------------------------------------------------------------------
// Syntax

TEST(RequestParser, RejectsBareLf) {
  EXPECT_EQ(request_status("GET / HTTP/1.1\nHost: a\n\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
}

TEST(RequestParser, RejectsBareCr) {
  EXPECT_EQ(request_status("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n"), 400);
}

TEST(RequestParser, RejectsObsoleteLineFolding) {
  EXPECT_EQ(request_status(get_with("X-A: one\r\n two\r\n")), 400);
  EXPECT_EQ(request_status(get_with("X-A: one\r\n\ttwo\r\n")), 400);
  // A first field line that starts with whitespace: a folded Transfer-Encoding a backend might unfold.
  EXPECT_EQ(request_status("POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParser, RejectsWhitespaceBetweenFieldNameAndColon) {
  EXPECT_EQ(request_status(get_with("Transfer-Encoding : chunked\r\n")), 400);
  EXPECT_EQ(request_status(get_with("Content-Length\t: 5\r\n")), 400);
}

TEST(RequestParser, RejectsControlCharactersInFieldNamesAndValues) {
  using namespace std::string_literals;
  EXPECT_EQ(request_status(get_with("X-A: a\0b\r\n"s)), 400);
  EXPECT_EQ(request_status(get_with("X-\0A: ab\r\n"s)), 400);
  EXPECT_EQ(request_status(get_with("X-A: a\x01" "b\r\n")), 400);
  EXPECT_EQ(request_status(get_with("X-A: a\x7f" "b\r\n")), 400);
  EXPECT_EQ(request_status(get_with("X-A\x01: b\r\n")), 400);
  EXPECT_EQ(request_status(get_with("X(A): b\r\n")), 400);
  EXPECT_EQ(request_status(get_with(": b\r\n")), 400);
  EXPECT_EQ(request_status(get_with("NoColon\r\n")), 400);
}

TEST(RequestParser, AcceptsObsTextInFieldValues) {
  EXPECT_EQ(request_status(get_with("X-A: caf\xc3\xa9\r\n")), 0);
}

TEST(RequestParser, RejectsInvalidMethodToken) {
  EXPECT_EQ(request_status("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status(" / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  using namespace std::string_literals;
  EXPECT_EQ(request_status("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s), 400);
}

TEST(RequestParser, RejectsMalformedRequestLine) {
  EXPECT_EQ(request_status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET /\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParser, RejectsHttp2AndHttp09With505) {
  EXPECT_EQ(request_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(request_status("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(request_status("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), 505);
}

TEST(RequestParser, RejectsMalformedVersionWith400) {
  for (const char* version : {"HTTP/1.1x", "HTTP/1", "HTTP/1.", "HTTP/11", "http/1.1", "HTTP/1.10", "HTTP/2",
                              "HTTP/a.b", "HTTPS/1.1"}) {
    EXPECT_EQ(request_status(std::string("GET / ") + version + "\r\nHost: a\r\n\r\n"), 400) << version;
  }
}

TEST(RequestParser, RejectsMissingHostOnHttp11) {
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nX-A: b\r\n\r\n"), 400);
}

TEST(RequestParser, RejectsRepeatedHost) {
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

TEST(RequestParser, RejectsAbsoluteFormWhoseAuthorityDiffersFromHost) {
  EXPECT_EQ(request_status("GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET http://good.example:8080/ HTTP/1.1\r\nHost: good.example\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(request_status("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

// ------------------------------------------------------------------------------------------------
// Limits

TEST(RequestParser, RejectsRequestLineOver8KiBWith414) {
  Limits limits;
  std::string long_target = "/" + std::string(9 * 1024, 'a');
  EXPECT_EQ(request_status("GET " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n"), 414);
  // Also before the line is complete: nobody should buffer an endless request line.
  EXPECT_EQ(request_status("GET " + long_target), 414);
  std::string line = "GET /" + std::string(limits.max_request_line - 13, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), limits.max_request_line + 1);
  EXPECT_EQ(request_status(line + "\r\nHost: a\r\n\r\n"), 414);
}

TEST(RequestParser, RejectsHeaderBlockOver64KiBWith431) {
  std::string big;
  for (int i = 0; i < 70; ++i) big += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  EXPECT_EQ(request_status(get_with(big)), 431);
  // Incomplete but already too large.
  EXPECT_EQ(request_status("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(70 * 1024, 'v')), 431);
}

TEST(RequestParser, RejectsMoreThan100FieldsWith431) {
  std::string many;
  for (int i = 1; i <= 100; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";  // plus Host: 101
  EXPECT_EQ(request_status(get_with(many)), 431);
}

TEST(RequestParser, HonoursCustomLimits) {
  Limits limits;
  limits.max_headers = 2;
  EXPECT_EQ(request_status(get_with("A: 1\r\n"), limits), 0);
  EXPECT_EQ(request_status(get_with("A: 1\r\nB: 2\r\n"), limits), 431);
}

// ------------------------------------------------------------------------------------------------
// Responses

TEST(ResponseParser, ContentLengthFramesTheBody) {
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ResponseHead head;
  ASSERT_EQ(parse_response_head(in, Limits{}, "GET", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 2u);
  EXPECT_EQ(head.head_length, in.size() - 2);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, ChunkedFramesTheBody) {
  ResponseHead head;
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, "GET", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, NoLengthMeansUntilCloseAndNoReuse) {
  ResponseHead head;
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\n\r\n", Limits{}, "GET", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
  // A final coding other than chunked is delimited by close as well (RFC 9112 6.3).
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Limits{}, "GET", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, HeadAnswersHaveNoBodyWhateverTheirLength) {
  ResponseHead head;
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", Limits{}, "HEAD", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, "HEAD", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
}

TEST(ResponseParser, Status204And304And1xxHaveNoBody) {
  for (const char* line : {"HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified", "HTTP/1.1 100 Continue",
                           "HTTP/1.1 103 Early Hints"}) {
    ResponseHead head;
    std::string in = std::string(line) + "\r\nContent-Length: 10\r\n\r\n";
    ASSERT_EQ(parse_response_head(in, Limits{}, "GET", head).status, ParseStatus::kComplete) << line;
    EXPECT_EQ(head.framing, BodyFraming::kNone) << line;
  }
}

TEST(ResponseParser, SuccessfulConnectAnswerHasNoBody) {
  ResponseHead head;
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\n\r\n", Limits{}, "CONNECT", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
}

TEST(ResponseParser, Http10ClosesUnlessKeepAlive) {
  ResponseHead head;
  ASSERT_EQ(parse_response_head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Limits{}, "GET", head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_response_head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", Limits{},
                                "GET", head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", Limits{}, "GET",
                                head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, ByteByByteFeedingIsIncompleteUntilTheLastByte) {
  const std::string in = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\n";
  for (size_t n = 0; n < in.size(); ++n) EXPECT_EQ(response_status(in.substr(0, n)), -1) << "prefix " << n;
  ResponseHead head;
  ASSERT_EQ(parse_response_head(in, Limits{}, "GET", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.reason, "Not Found");
  EXPECT_EQ(head.head_length, in.size());
}

TEST(ResponseParser, RejectsAmbiguousFramingWith502) {
  EXPECT_EQ(response_status("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
  EXPECT_EQ(response_status("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n"), 502);
  EXPECT_EQ(response_status("HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n"), 502);
  EXPECT_EQ(response_status("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 502);
  EXPECT_EQ(response_status("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            502);
}

TEST(ResponseParser, RejectsGarbageWith502) {
  for (const char* in : {"HELLO\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
                         "HTTP/1.1 600 X\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 200 OK\nX: y\n\n",
                         "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
                         "HTTP/1.1 2x0 OK\r\n\r\n"}) {
    EXPECT_EQ(response_status(in), 502) << in;
  }
}

}  // namespace
}  // namespace mg::http
