// The path index (route/path_index.h) must change how fast Listener::find is, never what it returns:
// every lookup here is compared with Listener::find_linear, the scan of every match in precedence order
// that find() was before the index, on random tables through the loader and translator, on match lists
// in arbitrary order, and on named precedence corner cases. Tables are large enough for find() to use
// the index (it scans lists of at most MatchList::kScanAtMost matches).

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using detail::CompiledMatch;
using detail::PathKind;

// "rule N via prefix P" of a result, to compare and to print.
std::string describe(const Listener& l, const MatchResult& r) {
  if (r.rule == nullptr) return "404";
  return r.rule->route + "#" + std::to_string(r.rule->rule_index) + " [rules[" +
         std::to_string(r.rule - l.rules.data()) + "]] prefix \"" + std::string(r.matched_prefix) + "\"";
}

// Same rule, reached through the same match (the prefix view points into that match).
bool same(const MatchResult& a, const MatchResult& b) {
  return a.rule == b.rule && a.matched_prefix.data() == b.matched_prefix.data() &&
         a.matched_prefix.size() == b.matched_prefix.size();
}

void expect_agrees(const Listener& l, const MatchInput& in) {
  const MatchResult indexed = l.find(in);
  const MatchResult linear = l.find_linear(in);
  EXPECT_TRUE(same(indexed, linear)) << in.method << " " << in.host << " \"" << in.target << "\": indexed "
                                     << describe(l, indexed) << ", linear " << describe(l, linear);
}

// Request paths (and route paths) are drawn from few segments, so that they meet often.
const std::array<std::string_view, 8> kSegments{"a", "b", "ab", "api", "v1", "", "x%2Fy", "A"};

std::string random_path(std::mt19937& rng, int max_segments) {
  std::string p;
  const int n = std::uniform_int_distribution<int>(0, max_segments)(rng);
  for (int i = 0; i < n; ++i) p += "/" + std::string(kSegments[rng() % kSegments.size()]);
  if (p.empty() || rng() % 4 == 0) p += "/";
  return p;
}

const std::array<std::string_view, 7> kRegexes{"/a/.*",    "/[ab]+",     "/a/[0-9]+", ".*",
                                               "/b(/.*)?", "/api/v1/.+", "/a//b"};

// Paths worth asking of every table, besides the random ones.
const std::vector<std::string> kEdgePaths{"/",
                                          "",
                                          "/a",
                                          "/a/",
                                          "/ab",
                                          "/a//b",
                                          "/a/b?x",
                                          "/a/b?q=1&x=2",
                                          "/a%2Fb",
                                          "/x%2Fy/a",
                                          "/A",
                                          "//",
                                          "/a/b/",
                                          "*",
                                          "a",
                                          "/a#frag",
                                          "http://a.example.com/a/b?q=1",
                                          "http://a.example.com",
                                          "/api/v1",
                                          "/api/v1/",
                                          "/api/v1/a/b/c",
                                          "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v",
                                          "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a",
                                          "/b",
                                          "/b/",
                                          "/b/a",
                                          "/ba",
                                          "/a/1",
                                          "/a/12x"};

const std::array<std::string_view, 4> kMethods{"GET", "POST", "PUT", "DELETE"};

struct RandomRequests {
  std::vector<std::string> targets;
  std::vector<std::vector<HeaderView>> header_sets{
      {}, {{"x-a", "1"}}, {{"X-A", "2"}, {"x-b", "1"}}, {{"x-b", "12"}, {"x-a", "1"}}};
  std::array<std::string_view, 6> hosts{"a.example.com",      "b.example.com", "x.example.com",
                                        "A.EXAMPLE.COM:8080", "c.other",       ""};

  RandomRequests(std::mt19937& rng, int count) {
    targets = kEdgePaths;
    for (int i = 0; i < count; ++i) {
      std::string t = random_path(rng, 5);
      switch (rng() % 4) {
        case 0:
          t += "?q=1";
          break;
        case 1:
          t += "?x=2&q=" + std::to_string(rng() % 3);
          break;
        default:
          break;
      }
      targets.push_back(std::move(t));
    }
  }

  void check(const Listener& l, std::mt19937& rng) const {
    for (const std::string& t : targets) {
      for (int k = 0; k < 4; ++k) {
        const MatchInput in{kMethods[rng() % kMethods.size()], hosts[rng() % hosts.size()], t,
                            header_sets[rng() % header_sets.size()]};
        expect_agrees(l, in);
      }
    }
  }
};

