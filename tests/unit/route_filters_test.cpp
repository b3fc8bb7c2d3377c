// HTTPRoute filters, timeouts, retry and rule names as the translator precompiles them into the
// RouteTable, the combinations the spec calls invalid (rule not programmed: 500), and the matched
// prefix Listener::find() reports for ReplacePrefixMatch.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "config/loader.h"
#include "route/route_table.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using namespace std::chrono_literals;

// A managed class, Gateway ns/gw with one HTTP listener on port 80, Services s1 and s2 (port 80) with
// one ready endpoint each.
const std::string kBase = R"(
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
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: s1, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: s2, namespace: ns}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s1-a, namespace: ns, labels: {kubernetes.io/service-name: s1}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s2-a, namespace: ns, labels: {kubernetes.io/service-name: s2}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints: [{addresses: [10.0.0.2]}]
)";

config::ObjectSet load_route(const std::string& spec) {
  return config::load_string(kBase +
                                 "\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
                                 "metadata: {name: r, namespace: ns}\nspec:\n"
                                 "  parentRefs: [{name: gw}]\n" +
                                 spec,
                             "test.yaml");
}

std::shared_ptr<const RouteTable> build(const std::string& spec) {
  return translate(load_route(spec));
}

const Rule& rule_at(const RouteTable& t, size_t index) {
  const auto& rules = t.listeners.at(0).rules;
  const auto it =
      std::find_if(rules.begin(), rules.end(), [&](const Rule& r) { return r.rule_index == index; });
  if (it == rules.end()) throw std::runtime_error("no rule " + std::to_string(index));
  return *it;
}

bool has_warning(const RouteTable& t, std::string_view part) {
  return std::any_of(t.warnings.begin(), t.warnings.end(),
                     [&](const std::string& w) { return w.find(part) != std::string::npos; });
}

std::vector<std::string> problems(const RouteTable& t, const std::string& route = "ns/r") {
  const auto it = t.route_problems.find(route);
  return it == t.route_problems.end() ? std::vector<std::string>{} : it->second;
}

// The rule is in the table but answers 500: no backends, no weight, nothing else applied.
void expect_not_programmed(const Rule& r) {
  EXPECT_TRUE(r.backends.empty());
  EXPECT_EQ(r.total_weight, 0u);
  EXPECT_TRUE(r.mirrors.empty());
  EXPECT_FALSE(r.filters.redirect.has_value());
  EXPECT_FALSE(r.filters.rewrite.has_value());
  EXPECT_TRUE(r.filters.request_headers.empty());
}

