#include "mirror/response_diff.h"

#include <string>

#include <gtest/gtest.h>

namespace mg::mirror {
namespace {

CapturedResponse json_response(std::string body, int status = 200) {
  CapturedResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = std::move(body);
  return r;
}

CapturedResponse text_response(std::string body) {
  CapturedResponse r;
  r.status = 200;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

route::ResponseComparison settings(std::vector<std::string> ignore = {}, std::vector<std::string> headers = {}) {
  route::ResponseComparison s;
  s.enabled = true;
  s.ignore_json_paths = std::move(ignore);
  s.headers = std::move(headers);
  return s;
}

TEST(ResponseDiff, IdenticalResponsesMatch) {
  auto r = compare_responses(json_response(R"({"a":1})"), json_response(R"({"a":1})"), settings());
  EXPECT_TRUE(r.match);
  EXPECT_TRUE(r.differences.empty());
  EXPECT_TRUE(r.note.empty());
}

TEST(ResponseDiff, StatusMismatchIsNamed) {
  auto r = compare_responses(json_response("{}", 200), json_response("{}", 500), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0], "status: primary 200, mirror 500");
}

TEST(ResponseDiff, JsonKeyOrderAndWhitespaceAreIgnored) {
  auto r = compare_responses(json_response(R"({"a": 1, "b": {"x": [1, 2], "y": "z"}})"),
                             json_response("{\"b\":{\"y\":\"z\",\"x\":[1,2]},\n \"a\":1}"), settings());
  EXPECT_TRUE(r.match) << (r.differences.empty() ? "" : r.differences[0]);
}

TEST(ResponseDiff, JsonNumbersCompareByValue) {
  EXPECT_TRUE(compare_responses(json_response(R"({"n":1})"), json_response(R"({"n":1.0})"), settings()).match);
  EXPECT_TRUE(compare_responses(json_response(R"({"n":-2})"), json_response(R"({"n":-2e0})"), settings()).match);
  auto r = compare_responses(json_response(R"({"n":1})"), json_response(R"({"n":1.5})"), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0], "/n: primary 1, mirror 1.5");
}

TEST(ResponseDiff, JsonDifferencesAreNamedByPointer) {
  auto r = compare_responses(json_response(R"({"pod":"v1","headers":{"X-Foo":["a"]},"old":true})"),
                             json_response(R"({"pod":"v2","headers":{"X-Foo":["b"]},"new":null})"), settings());
  EXPECT_FALSE(r.match);
  std::vector<std::string> expected{
      R"(/headers/X-Foo/0: primary "a", mirror "b")",
      "/new: only in mirror (null)",
      "/old: only in primary (true)",
      R"(/pod: primary "v1", mirror "v2")",
  };
  EXPECT_EQ(r.differences, expected);
}

TEST(ResponseDiff, PointerEscapesSlashAndTilde) {
  auto r = compare_responses(json_response(R"({"a/b":{"c~d":1}})"), json_response(R"({"a/b":{"c~d":2}})"),
                             settings());
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0], "/a~1b/c~0d: primary 1, mirror 2");
  EXPECT_TRUE(compare_responses(json_response(R"({"a/b":{"c~d":1}})"), json_response(R"({"a/b":{"c~d":2}})"),
                                settings({"/a~1b/c~0d"}))
                  .match);
}

TEST(ResponseDiff, IgnorePathsSkipTheirWholeSubtree) {
  auto primary = json_response(R"({"pod":"v1","service":"s1","meta":{"time":1,"deep":{"x":1}},"same":1})");
  auto mirror = json_response(R"({"pod":"v2","meta":{"time":2,"deep":{"x":2,"y":3}},"same":1})");
  EXPECT_FALSE(compare_responses(primary, mirror, settings()).match);
  EXPECT_TRUE(compare_responses(primary, mirror, settings({"/pod", "/service", "/meta"})).match);
  auto r = compare_responses(primary, mirror, settings({"/pod", "/service", "/meta/time"}));
  EXPECT_FALSE(r.match);
  std::vector<std::string> expected{"/meta/deep/x: primary 1, mirror 2", "/meta/deep/y: only in mirror (3)"};
  EXPECT_EQ(r.differences, expected);
}

