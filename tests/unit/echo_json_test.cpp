#include "echo/echo_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/parser.h"

namespace mg::echo {
namespace {

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// Parses a raw request with the project parser and encodes its echo document.
std::string echo_document(std::string_view raw, const EchoEnv& env) {
  http::RequestHead head;
  http::Limits limits;
  auto r = http::parse_request_head(raw, limits, head);
  EXPECT_EQ(r.status, http::ParseStatus::kComplete) << r.error;
  EchoRequest req;
  req.target = head.target;
  req.host = head.host;
  req.method = head.method;
  req.minor_version = head.minor_version;
  req.headers = head.headers;
  req.chunked = head.framing == http::BodyFraming::kChunked;
  std::string out;
  EchoJsonWriter writer;
  writer.append(out, req, env);
  return out;
}

TEST(EchoJson, MatchesSpecExampleByteForByte) {
  // echo-basic.md section 5.5.
  const std::string raw =
      "GET /mirror?gateway-api-conformance-request-id=0b6c2f1e-5f0e-4c57-9d1a-2a7f7b1c9e11 HTTP/1.1\r\n"
      "Host: 10.96.12.7\r\n"
      "User-Agent: Go-http-client/1.1\r\n"
      "X-Echo-Set-Header: \r\n"
      "X-Forwarded-For: 10.244.0.1\r\n"
      "X-Forwarded-Proto: http\r\n"
      "Accept-Encoding: gzip\r\n"
      "\r\n";
  EchoEnv env;
  env.namespace_name = "gateway-conformance-infra";
  env.pod = "infra-backend-v2-5d4f8b7c9d-k2x7q";
  const std::string expected = R"({
 "path": "/mirror?gateway-api-conformance-request-id=0b6c2f1e-5f0e-4c57-9d1a-2a7f7b1c9e11",
 "host": "10.96.12.7",
 "method": "GET",
 "proto": "HTTP/1.1",
 "headers": {
  "Accept-Encoding": [
   "gzip"
  ],
  "User-Agent": [
   "Go-http-client/1.1"
  ],
  "X-Echo-Set-Header": [
   ""
  ],
  "X-Forwarded-For": [
   "10.244.0.1"
  ],
  "X-Forwarded-Proto": [
   "http"
  ]
 },
 "httpPort": "3000",
 "namespace": "gateway-conformance-infra",
 "ingress": "",
 "service": "",
 "pod": "infra-backend-v2-5d4f8b7c9d-k2x7q"
})";
  EXPECT_EQ(echo_document(raw, env), expected);
}

TEST(EchoJson, EmptyHeaderMapIsWrittenAsEmptyObject) {
  std::string doc = echo_document("GET / HTTP/1.0\r\nHost: h\r\n\r\n", EchoEnv{});
  EXPECT_NE(doc.find(" \"proto\": \"HTTP/1.0\",\n \"headers\": {},\n \"httpPort\": \"3000\",\n"),
            std::string::npos)
      << doc;
}

TEST(EchoJson, GroupsRepeatedHeadersInArrivalOrderUnderCanonicalName) {
  std::string doc = echo_document(
      "GET / HTTP/1.1\r\nHost: h\r\nx-b: 2\r\nX-A: a, b\r\nX-B: 1\r\nx_custom: c\r\nWWW-AUTHENTICATE: "
      "w\r\nx-b:\r\n\r\n",
      EchoEnv{});
  const std::string expected_headers =
      " \"headers\": {\n"
      "  \"Www-Authenticate\": [\n   \"w\"\n  ],\n"
      "  \"X-A\": [\n   \"a, b\"\n  ],\n"
      "  \"X-B\": [\n   \"2\",\n   \"1\",\n   \"\"\n  ],\n"
      "  \"X_custom\": [\n   \"c\"\n  ]\n"
      " },\n";
  EXPECT_NE(doc.find(expected_headers), std::string::npos) << doc;
}

TEST(EchoJson, DropsHostTransferEncodingAndChunkedTrailer) {
  std::string doc = echo_document(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-Keep: 1\r\n\r\n",
      EchoEnv{});
  EXPECT_EQ(doc.find("Host\""), std::string::npos) << doc;
  EXPECT_EQ(doc.find("Transfer-Encoding"), std::string::npos) << doc;
  EXPECT_EQ(doc.find("Trailer"), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"X-Keep\""), std::string::npos) << doc;
  EXPECT_NE(doc.find(" \"host\": \"h\",\n"), std::string::npos) << doc;
}

TEST(EchoJson, PragmaNoCacheAddsCacheControlOnlyWhenAbsent) {
  std::string doc = echo_document("GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n", EchoEnv{});
  EXPECT_NE(doc.find("\"Cache-Control\": [\n   \"no-cache\"\n  ],\n  \"Pragma\""), std::string::npos) << doc;
  doc = echo_document("GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\n\r\n",
                      EchoEnv{});
  EXPECT_NE(doc.find("\"Cache-Control\": [\n   \"max-age=1\"\n  ]"), std::string::npos) << doc;
  doc = echo_document("GET / HTTP/1.1\r\nHost: h\r\nPragma: No-Cache\r\n\r\n", EchoEnv{});
  EXPECT_EQ(doc.find("Cache-Control"), std::string::npos) << doc;
}

TEST(EchoJson, EscapesHtmlCharactersLikeGo) {
  EXPECT_EQ(json_string("/a?b=1&c=<2>"), R"("/a?b=1\u0026c=\u003c2\u003e")");
}

TEST(EchoJson, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_string("\"\\"), R"("\"\\")");
  EXPECT_EQ(json_string("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(json_string(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(json_string("\x7f"), "\"\x7f\"");  // DEL is literal in Go
}

TEST(EchoJson, KeepsValidUtf8AndEscapesLineSeparators) {
  EXPECT_EQ(json_string("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(json_string("a\xE2\x80\xA8"
                        "b\xE2\x80\xA9"),
            R"("a\u2028b\u2029")");
}

TEST(EchoJson, ReplacesEachInvalidUtf8ByteWithReplacementCharacter) {
  EXPECT_EQ(json_string("\xff"), R"("\ufffd")");
  EXPECT_EQ(json_string("a\xC3"), R"("a\ufffd")");                              // truncated sequence
  EXPECT_EQ(json_string("\xC0\xAF"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(json_string("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");            // UTF-16 surrogate
  EXPECT_EQ(json_string("\xF4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // above U+10FFFF
}

TEST(EchoJson, CanonicalisesHeaderKeysLikeGo) {
  EXPECT_EQ(canonical_header_key("x-header-set"), "X-Header-Set");
  EXPECT_EQ(canonical_header_key("content-type"), "Content-Type");
  EXPECT_EQ(canonical_header_key("x_custom"), "X_custom");
  EXPECT_EQ(canonical_header_key("WWW-AUTHENTICATE"), "Www-Authenticate");
  EXPECT_EQ(canonical_header_key("a--b"), "A--B");
}

TEST(EchoJson, ErrorBodyIsCompactAndEscaped) {
  std::string out;
  append_error_json(out, "time: invalid duration \"abc\"");
  EXPECT_EQ(out, R"({"message":"time: invalid duration \"abc\""})");
}

}  // namespace
}  // namespace mg::echo