// ---- random tables through the loader and translator ----

const std::string kGateway = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
)";

std::string yaml_quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string random_match(std::mt19937& rng) {
  std::string m = "{path: {type: ";
  switch (rng() % 8) {
    case 0:
    case 1:
      m += "Exact, value: " + yaml_quoted(random_path(rng, 3));
      break;
    case 2:
      m += "RegularExpression, value: " + yaml_quoted(kRegexes[rng() % kRegexes.size()]);
      break;
    default:
      m += "PathPrefix, value: " + yaml_quoted(rng() % 6 == 0 ? "/" : random_path(rng, 3));
      break;
  }
  m += "}";
  if (rng() % 4 == 0) m += ", method: " + std::string(kMethods[rng() % 2]);
  switch (rng() % 6) {
    case 0:
      m += ", headers: [{name: x-a, value: \"1\"}]";
      break;
    case 1:
      m += ", headers: [{name: X-B, type: RegularExpression, value: \"1[0-9]*\"}, {name: x-a, value: \"1\"}]";
      break;
    default:
      break;
  }
  if (rng() % 6 == 0) m += ", queryParams: [{name: q, value: \"" + std::to_string(rng() % 2) + "\"}]";
  return m + "}";
}

std::string random_routes(std::mt19937& rng, int routes) {
  const std::array<std::string_view, 5> hostnames{"", "[a.example.com]", "[\"*.example.com\"]",
                                                  "[a.example.com, b.example.com]", "[b.example.com]"};
  const std::array<std::string_view, 4> created{"", "2020-01-01T00:00:00Z", "2021-06-01T00:00:00Z",
                                                "2022-01-01T00:00:00Z"};
  std::string y;
  for (int r = 0; r < routes; ++r) {
    const std::string_view c = created[rng() % created.size()];
    y += "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r" +
         std::to_string(r) + ", namespace: " + (rng() % 2 ? "ns" : "other") +
         (c.empty() ? "" : ", creationTimestamp: \"" + std::string(c) + "\"") +
         "}\nspec:\n  parentRefs: [{name: gw, namespace: ns}]\n";
    if (const std::string_view h = hostnames[rng() % hostnames.size()]; !h.empty())
      y += "  hostnames: " + std::string(h) + "\n";
    y += "  rules:\n";
    const int rules = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < rules; ++k) {
      y += "  - matches: [";
      const int matches = 1 + static_cast<int>(rng() % 3);
      for (int m = 0; m < matches; ++m) y += (m ? ", " : "") + random_match(rng);
      y += "]\n";
    }
  }
  return y;
}

TEST(RouteMatchIndex, AgreesWithLinearScanOnRandomTables) {
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const int routes = seed <= 4 ? 3 : 10 + static_cast<int>(rng() % 60);
    const auto table = translate(config::load_string(kGateway + random_routes(rng, routes), "random.yaml"));
    ASSERT_EQ(table->listeners.size(), 1u);
    const Listener& l = table->listeners[0];
    RandomRequests(rng, 300).check(l, rng);
    if (HasFailure()) return;  // one seed's failures are enough to read
  }
}

// ---- match lists in any order, built by hand ----
//
// The index does not rely on the translator's order: it keeps positions, whatever they hold. Here lists
// are in random order, with prefixes the loader would refuse ("a", "/a//"), and matches that never match.

CompiledMatch random_compiled(std::mt19937& rng, uint32_t rule) {
  CompiledMatch m;
  m.rule = rule;
  switch (rng() % 9) {
    case 0:
    case 1:
      m.path_kind = PathKind::kExact;
      m.path = rng() % 8 == 0 ? std::string("") : random_path(rng, 3);
      break;
    case 2:
      m.path_kind = PathKind::kRegex;
      m.path = kRegexes[rng() % kRegexes.size()];
      m.path_regex = std::make_shared<const re2::RE2>(m.path);
      break;
    case 3:
      m.path_kind = PathKind::kNever;
      break;
    default:
      m.path_kind = PathKind::kPrefix;
      m.path = rng() % 8 == 0 ? std::string("a") : random_path(rng, 3);
      while (!m.path.empty() && m.path.back() == '/') m.path.pop_back();  // as the translator stores it
      if (rng() % 6 == 0) m.path = rng() % 2 ? "/a/" + m.path : "/a//" + m.path;
      while (!m.path.empty() && m.path.back() == '/') m.path.pop_back();
      break;
  }
  if (rng() % 4 == 0) m.method = kMethods[rng() % 2];
  if (rng() % 5 == 0) m.headers.push_back({"x-a", "1", nullptr});
  if (rng() % 7 == 0) m.query_params.push_back({"q", std::to_string(rng() % 2), nullptr});
  return m;
}