TEST(RouteFilters, HeaderModifiersKeepSpellingAndLowercaseRemove) {
  auto t = build(R"(  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: "1"}]
        add: [{name: X-Add, value: "2"}, {name: X-Other, value: "3"}]
        remove: [X-Gone]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: Cache-Control, value: no-store}], remove: [Server]}
    backendRefs: [{name: s1, port: 80}]
)");
  const Rule& r = rule_at(*t, 0);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.filters.request_headers.set, (Pairs{{"X-Set", "1"}}));
  EXPECT_EQ(r.filters.request_headers.add, (Pairs{{"X-Add", "2"}, {"X-Other", "3"}}));
  EXPECT_EQ(r.filters.request_headers.remove, std::vector<std::string>{"x-gone"});
  EXPECT_EQ(r.filters.response_headers.set, (Pairs{{"Cache-Control", "no-store"}}));
  EXPECT_EQ(r.filters.response_headers.remove, std::vector<std::string>{"server"});
  EXPECT_FALSE(r.filters.redirect || r.filters.rewrite || r.filters.cors);
  EXPECT_EQ(r.backends.size(), 1u);
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, RequestRedirectDefaults) {
  auto t = build(R"(  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {}}]
)");
  const Rule& r = rule_at(*t, 0);
  ASSERT_TRUE(r.filters.redirect.has_value());
  EXPECT_EQ(r.filters.redirect->scheme, "");
  EXPECT_EQ(r.filters.redirect->hostname, "");
  EXPECT_EQ(r.filters.redirect->port, 0);
  EXPECT_EQ(r.filters.redirect->path.kind, PathModifierKind::kNone);
  EXPECT_EQ(r.filters.redirect->status_code, 302);
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, RequestRedirectAllFields) {
  auto t = build(R"(  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: https
        hostname: example.org
        port: 8443
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
        statusCode: 301
  - matches: [{path: {type: Exact, value: /x}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /y}}
)");
  const RequestRedirect& a = *rule_at(*t, 0).filters.redirect;
  EXPECT_EQ(a.scheme, "https");
  EXPECT_EQ(a.hostname, "example.org");
  EXPECT_EQ(a.port, 8443);
  EXPECT_EQ(a.path.kind, PathModifierKind::kReplacePrefixMatch);
  EXPECT_EQ(a.path.value, "/new");
  EXPECT_EQ(a.status_code, 301);
  const RequestRedirect& b = *rule_at(*t, 1).filters.redirect;
  EXPECT_EQ(b.path.kind, PathModifierKind::kReplaceFullPath);
  EXPECT_EQ(b.path.value, "/y");
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, UrlRewriteHostnameAndPath) {
  auto t = build(R"(  rules:
  - matches: [{path: {value: /api/}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: Exact, value: /only-host}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: h.example}}]
    backendRefs: [{name: s1, port: 80}]
)");
  const UrlRewrite& a = *rule_at(*t, 0).filters.rewrite;
  EXPECT_EQ(a.hostname, "internal.example");
  EXPECT_EQ(a.path.kind, PathModifierKind::kReplacePrefixMatch);
  EXPECT_EQ(a.path.value, "/");
  const UrlRewrite& b = *rule_at(*t, 1).filters.rewrite;
  EXPECT_EQ(b.hostname, "h.example");
  EXPECT_EQ(b.path.kind, PathModifierKind::kNone);
  EXPECT_EQ(rule_at(*t, 0).backends.size(), 1u);
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, CorsDefaultsAndValues) {
  auto t = build(R"(  rules:
  - matches: [{path: {value: /a}}]
    filters: [{type: CORS, cors: {allowOrigins: ["https://*.example.com"]}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {value: /b}}]
    filters:
    - type: CORS
      cors:
        allowOrigins: ["*"]
        allowMethods: [GET, PUT]
        allowHeaders: [X-Req]
        exposeHeaders: [X-Resp]
        allowCredentials: true
        maxAge: 600
    backendRefs: [{name: s1, port: 80}]
)");
  const Cors& a = *rule_at(*t, 0).filters.cors;
  EXPECT_EQ(a.allow_origins, std::vector<std::string>{"https://*.example.com"});
  EXPECT_TRUE(a.allow_methods.empty());
  EXPECT_FALSE(a.allow_credentials);
  EXPECT_EQ(a.max_age_seconds, 5);
  const Cors& b = *rule_at(*t, 1).filters.cors;
  EXPECT_EQ(b.allow_origins, std::vector<std::string>{"*"});
  EXPECT_EQ(b.allow_methods, (std::vector<std::string>{"GET", "PUT"}));
  EXPECT_EQ(b.allow_headers, std::vector<std::string>{"X-Req"});
  EXPECT_EQ(b.expose_headers, std::vector<std::string>{"X-Resp"});
  EXPECT_TRUE(b.allow_credentials);
  EXPECT_EQ(b.max_age_seconds, 600);
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, RuleNameTimeoutsAndRetry) {
  auto t = build(R"(  rules:
  - name: main
    backendRefs: [{name: s1, port: 80}]
    timeouts: {request: 1m30s, backendRequest: 500ms}
    retry: {attempts: 3, codes: [502, 503], backoff: 100ms}
  - matches: [{path: {value: /b}}]
    timeouts: {request: 0s}
    retry: {codes: [500]}
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {value: /c}}]
    retry: {attempts: 0}
    backendRefs: [{name: s1, port: 80}]
)");
  const Rule& a = rule_at(*t, 0);
  EXPECT_EQ(a.name, "main");
  EXPECT_EQ(a.timeouts.request, 90s);
  EXPECT_EQ(a.timeouts.backend_request, 500ms);
  EXPECT_EQ(a.retry.attempts, 3u);
  EXPECT_EQ(a.retry.codes, (std::vector<int>{502, 503}));
  EXPECT_EQ(a.retry.backoff, 100ms);
  const Rule& b = rule_at(*t, 1);
  EXPECT_EQ(b.name, "");
  EXPECT_EQ(b.timeouts.request, 0ms);  // "0s": no timeout
  EXPECT_EQ(b.timeouts.backend_request, 0ms);
  EXPECT_EQ(b.retry.attempts, 1u);  // left out: one retry
  EXPECT_EQ(b.retry.codes, std::vector<int>{500});
  EXPECT_EQ(b.retry.backoff, 0ms);
  EXPECT_EQ(rule_at(*t, 2).retry.attempts, 0u);  // explicit 0 disables retries
  EXPECT_TRUE(t->route_problems.empty());
}