TEST(ResponseDiff, RootPointerIgnoresTheWholeBody) {
  EXPECT_TRUE(compare_responses(json_response(R"([1])"), json_response(R"({"a":2})"), settings({""})).match);
}

TEST(ResponseDiff, NestedArraysCompareElementByElement) {
  auto r = compare_responses(json_response(R"({"m":[[1,2],[3,{"k":"v"}],[5]]})"),
                             json_response(R"({"m":[[1,2],[3,{"k":"w"}],[5,6]]})"), settings());
  std::vector<std::string> expected{R"(/m/1/1/k: primary "v", mirror "w")", "/m/2/1: only in mirror (6)"};
  EXPECT_EQ(r.differences, expected);
  auto shorter = compare_responses(json_response(R"([1,2,3])"), json_response(R"([1])"), settings());
  std::vector<std::string> missing{"/1: only in primary (2)", "/2: only in primary (3)"};
  EXPECT_EQ(shorter.differences, missing);
}

TEST(ResponseDiff, TypeChangeIsADifference) {
  auto r = compare_responses(json_response(R"({"a":"1"})"), json_response(R"({"a":1})"), settings());
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0], R"(/a: primary "1", mirror 1)");
  auto root = compare_responses(json_response(R"([])"), json_response(R"({})"), settings());
  ASSERT_EQ(root.differences.size(), 1u);
  EXPECT_EQ(root.differences[0], "body: primary [], mirror {}");
}

TEST(ResponseDiff, ListsAtMostTwentyDifferencesAndCountsTheRest) {
  std::string p = "[", m = "[";
  for (int i = 0; i < 25; ++i) {
    p += (i ? "," : "") + std::to_string(i);
    m += (i ? "," : "") + std::to_string(i + 100);
  }
  auto r = compare_responses(json_response(p + "]"), json_response(m + "]"), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), kMaxListedDifferences + 1);
  EXPECT_EQ(r.differences.back(), "... and 5 more differences");
}

TEST(ResponseDiff, NonJsonBodiesCompareBytesWithOffsetAndExcerpts) {
  EXPECT_TRUE(compare_responses(text_response("hello"), text_response("hello"), settings()).match);
  auto r = compare_responses(text_response("hello world"), text_response("hello w\x01rld\n"), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0],
            R"(body: primary 11 bytes, mirror 12 bytes, first difference at byte 7: primary "hello world", )"
            R"(mirror "hello w\x01rld\n")");
}

TEST(ResponseDiff, LongBodiesShowExcerptsAroundTheDifference) {
  std::string a(1000, 'a'), b(1000, 'a');
  b[500] = 'B';
  auto r = compare_responses(text_response(a), text_response(b), settings());
  ASSERT_EQ(r.differences.size(), 1u);
  const std::string& d = r.differences[0];
  EXPECT_NE(d.find("first difference at byte 500"), std::string::npos) << d;
  EXPECT_NE(d.find("...\"" + std::string(16, 'a') + "B" + std::string(31, 'a') + "\"..."), std::string::npos) << d;
}

TEST(ResponseDiff, InvalidJsonFallsBackToBytes) {
  auto r = compare_responses(json_response(R"({"a":)"), json_response(R"({"a":1})"), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0].rfind("body: primary 5 bytes, mirror 7 bytes, first difference at byte 5", 0), 0u)
      << r.differences[0];
}

TEST(ResponseDiff, DeeplyNestedJsonIsComparedAsBytes) {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_TRUE(compare_responses(json_response(deep), json_response(deep), settings()).match);
  std::string other = std::string(5000, '[') + "1" + std::string(5000, ']');
  auto r = compare_responses(json_response(deep), json_response(other), settings());
  EXPECT_FALSE(r.match);
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0].rfind("body: primary 10000 bytes, mirror 10001 bytes", 0), 0u);
}