Listener hand_built(std::mt19937& rng, int matches) {
  Listener l;
  l.rules.resize(static_cast<size_t>(matches));
  for (size_t i = 0; i < l.rules.size(); ++i) l.rules[i].route = "ns/m" + std::to_string(i);
  detail::VirtualHost vh;  // the catch-all host: every request gets here
  for (int i = 0; i < matches; ++i) vh.matches.push_back(random_compiled(rng, static_cast<uint32_t>(i)));
  detail::HostGroup g;
  g.vhosts.push_back(std::move(vh));
  l.host_groups.push_back(std::move(g));
  return l;
}

TEST(RouteMatchIndex, AgreesWithLinearScanInAnyOrder) {
  for (uint32_t seed = 100; seed < 140; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const Listener l = hand_built(rng, seed % 10 == 0 ? 2000 : 5 + static_cast<int>(rng() % 200));
    RandomRequests(rng, 200).check(l, rng);
    if (HasFailure()) return;
  }
}

// ---- named corner cases ----

// With a route of Exact paths no request here asks for, so that the virtual host has more matches than
// find() scans (MatchList::kScanAtMost) and the index answers.
std::shared_ptr<const RouteTable> build(const std::string& routes) {
  std::string filler =
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: filler, namespace: "
      "ns}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: [";
  for (size_t i = 0; i <= detail::MatchList::kScanAtMost; ++i)
    filler +=
        (i ? ", " : "") + std::string("{path: {type: Exact, value: /filler-") + std::to_string(i) + "}}";
  auto t = translate(config::load_string(kGateway + filler + "]\n" + routes, "test.yaml"));
  for (const auto& g : t->listeners.at(0).host_groups)
    for (const auto& vh : g.vhosts) EXPECT_GT(vh.matches.size(), detail::MatchList::kScanAtMost);
  return t;
}

std::string route(const std::string& name, const std::string& rules, const std::string& extra = "") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: ns" + extra + "}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n" + rules;
}

// "route#rule" of the winner, after checking that the scan agrees.
std::string hit(const RouteTable& t, std::string_view target, std::string_view method = "GET",
                std::span<const HeaderView> headers = {}) {
  const Listener& l = t.listeners.at(0);
  const MatchInput in{method, "example.com", target, headers};
  expect_agrees(l, in);
  const MatchResult r = l.find(in);
  return r.rule == nullptr ? "404" : r.rule->route + "#" + std::to_string(r.rule->rule_index);
}

TEST(RouteMatchIndex, RegexRankedBeforeAPrefixWinsWhenItMatches) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /api}}]
  - matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+/.*"}}]
  - matches: [{path: {type: RegularExpression, value: "/.*"}}]
)"));
  EXPECT_EQ(hit(*t, "/api/v2/users"), "ns/r#1");  // 15 characters of regex outrank the 4 of "/api"
  EXPECT_EQ(hit(*t, "/api/users"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/api"), "ns/r#0");   // "/.*" matches too, but ranks after "/api" (4 > 3)
  EXPECT_EQ(hit(*t, "/apix"), "ns/r#2");  // not on a boundary of "/api": only the regex
}

TEST(RouteMatchIndex, ExactBeatsALongerPrefixOfTheSamePath) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /a/b/c/d}}]
  - matches: [{path: {type: Exact, value: /a/b/c/d}}]
  - matches: [{path: {type: Exact, value: /a/b/c/d/}}]
)"));
  EXPECT_EQ(hit(*t, "/a/b/c/d"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/a/b/c/d/"), "ns/r#2");
  EXPECT_EQ(hit(*t, "/a/b/c/d/e"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/a/b/c/d?x=1"), "ns/r#1");
}

TEST(RouteMatchIndex, LongerPrefixWithFailingConditionsFallsBackToShorter) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /}}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
  - matches: [{path: {type: PathPrefix, value: /api/v1}, headers: [{name: x-a, value: "1"}]}]
  - matches: [{path: {type: PathPrefix, value: /api/v1}, queryParams: [{name: q, value: "1"}]}]
)"));
  const HeaderView a[] = {{"X-A", "1"}};
  EXPECT_EQ(hit(*t, "/api/v1/x", "GET", a), "ns/r#2");
  EXPECT_EQ(hit(*t, "/api/v1/x?q=1"), "ns/r#3");
  EXPECT_EQ(hit(*t, "/api/v1/x", "POST"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/api/v1/x"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/api/v1x", "GET", a), "ns/r#0");
}

