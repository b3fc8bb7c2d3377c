// A mirror copy's own head: MirrorPolicy header edits and the opt-in Host suffix, applied to the copy
// only, never to the names the gateway owns.

#include <gtest/gtest.h>

#include <string>

#include "mirror/copy_head.h"

namespace mg::mirror {
namespace {

const std::string kHead =
    "POST /orders?id=1 HTTP/1.1\r\n"
    "Host: shop.example:8080\r\n"
    "Authorization: Bearer secret\r\n"
    "Cookie: a=1\r\n"
    "X-Env: prod\r\n"
    "X-Env: blue\r\n"
    "X-Forwarded-For: 10.0.0.1\r\n"
    "X-Request-Id: 1fb38093-bb4d-4108-af0b-3a662b7dc925\r\n"
    "Content-Length: 5\r\n";

TEST(MirrorCopyHead, NoEditsMeansTheSharedHeadIsUsed) {
  route::MirrorSettings settings;
  EXPECT_FALSE(edits_copy_head(settings));
  settings.max_in_flight = 3;  // budgets alone do not touch the head
  EXPECT_FALSE(edits_copy_head(settings));
  settings.host_suffix = "-shadow";
  EXPECT_TRUE(edits_copy_head(settings));
  settings.host_suffix.clear();
  settings.request_headers.remove.push_back("cookie");
  EXPECT_TRUE(edits_copy_head(settings));
}

TEST(MirrorCopyHead, RemovesSetsAndAddsCaseInsensitively) {
  route::MirrorSettings settings;
  settings.request_headers.remove = {"authorization", "COOKIE"};
  settings.request_headers.set = {{"x-env", "shadow"}};
  settings.request_headers.add = {{"X-Shadow-Run", "42"}};
  EXPECT_EQ(edit_copy_head(kHead, settings),
            "POST /orders?id=1 HTTP/1.1\r\n"
            "Host: shop.example:8080\r\n"
            "X-Forwarded-For: 10.0.0.1\r\n"
            "X-Request-Id: 1fb38093-bb4d-4108-af0b-3a662b7dc925\r\n"
            "Content-Length: 5\r\n"
            "x-env: shadow\r\n"
            "X-Shadow-Run: 42\r\n");
}

TEST(MirrorCopyHead, NeverEditsTheNamesTheGatewayOwns) {
  route::MirrorSettings settings;
  settings.request_headers.remove = {"x-request-id", "x-mirrorgate-mirror", "content-length", "host"};
  settings.request_headers.set = {
      {"Content-Length", "0"}, {"X-Request-Id", "forged"}, {"Connection", "close"}};
  settings.request_headers.add = {{"Transfer-Encoding", "chunked"}, {"Host", "second.example"}};
  EXPECT_EQ(edit_copy_head(kHead, settings), kHead);
}

TEST(MirrorCopyHead, HostSuffixGoesBeforeThePort) {
  route::MirrorSettings settings;
  settings.host_suffix = "-shadow";
  std::string edited = edit_copy_head(kHead, settings);
  EXPECT_NE(edited.find("\r\nHost: shop.example-shadow:8080\r\n"), std::string::npos) << edited;
  EXPECT_EQ(edited.size(), kHead.size() + 7);
}

TEST(MirrorCopyHead, HostSuffixAppliesToASetHost) {
  route::MirrorSettings settings;
  settings.host_suffix = "-shadow";
  settings.request_headers.set = {{"Host", "staging.example"}};
  std::string edited = edit_copy_head(kHead, settings);
  EXPECT_EQ(edited.find("shop.example"), std::string::npos) << edited;
  EXPECT_NE(edited.find("\r\nHost: staging.example-shadow\r\n"), std::string::npos) << edited;
}

TEST(MirrorCopyHead, HostWithSuffix) {
  EXPECT_EQ(host_with_suffix("a.example:8080", "-shadow"), "a.example-shadow:8080");
  EXPECT_EQ(host_with_suffix("a.example", "-shadow"), "a.example-shadow");
  EXPECT_EQ(host_with_suffix("a.example", ""), "a.example");
  EXPECT_EQ(host_with_suffix("[::1]:8080", "-shadow"), "[::1]:8080");  // no name to suffix
  EXPECT_EQ(host_with_suffix("", "-shadow"), "");
}

}  // namespace
}  // namespace mg::mirror
