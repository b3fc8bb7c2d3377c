#include <gtest/gtest.h>

#include <string>

#include "echo/router.h"

namespace mg::echo {
namespace {

Route route(std::string_view target, std::string& scratch, std::string_view method = "GET") {
  return route_request(method, target, scratch);
}

RouteKind kind(std::string_view target, std::string_view method = "GET") {
  std::string scratch;
  return route(target, scratch, method).kind;
}

std::string redirect(std::string_view target) {
  std::string scratch;
  Route r = route(target, scratch);
  EXPECT_EQ(r.kind, RouteKind::kRedirect) << target;
  return std::string(r.location);
}

TEST(EchoRouter, RoutesFixedEndpointsForAnyMethod) {
  EXPECT_EQ(kind("/health"), RouteKind::kHealth);
  EXPECT_EQ(kind("/health", "POST"), RouteKind::kHealth);
  EXPECT_EQ(kind("/health?x=1"), RouteKind::kHealth);
  EXPECT_EQ(kind("/health/"), RouteKind::kEcho);
  EXPECT_EQ(kind("/ws"), RouteKind::kWebSocket);
  EXPECT_EQ(kind("/ws/"), RouteKind::kEcho);
  EXPECT_EQ(kind("/status/200"), RouteKind::kStatus);
  EXPECT_EQ(kind("/status/"), RouteKind::kStatus);
  EXPECT_EQ(kind("/retry/x?uuid=1"), RouteKind::kRetry);
  EXPECT_EQ(kind("/"), RouteKind::kEcho);
  EXPECT_EQ(kind("/statusx"), RouteKind::kEcho);
  EXPECT_EQ(kind("/a/b?c=d"), RouteKind::kEcho);
  EXPECT_EQ(kind("*", "OPTIONS"), RouteKind::kOptionsStar);
}

TEST(EchoRouter, RedirectsMissingTrailingSlashKeepingQuery) {
  EXPECT_EQ(redirect("/status"), "/status/");
  EXPECT_EQ(redirect("/retry?uuid=1&succeedAfter=2"), "/retry/?uuid=1&succeedAfter=2");
  EXPECT_EQ(redirect("/a/../status"), "/status/");
}

TEST(EchoRouter, RedirectsUncleanPathsToCleanedPath) {
  EXPECT_EQ(redirect("/a/./b"), "/a/b");
  EXPECT_EQ(redirect("/a/../b?x=1"), "/b?x=1");
  EXPECT_EQ(redirect("/a/b/.."), "/a");
  EXPECT_EQ(redirect("/a/b/../"), "/a/");
  EXPECT_EQ(redirect("/.."), "/");
  EXPECT_EQ(redirect("/a/%2e%2e/b"), "/b");       // dot segments are seen after decoding
  EXPECT_EQ(redirect("/a%20b/./c"), "/a%20b/c");  // the Location is re-escaped
  EXPECT_EQ(redirect("///a"), "/a");              // "///" collapses to "//", which ServeMux cleans
  EXPECT_EQ(redirect("http://h"), "/");           // absolute form with an empty path
}

TEST(EchoRouter, CollapsesDoubleSlashesBeforeRouting) {
  EXPECT_EQ(kind("//health"), RouteKind::kHealth);
  EXPECT_EQ(kind("/status//200"), RouteKind::kStatus);
  EXPECT_EQ(kind("//a//b"), RouteKind::kEcho);
}

TEST(EchoRouter, RejectsMalformedPercentEscapes) {
  EXPECT_EQ(kind("/a%zz"), RouteKind::kBadRequest);
  EXPECT_EQ(kind("/a%2"), RouteKind::kBadRequest);
  EXPECT_EQ(kind("/a%2f"), RouteKind::kEcho);
}

TEST(EchoRouter, StatusPatternMatchesRawTargetOnly) {
  EXPECT_EQ(match_status_target("/status/200"), 200);
  EXPECT_EQ(match_status_target("/status/599"), 599);
  EXPECT_EQ(match_status_target("/status/099"), 99);
  EXPECT_EQ(match_status_target("/status/20"), -1);
  EXPECT_EQ(match_status_target("/status/2000"), -1);
  EXPECT_EQ(match_status_target("/status/2x0"), -1);
  EXPECT_EQ(match_status_target("/status/200?a=b"), -1);
  EXPECT_EQ(match_status_target("/status/200/"), -1);
  std::string scratch;
  EXPECT_EQ(route("/status//200", scratch).status_code, -1);  // routed to /status/, but the raw target fails
  EXPECT_EQ(route("/status/404", scratch).status_code, 404);
}

TEST(EchoRouter, CleanPathFollowsServeMux) {
  EXPECT_EQ(clean_path(""), "/");
  EXPECT_EQ(clean_path("a/b"), "/a/b");
  EXPECT_EQ(clean_path("/a//b/"), "/a/b/");
  EXPECT_EQ(clean_path("/a/b/./"), "/a/b/");
  EXPECT_EQ(clean_path("/../../x"), "/x");
  EXPECT_EQ(clean_path("/."), "/");
}

TEST(EchoRouter, QueryValueFollowsGoParseQuery) {
  EXPECT_EQ(query_value("a=1&delay=2s&delay=3s", "delay"), "2s");
  EXPECT_EQ(query_value("d%65lay=1s", "delay"), "1s");
  EXPECT_EQ(query_value("delay=a+b%21", "delay"), "a b!");
  EXPECT_EQ(query_value("delay", "delay"), "");
  EXPECT_EQ(query_value("delay=%zz&delay=1s", "delay"), "1s");    // bad pair skipped
  EXPECT_EQ(query_value("delay=1s;x=2", "delay"), std::nullopt);  // Go refuses pairs with ';'
  EXPECT_EQ(query_value("delayx=1", "delay"), std::nullopt);
  EXPECT_EQ(query_value("", "delay"), std::nullopt);
}

TEST(EchoRouter, SplitsTargets) {
  EXPECT_EQ(target_path("/a?b"), "/a");
  EXPECT_EQ(target_query("/a?b?c"), "b?c");
  EXPECT_EQ(target_query("/a"), "");
  EXPECT_EQ(target_path("http://h:1/x?y"), "/x");
  EXPECT_EQ(target_path("http://h?y"), "");
}

}  // namespace
}  // namespace mg::echo