TEST(RouteMatchIndex, MoreConditionsOnTheSamePrefixWinFirst) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /v1}}]
  - matches: [{path: {type: PathPrefix, value: /v1}, method: GET}]
  - matches: [{path: {type: PathPrefix, value: /v1}, method: GET, headers: [{name: x-a, value: "1"}]}]
)"));
  const HeaderView a[] = {{"x-a", "1"}};
  EXPECT_EQ(hit(*t, "/v1", "GET", a), "ns/r#2");
  EXPECT_EQ(hit(*t, "/v1/z", "GET"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/v1/z", "PUT", a), "ns/r#0");
}

TEST(RouteMatchIndex, TrailingSlashPrefixesMatchAsTheyDidAndKeepTheirRank) {
  // "/foo/" and "/foo" both match "/foo", "/foo/" and "/foo/x"; the longer value ranks first.
  auto t = build(route("a", "  - matches: [{path: {type: PathPrefix, value: /foo}}]\n") +
                 route("b", "  - matches: [{path: {type: PathPrefix, value: /foo/}}]\n"));
  EXPECT_EQ(hit(*t, "/foo"), "ns/b#0");
  EXPECT_EQ(hit(*t, "/foo/"), "ns/b#0");
  EXPECT_EQ(hit(*t, "/foo/x"), "ns/b#0");
  EXPECT_EQ(hit(*t, "/foox"), "404");
  EXPECT_EQ(t->listeners[0].find({"GET", "example.com", "/foo/x"}).matched_prefix, "/foo");
}

TEST(RouteMatchIndex, TrailingSlashesCountInTheRankNotInTheMatch) {
  // "/a///" matches as "/a" but ranks by its 5 characters, before "/a/b" (4): the longest prefix the
  // lookup finds first is not the winner here.
  auto t = build(route("short", "  - matches: [{path: {type: PathPrefix, value: /a///}}]\n") +
                 route("long", "  - matches: [{path: {type: PathPrefix, value: /a/b}}]\n"));
  EXPECT_EQ(hit(*t, "/a/b/c"), "ns/short#0");
  EXPECT_EQ(hit(*t, "/a/c"), "ns/short#0");
}

TEST(RouteMatchIndex, SlashPrefixMatchesEveryPath) {
  auto t = build(route("r", "  - matches: [{path: {type: PathPrefix, value: /}}]\n"));
  EXPECT_EQ(hit(*t, "/"), "ns/r#0");
  EXPECT_EQ(hit(*t, "//"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/x/y"), "ns/r#0");
  EXPECT_EQ(hit(*t, "http://example.com"), "ns/r#0");  // absolute-form without a path is "/"
  EXPECT_EQ(hit(*t, "*"), "ns/r#0");                   // so is any target not starting with '/'
}

TEST(RouteMatchIndex, EmptySegmentsAreElementsToo) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /a}}]
  - matches: [{path: {type: PathPrefix, value: "/a//b"}}]
  - matches: [{path: {type: Exact, value: "/a//"}}]
)"));
  EXPECT_EQ(hit(*t, "/a//b"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/a//b/c"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/a//"), "ns/r#2");
  EXPECT_EQ(hit(*t, "/a/b"), "ns/r#0");
  EXPECT_EQ(hit(*t, "/a//bc"), "ns/r#0");
}

TEST(RouteMatchIndex, PercentEncodingIsComparedAsWritten) {
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /a}}]
  - matches: [{path: {type: PathPrefix, value: "/a%2Fb"}}]
)"));
  EXPECT_EQ(hit(*t, "/a%2Fb/c"), "ns/r#1");
  EXPECT_EQ(hit(*t, "/a%2fb"), "404");  // not "/a", not "/a%2Fb": no decoding, as before the index
  EXPECT_EQ(hit(*t, "/a/b"), "ns/r#0");
}