TEST(RouteFilters, NoFiltersNoRetryNoTimeoutsByDefault) {
  auto t = build("  rules: [{backendRefs: [{name: s1, port: 80}]}]\n");
  const Rule& r = rule_at(*t, 0);
  EXPECT_TRUE(r.filters.request_headers.empty());
  EXPECT_TRUE(r.filters.response_headers.empty());
  EXPECT_FALSE(r.filters.redirect || r.filters.rewrite || r.filters.cors);
  EXPECT_EQ(r.retry.attempts, 0u);
  EXPECT_EQ(r.timeouts.request, 0ms);
  EXPECT_TRUE(r.name.empty());
}

TEST(RouteFilters, BackendRefFiltersLandOnTheBackendChoice) {
  auto t = build(R"(  rules:
  - filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}, percent: 10}}
    backendRefs:
    - name: s1
      port: 80
      filters:
      - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-Backend, value: s1}]}}
      - {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [X-Internal]}}
      - {type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}, fraction: {numerator: 1, denominator: 3}}}
      - {type: RequestMirror, requestMirror: {backendRef: {name: nope, port: 80}}}
    - name: s2
      port: 80
      filters: [{type: URLRewrite, urlRewrite: {hostname: s2.internal}}]
)");
  const Rule& r = rule_at(*t, 0);
  EXPECT_TRUE(r.filters.request_headers.empty());
  ASSERT_EQ(r.mirrors.size(), 1u);
  EXPECT_EQ(r.mirrors[0].name, "ns/s2:80");
  EXPECT_EQ(r.mirrors[0].numerator, 10u);
  ASSERT_EQ(r.backends.size(), 2u);
  const BackendChoice& s1 = r.backends[0];
  EXPECT_EQ(s1.filters.request_headers.add,
            (std::vector<std::pair<std::string, std::string>>{{"X-Backend", "s1"}}));
  EXPECT_EQ(s1.filters.response_headers.remove, std::vector<std::string>{"x-internal"});
  ASSERT_EQ(s1.mirrors.size(), 2u);
  EXPECT_EQ(s1.mirrors[0].name, "ns/s2:80");
  EXPECT_GE(s1.mirrors[0].cluster, 0);
  EXPECT_EQ(s1.mirrors[0].numerator, 1u);
  EXPECT_EQ(s1.mirrors[0].denominator, 3u);
  EXPECT_EQ(s1.mirrors[1].cluster, -1);  // resolved like a rule mirror: missing Service -> copies fail
  EXPECT_EQ(s1.mirrors[1].numerator, 100u);
  EXPECT_TRUE(has_warning(*t, "mirror backendRef Service ns/nope not found"));
  const BackendChoice& s2 = r.backends[1];
  ASSERT_TRUE(s2.filters.rewrite.has_value());
  EXPECT_EQ(s2.filters.rewrite->hostname, "s2.internal");
  EXPECT_TRUE(s2.mirrors.empty());
  EXPECT_EQ(r.total_weight, 2u);
  EXPECT_TRUE(t->route_problems.empty());
}

// The loader already refuses these two (as the API server would); an ObjectSet built otherwise must
// not get them programmed either.
TEST(RouteFilters, RedirectWithRewriteIsNotProgrammed) {
  config::ObjectSet set = load_route(R"(  rules:
  - matches: [{path: {value: /bad}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: a.example}}]
  - matches: [{path: {value: /good}}]
    backendRefs: [{name: s1, port: 80}]
)");
  config::HTTPRouteFilter rewrite;
  rewrite.type = "URLRewrite";
  rewrite.url_rewrite = config::HTTPURLRewriteFilter{};
  set.http_routes[0].rules[0].filters.push_back(rewrite);
  auto t = translate(set);
  const Rule& bad = rule_at(*t, 0);
  expect_not_programmed(bad);
  EXPECT_EQ(t->listeners[0].match({"GET", "example.com", "/bad/x"}), &bad);  // still matched: 500
  EXPECT_TRUE(has_warning(
      *t,
      "HTTPRoute ns/r rule 0: spec.rules[0].filters: RequestRedirect and URLRewrite cannot both be set; "
      "rule not programmed, requests get 500"));
  EXPECT_EQ(problems(*t), std::vector<std::string>{
                              "spec.rules[0].filters: RequestRedirect and URLRewrite cannot both be set"});
  EXPECT_EQ(rule_at(*t, 1).backends.size(), 1u);  // the route's other rules are unaffected
}