TEST(ResponseDiff, JsonOnlyWhenBothSidesSayJson) {
  auto plain = text_response(R"({"a":1,"b":2})");
  auto json = json_response(R"({"b":2,"a":1})");
  EXPECT_FALSE(compare_responses(plain, json, settings()).match);
  auto problem = json_response("{}");
  problem.content_type = "application/problem+json";
  EXPECT_TRUE(compare_responses(problem, json_response("{ }"), settings()).match);
}

TEST(ResponseDiff, BodiesOverTheCapAreNotComparedAndSaySo) {
  auto s = settings();
  s.max_body_bytes = 64 * 1024;
  auto primary = json_response("");
  primary.truncated = true;
  auto mirror = json_response("");
  mirror.truncated = true;
  auto r = compare_responses(primary, mirror, s);
  EXPECT_TRUE(r.match);
  EXPECT_EQ(r.note, "body not compared: over 64 KiB");
  mirror.status = 503;
  r = compare_responses(primary, mirror, s);
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.differences, std::vector<std::string>{"status: primary 200, mirror 503"});
  EXPECT_EQ(r.note, "body not compared: over 64 KiB");
}

TEST(ResponseDiff, OneBodyOverTheCapIsADifference) {
  auto s = settings();
  s.max_body_bytes = 10;
  auto primary = text_response("0123456789abc");  // captured with a larger cap (another mirror's)
  auto mirror = text_response("short");
  auto r = compare_responses(primary, mirror, s);
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.differences, std::vector<std::string>{"body: primary over 10 bytes, mirror 5 bytes"});
}

TEST(ResponseDiff, ChosenHeadersAreCompared) {
  auto s = settings({}, {"content-type", "x-version", "x-absent"});
  auto primary = json_response("{}");
  primary.headers = {{"content-type", "application/json"}, {"x-version", "1"}};
  auto mirror = json_response("{}");
  mirror.headers = {{"content-type", "application/json"}};
  auto r = compare_responses(primary, mirror, s);
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.differences, std::vector<std::string>{R"(header x-version: primary "1", mirror absent)"});
  mirror.headers.emplace_back("x-version", "2");
  r = compare_responses(primary, mirror, s);
  EXPECT_EQ(r.differences, std::vector<std::string>{R"(header x-version: primary "1", mirror "2")"});
  // Headers not chosen are not compared.
  EXPECT_TRUE(compare_responses(primary, mirror, settings()).match);
}

TEST(ResponseDiff, CaptureHeadKeepsChosenHeadersAndContentType) {
  std::vector<http::Header> headers{{"Content-Type", "application/json"},
                                    {"X-Version", "1"},
                                    {"Date", "today"},
                                    {"x-version", "2"}};
  std::vector<std::string> names{"x-version", "x-missing"};
  CapturedResponse r;
  capture_head(201, headers, names, r);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "x-version");
  EXPECT_EQ(r.headers[0].second, "1, 2");
}

TEST(ResponseDiff, LongKeysAndHeaderValuesAreShortened) {
  std::string key(5000, 'k');
  auto r = compare_responses(json_response("{\"" + key + "\":1}"), json_response("{\"" + key + "\":2}"), settings());
  ASSERT_EQ(r.differences.size(), 1u);
  EXPECT_EQ(r.differences[0], "/" + std::string(199, 'k') + "...: primary 1, mirror 2");
  auto s = settings({}, {"x-long"});
  auto primary = json_response("{}");
  primary.headers = {{"x-long", std::string(1000, 'a')}};
  auto mirror = json_response("{}");
  auto h = compare_responses(primary, mirror, s);
  ASSERT_EQ(h.differences.size(), 1u);
  EXPECT_EQ(h.differences[0], "header x-long: primary \"" + std::string(80, 'a') + "\"..., mirror absent");
}

TEST(ResponseDiff, FormatSize) {
  EXPECT_EQ(format_size(64 * 1024), "64 KiB");
  EXPECT_EQ(format_size(8 * 1024 * 1024), "8 MiB");
  EXPECT_EQ(format_size(1000), "1000 bytes");
}

}  // namespace
}  // namespace mg::mirror