TEST(RouteMatchIndex, EqualMatchesStillGoToTheOldestRoute) {
  const std::string rules = "  - matches: [{path: {type: PathPrefix, value: /x}}]\n";
  auto t = build(route("aaa", rules, ", creationTimestamp: \"2024-01-01T00:00:00Z\"") +
                 route("zzz", rules, ", creationTimestamp: \"2020-01-01T00:00:00Z\"") + route("mmm", rules));
  EXPECT_EQ(hit(*t, "/x/1"), "ns/mmm#0");  // no timestamp (a file) counts as oldest
}

TEST(RouteMatchIndex, DeepPrefixTreesBeyondTheLookupBuffer) {
  // 40 nested prefixes, each but the shortest asking for a header: more than the 16 lists the lookup
  // orders longest first, so the rest are visited as found, with the same answer.
  std::string routes;
  std::string p;
  for (int i = 0; i < 40; ++i) {
    p += "/a";
    routes += route(
        "d" + std::to_string(i),
        "  - matches: [{path: {type: PathPrefix, value: " + p + "}" +
            (i == 0 ? std::string() : ", headers: [{name: x-d" + std::to_string(i) + ", value: \"1\"}]") +
            "}]\n");
  }
  auto t = build(routes);
  std::string deep;
  for (int i = 0; i < 45; ++i) deep += "/a";
  EXPECT_EQ(hit(*t, deep), "ns/d0#0");
  const HeaderView d3[] = {{"x-d3", "1"}};
  EXPECT_EQ(hit(*t, deep, "GET", d3), "ns/d3#0");
  const HeaderView d3_d30[] = {{"x-d3", "1"}, {"x-d30", "1"}};
  EXPECT_EQ(hit(*t, deep, "GET", d3_d30), "ns/d30#0");
  const HeaderView d39[] = {{"x-d39", "1"}};
  EXPECT_EQ(hit(*t, deep, "GET", d39), "ns/d39#0");
  EXPECT_EQ(hit(*t, deep.substr(0, 20), "GET", d39), "ns/d0#0");
}

TEST(RouteMatchIndex, MatchesThatCanNeverMatchStayOut) {
  // An invalid regular expression disables its match (a warning says so), in a header or in the path.
  auto t = build(route("r", R"(  - matches: [{path: {type: PathPrefix, value: /a},
                headers: [{name: x, type: RegularExpression, value: "("}]}]
  - matches: [{path: {type: RegularExpression, value: "("}}]
  - matches: [{path: {type: PathPrefix, value: /}}]
)"));
  const HeaderView x[] = {{"x", "("}};
  EXPECT_EQ(hit(*t, "/a", "GET", x), "ns/r#2");
  EXPECT_EQ(hit(*t, "/("), "ns/r#2");
  // The route's status names each disabled match (Accepted=False/UnsupportedValue), not only the log.
  const auto problems = t->route_problems.find("ns/r");
  ASSERT_NE(problems, t->route_problems.end());
  ASSERT_EQ(problems->second.size(), 2u);
  EXPECT_TRUE(problems->second[0].starts_with(
      "spec.rules[0].matches[0].headers[0].value: invalid regular expression \"(\" (missing )"))
      << problems->second[0];
  EXPECT_TRUE(problems->second[1].starts_with("spec.rules[1].matches[0].path.value: invalid regular expression"))
      << problems->second[1];
}

TEST(RouteMatchIndex, ThousandsOfPrefixesOnOneHost) {
  std::string routes;
  for (int i = 0; i < 3000; ++i)
    routes += route("p" + std::to_string(i),
                    "  - matches: [{path: {type: PathPrefix, value: /svc-" + std::to_string(i) + "}}]\n");
  routes += route("health", "  - matches: [{path: {type: Exact, value: /svc-77/health}}]\n");
  auto t = build(routes);
  EXPECT_EQ(hit(*t, "/svc-2999/x"), "ns/p2999#0");
  EXPECT_EQ(hit(*t, "/svc-0"), "ns/p0#0");
  EXPECT_EQ(hit(*t, "/svc-77/health"), "ns/health#0");
  EXPECT_EQ(hit(*t, "/svc-77/health/"), "ns/p77#0");
  EXPECT_EQ(hit(*t, "/svc-3000"), "404");
}

}  // namespace
}  // namespace mg::route