TEST(RouteFilters, RepeatedFilterIsNotProgrammedButMirrorsMayRepeat) {
  config::ObjectSet set = load_route(R"(  rules:
  - filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: A, value: "1"}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: s2, port: 80}, percent: 5}}
    backendRefs: [{name: s1, port: 80}]
)");
  {
    auto ok = translate(set);
    EXPECT_EQ(rule_at(*ok, 0).mirrors.size(), 2u);
    EXPECT_TRUE(ok->route_problems.empty());
  }
  set.http_routes[0].rules[0].filters.push_back(set.http_routes[0].rules[0].filters[0]);
  auto t = translate(set);
  expect_not_programmed(rule_at(*t, 0));
  EXPECT_EQ(problems(*t),
            std::vector<std::string>{
                "spec.rules[0].filters[3].type: RequestHeaderModifier may appear at most once"});
}

TEST(RouteFilters, ReplacePrefixMatchNeedsExactlyOnePathPrefixMatch) {
  auto t = build(R"(  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {value: /one}}, {path: {value: /two}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
  - matches: [{path: {type: Exact, value: /backend}}]
    backendRefs:
    - name: s1
      port: 80
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
  - matches: [{path: {type: Exact, value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /x}}}]
    backendRefs: [{name: s1, port: 80}]
)");
  expect_not_programmed(rule_at(*t, 0));
  expect_not_programmed(rule_at(*t, 1));
  expect_not_programmed(rule_at(*t, 2));
  EXPECT_EQ(rule_at(*t, 3).backends.size(), 1u);  // ReplaceFullPath is fine with any match
  const auto p = problems(*t);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0],
            "spec.rules[0].filters[0].urlRewrite.path: ReplacePrefixMatch needs the rule to have exactly one "
            "match, of type PathPrefix");
  EXPECT_EQ(p[1].rfind("spec.rules[1].filters[0].requestRedirect.path: ReplacePrefixMatch", 0), 0u);
  EXPECT_EQ(p[2].rfind("spec.rules[2].backendRefs[0].filters[0].urlRewrite.path: ReplacePrefixMatch", 0), 0u);
  EXPECT_TRUE(has_warning(*t, "HTTPRoute ns/r rule 2: spec.rules[2].backendRefs[0].filters[0]"));
}

TEST(RouteFilters, RedirectWithBackendRefsIsNotProgrammed) {
  auto t = build(R"(  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
    backendRefs: [{name: s1, port: 80}]
)");
  expect_not_programmed(rule_at(*t, 0));
  EXPECT_EQ(problems(*t),
            std::vector<std::string>{
                "spec.rules[0].filters: RequestRedirect cannot be used together with backendRefs"});
}

TEST(RouteFilters, BackendRequestTimeoutLongerThanRequestIsNotProgrammed) {
  auto t = build(R"(  rules:
  - matches: [{path: {value: /bad}}]
    timeouts: {request: 1s, backendRequest: 2s}
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {value: /unbounded}}]
    timeouts: {request: 0s, backendRequest: 2s}
    backendRefs: [{name: s1, port: 80}]
)");
  expect_not_programmed(rule_at(*t, 0));
  EXPECT_EQ(rule_at(*t, 0).timeouts.request, 0ms);
  const Rule& ok = rule_at(*t, 1);
  EXPECT_EQ(ok.backends.size(), 1u);
  EXPECT_EQ(ok.timeouts.request, 0ms);
  EXPECT_EQ(ok.timeouts.backend_request, 2s);
  EXPECT_EQ(problems(*t),
            std::vector<std::string>{
                "spec.rules[0].timeouts.backendRequest: cannot be longer than the request timeout"});
}

TEST(RouteFilters, ConflictingHeaderActionsAreNotProgrammed) {
  auto t = build(R"(  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-A, value: "1"}], remove: [x-a]}
    backendRefs: [{name: s1, port: 80}]
)");
  expect_not_programmed(rule_at(*t, 0));
  EXPECT_EQ(problems(*t),
            std::vector<std::string>{"spec.rules[0].filters[0].requestHeaderModifier: header x-a "
                                     "has more than one action (set, add, remove)"});
}

TEST(RouteFilters, CorsWildcardAlongsideOthersIsNotProgrammed) {
  auto t = build(R"(  rules:
  - filters: [{type: CORS, cors: {allowOrigins: ["*", "https://a.example"]}}]
    backendRefs: [{name: s1, port: 80}]
)");
  expect_not_programmed(rule_at(*t, 0));
  EXPECT_EQ(problems(*t),
            std::vector<std::string>{
                "spec.rules[0].filters[0].cors.allowOrigins: \"*\" cannot be combined with other "
                "values"});
}

TEST(RouteFilters, UnsupportedFilterIsNeverSkipped) {
  auto t = build(R"(  rules:
  - matches: [{path: {value: /rule}}]
    filters: [{type: ExtensionRef, extensionRef: {group: x.example, kind: Thing, name: t}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {value: /backend}}]
    backendRefs:
    - name: s1
      port: 80
      filters: [{type: ExtensionRef, extensionRef: {group: x.example, kind: Thing, name: t}}]
    - {name: s2, port: 80}
)");
  expect_not_programmed(rule_at(*t, 0));
  // At backendRef level only the requests that filter would process get 500.
  const Rule& r = rule_at(*t, 1);
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends[0].cluster, -1);
  EXPECT_GE(r.backends[1].cluster, 0);
  EXPECT_EQ(r.total_weight, 2u);
  EXPECT_EQ(problems(*t), (std::vector<std::string>{
                              "spec.rules[0].filters[0].type: ExtensionRef filters are not supported",
                              "spec.rules[1].backendRefs[0].filters[0].type: ExtensionRef filters are "
                              "not supported"}));
  EXPECT_TRUE(has_warning(*t, "requests to backend ns/s1:80 get 500"));
}

TEST(RouteFilters, ProblemsAreListedOncePerRouteAcrossListeners) {
  std::string yaml = kBase + R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw2, namespace: ns}
spec:
  gatewayClassName: mg
  listeners: [{name: a, port: 81, protocol: HTTP}, {name: b, port: 82, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}, {name: gw2}]
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {}}]
    backendRefs: [{name: s1, port: 80}]
)";
  auto t = translate(config::load_string(yaml, "test.yaml"));
  EXPECT_EQ(t->listeners.size(), 3u);
  EXPECT_EQ(problems(*t).size(), 1u);
  EXPECT_EQ(std::count_if(t->warnings.begin(), t->warnings.end(),
                          [](const std::string& w) { return w.find("together with backendRefs") != w.npos; }),
            1);
}

TEST(RouteFilters, FindReturnsTheMatchedPrefix) {
  auto t = build(R"(  rules:
  - matches: [{path: {type: PathPrefix, value: /prefix/}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: s1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: s1, port: 80}]
)");
  const Listener& l = t->listeners[0];
  auto find = [&](std::string_view target) { return l.find({"GET", "example.com", target}); };
  MatchResult m = find("/prefix/one");
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->rule_index, 0u);
  EXPECT_EQ(m.matched_prefix, "/prefix");
  EXPECT_EQ(find("/prefix?q=1").matched_prefix, "/prefix");
  EXPECT_EQ(l.match({"GET", "example.com", "/prefix/one"}), m.rule);  // match() is find().rule

  m = find("/exact");
  EXPECT_EQ(m.rule->rule_index, 1u);
  EXPECT_EQ(m.matched_prefix, "");
  m = find("/re/12");
  EXPECT_EQ(m.rule->rule_index, 2u);
  EXPECT_EQ(m.matched_prefix, "");
  m = find("/elsewhere");
  EXPECT_EQ(m.rule->rule_index, 3u);
  EXPECT_EQ(m.matched_prefix, "");  // "/" without its trailing '/'

  EXPECT_EQ(l.find({"GET", "example.com", "/x"}).rule->rule_index, 3u);
  auto none = translate(load_route("  hostnames: [only.example]\n"));
  const MatchResult miss = none->listeners[0].find({"GET", "other.example", "/"});
  EXPECT_EQ(miss.rule, nullptr);
  EXPECT_TRUE(miss.matched_prefix.empty());
}

}  // namespace
}  // namespace mg::route
