#pragma once

// The immutable routing snapshot the data plane reads: which listeners to open, how a request picks a
// rule, and which upstream clusters that rule sends to or mirrors to (their endpoints are in the
// ClusterSet built for the table, cluster_set.h). Built once per configuration by translate()
// (translator.h); workers pin a shared_ptr<const RouteTable> per request, so nothing here is ever mutated
// after construction. Everything match() needs is precompiled so that the hot path allocates nothing.

#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "route/client_traffic_settings.h"
#include "route/header_modifier.h"
#include "route/mirror_settings.h"
#include "route/path_index.h"
#include "route/status_snapshot.h"

namespace re2 {
class RE2;
}
namespace mg::net {
class TlsServerContext;
class UpstreamTlsContext;
}

namespace mg::route {

// One Service port, as routing resolved a backendRef to it. Its endpoints are not here: they change far
// more often than routes and live in the ClusterSet built for this table (cluster_set.h).
// How the gateway speaks to a cluster's endpoints: the Service port's appProtocol (GEP-1911).
enum class UpstreamProtocol : uint8_t { kHttp1, kH2c };

// kubernetes.io/h2c: HTTP/2 with prior knowledge; anything else (kubernetes.io/ws included) HTTP/1.1.
inline UpstreamProtocol upstream_protocol_of(const config::ServicePort& port) {
  return port.app_protocol == "kubernetes.io/h2c" ? UpstreamProtocol::kH2c : UpstreamProtocol::kHttp1;
}

// The access log's upstream_protocol.
inline std::string_view upstream_protocol_name(UpstreamProtocol protocol) {
  return protocol == UpstreamProtocol::kH2c ? "h2c" : "HTTP/1.1";
}

struct Cluster {
  std::string name;  // "namespace/service:port", used as metrics label
  // "service.namespace.svc:port": the Host sent to the backend when the client's request named none
  // (HTTP/1.0 allows that; an HTTP/1.1 request must carry one).
  std::string authority;
  std::string service_namespace;
  std::string service;
  config::ServicePort port;  // its name and targetPort say which EndpointSlice port carries it
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  // Set when a BackendTLSPolicy covers the port (backend_tls_policies.h): connections use TLS.
  std::shared_ptr<const net::UpstreamTlsContext> tls = nullptr;
};

// ---- Filters, precompiled from HTTPRoute filters (rule level, and backendRef level) ----


enum class PathModifierKind : uint8_t { kNone, kReplaceFullPath, kReplacePrefixMatch };

struct PathModifier {
  PathModifierKind kind = PathModifierKind::kNone;
  std::string value;  // the replacement path or prefix
};

struct RequestRedirect {
  std::string scheme;    // empty: keep the request's
  std::string hostname;  // empty: keep the request's host (without port)
  int port = 0;          // 0: not set (the spec's default-port rules apply)
  PathModifier path;
  int status_code = 302;
};

struct UrlRewrite {
  std::string hostname;  // empty: keep Host
  PathModifier path;
};

struct Cors {
  std::vector<std::string> allow_origins;  // exact origins, "*" or with a "*" wildcard label ("https://*.x.com")
  std::vector<std::string> allow_methods;  // "*" allowed
  std::vector<std::string> allow_headers;
  std::vector<std::string> expose_headers;
  bool allow_credentials = false;
  int max_age_seconds = 5;  // the spec's default
};

// Everything a rule (or one backendRef) does besides choosing a backend.
struct Filters {
  HeaderModifier request_headers;
  HeaderModifier response_headers;
  std::optional<RequestRedirect> redirect;  // set: the gateway answers with the redirect itself
  std::optional<UrlRewrite> rewrite;
  std::optional<Cors> cors;
};

struct RetryPolicy {
  uint32_t attempts = 0;            // retries after the first try; 0 = no retry
  std::vector<int> codes;           // status codes that are retried (connection errors always are)
  std::chrono::milliseconds backoff{0};
};

struct RuleTimeouts {
  std::chrono::milliseconds request{0};          // whole request; 0 = none
  std::chrono::milliseconds backend_request{0};  // each try to a backend; 0 = none
};

struct BackendChoice {
  // Index into RouteTable::clusters and its ClusterSet; -1 = invalid ref (missing Service, bad kind) -> 500.
  int cluster = -1;
  uint32_t weight = 1;
  std::string name;  // "namespace/service:port" even when invalid, for logs/metrics
  Filters filters;   // backendRef-level filters, applied after the rule's
  std::vector<struct MirrorTarget> mirrors;  // backendRef-level RequestMirror filters
};

struct MirrorTarget {
  int cluster = -1;  // -1 = unresolvable: copy is counted failed
  std::string name;
  // Share of requests to copy: numerator/denominator (percent N is N/100; neither set is 100/100).
  uint32_t numerator = 100;
  uint32_t denominator = 100;
  // From the MirrorPolicy targeting this mirror's route (or rule); null: no policy, defaults apply.
  std::shared_ptr<const MirrorSettings> settings;
};

struct Rule {
  std::string route;  // "namespace/name" of the HTTPRoute
  size_t rule_index = 0;
  std::vector<BackendChoice> backends;  // empty => 500 per spec (no backendRefs)
  uint64_t total_weight = 0;            // sum of weights; 0 with non-empty backends => 500 as spec says
  std::vector<MirrorTarget> mirrors;
  std::string name;  // the rule's optional name (sectionName for policies)
  std::string label;  // its name, else its index: the `rule` label of the mirror metrics
  Filters filters;
  RuleTimeouts timeouts;
  RetryPolicy retry;
};

struct HeaderView {
  std::string_view name;
  std::string_view value;
};

struct MatchInput {
  std::string_view method;
  std::string_view host;                     // as in the Host header (may carry :port)
  std::string_view target;                   // request-target with query
  std::span<const HeaderView> headers = {};  // request headers, for header matches (first occurrence counts)
};

namespace detail {

// One header or query-parameter condition; regex set for RegularExpression matches.
struct ValueMatch {
  std::string name;  // lowercase for headers; as written for query parameters (case-sensitive)
  std::string value;
  std::shared_ptr<const re2::RE2> regex;
};

enum class PathKind : uint8_t { kExact, kPrefix, kRegex, kNever };

// One HTTPRouteMatch of one rule, in the order the spec's precedence gives it.
struct CompiledMatch {
  PathKind path_kind = PathKind::kPrefix;
  std::string path;  // kPrefix: without trailing '/', so "/" becomes "" (matches every path)
  std::shared_ptr<const re2::RE2> path_regex;
  std::string method;  // empty: any
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> query_params;
  uint32_t rule = 0;  // index into Listener::rules
};

// The matches of one virtual host in precedence order, most specific first: the translator appends them
// sorted, so a match's position is its precedence, and Listener::find returns the first (lowest) one that
// matches a request. Each is indexed by path as it is appended (the index cannot disagree with the list):
// Exact and PathPrefix matches in `by_path`, RegularExpression ones listed as `unindexed`, tried on every
// request; matches that can never match (kNever) in neither.
class MatchList {
 public:
  // Lists this short are scanned instead: trying 8 matches costs about what the index's walk along the
  // path costs (bench/RESULTS.md, "Route matching at scale"), and most virtual hosts have a few routes.
  static constexpr size_t kScanAtMost = 8;

  void push_back(CompiledMatch m);

  size_t size() const { return matches_.size(); }
  bool empty() const { return matches_.empty(); }
  const CompiledMatch& operator[](size_t i) const { return matches_[i]; }
  std::vector<CompiledMatch>::const_iterator begin() const { return matches_.begin(); }
  std::vector<CompiledMatch>::const_iterator end() const { return matches_.end(); }

  const PathIndex& by_path() const { return by_path_; }
  std::span<const uint32_t> unindexed() const { return unindexed_; }  // ascending positions

 private:
  std::vector<CompiledMatch> matches_;
  PathIndex by_path_;
  std::vector<uint32_t> unindexed_;
};

enum class HostKind : uint8_t { kExact, kWildcard, kAny };

// Exact hosts first (sorted by name), then wildcards (longest suffix first), then the catch-all.
struct VirtualHost {
  HostKind kind = HostKind::kAny;
  std::string host;  // kExact: lowercase name; kWildcard: suffix with its dot (".example.com")
  MatchList matches;
};

// One Gateway listener (section) sharing the Listener's port; selected by its own hostname first,
// which gives the spec's listener isolation: a request never reaches a less specific listener's routes.
struct HostGroup {
  HostKind kind = HostKind::kAny;
  std::string host;
  std::string section_name;
  std::vector<VirtualHost> vhosts;
};

}  // namespace detail

// What Listener::find() returns. matched_prefix is the PathPrefix value of the winning match as
// configured, without its trailing '/' ("/" gives ""), which is what ReplacePrefixMatch replaces; it is
// empty for Exact and RegularExpression matches and points into the table (valid while it is pinned).
struct MatchResult {
  const Rule* rule = nullptr;  // nullptr => 404
  std::string_view matched_prefix;
};

// A TLSRoute hostname on a TLS Passthrough port: a connection whose SNI it covers goes to one of its
// backends, unopened.
struct SniRoute {
  detail::HostKind kind = detail::HostKind::kAny;
  std::string host;   // kExact: lowercase name; kWildcard: suffix with its dot (".example.com")
  std::string route;  // "namespace/name" of the TLSRoute
  std::string section_name;  // the listener it attached through
  std::vector<BackendChoice> backends;  // by weight; empty or all invalid: the connection is closed
  uint64_t total_weight = 0;
};

struct Listener {
  std::string gateway;  // "namespace/name"
  std::string name;     // listener name (the first, when several sections of one Gateway share the port)
  std::string address;  // bind address: Gateway spec.addresses[0] IPAddress value, or "0.0.0.0" when none
  uint16_t port = 0;
  std::vector<std::string> section_names;  // every HTTP (or every HTTPS) listener of this Gateway on this port
  // Set for HTTPS: TLS is terminated with the sections' certificates, chosen by SNI. Null: plain HTTP.
  std::shared_ptr<const net::TlsServerContext> tls;
  // From the ClientTrafficPolicy governing this port (client_traffic_policy.h); null: the flags' defaults.
  std::shared_ptr<const ClientTrafficSettings> client_traffic;
  std::vector<Rule> rules;
  std::vector<detail::HostGroup> host_groups;
  // Set for a TLS Passthrough port: connections are routed by their SNI to `sni_routes` (exact names,
  // then the longest wildcard, then a route without hostname), never opened; `rules` stay empty.
  bool passthrough = false;
  std::vector<SniRoute> sni_routes;

  MatchResult find(const MatchInput&) const;
  // HTTPS: whether a request for `host` arrived on a connection whose TLS server name (SNI) chose
  // another section of this port than `host` does, the connection coalescing RFC 9110 section 15.5.20
  // answers with 421 Misdirected Request. False without SNI (the connection named no host), and for a
  // host that no section serves (a 404, as on any connection).
  bool misdirected(std::string_view host, std::string_view server_name) const;
  const Rule* match(const MatchInput&) const;  // find().rule; nullptr => 404
  // The route for a connection whose ClientHello named `server_name` ("" for none); nullptr: none.
  const SniRoute* route_sni(std::string_view server_name) const;
  // find() without the path index: every match of the virtual host tried in order (which find() does too
  // for a short list, MatchList::kScanAtMost). The reference that find() must agree with for every
  // request (tests/unit/route_match_index_test.cpp) and its benchmark.
  MatchResult find_linear(const MatchInput&) const;
};

struct RouteTable {
  std::vector<Listener> listeners;
  std::vector<Cluster> clusters;  // BackendChoice::cluster and MirrorTarget::cluster index them
  std::vector<std::string> warnings;  // e.g. "HTTPRoute default/r rule 0: backendRef Service default/nope not
                                      // found; requests get 500"
  // Per HTTPRoute ("namespace/name"): why some of its rules were not programmed (invalid or unsupported
  // filter combinations, timeouts...), each "<field path>: <problem>". Those rules answer 500; status
  // reports Accepted=False, reason UnsupportedValue. Routes without problems have no entry.
  std::map<std::string, std::vector<std::string>> route_problems;
  // The Gateway API status of this translation (status_snapshot.h): every condition, decided by the
  // rules the data plane was built with. status.h prints it; translating with the previous table keeps
  // the lastTransitionTime of unchanged conditions.
  std::shared_ptr<const StatusSnapshot> status;
  // Gateway "ns/name" -> the address --gateway-address-pool gave it; the next translation keeps them.
  std::map<std::string, std::string> pool_addresses;
  // Unique per translation, never reused (0: a table not made by translate()), so that a connection can
  // tell a new table from the one it found its listener in, even one allocated at the same address.
  uint64_t generation = 0;

  // The listener bound to address:port, or null (its Gateway went away). Listeners come and go with
  // Gateways, so a connection finds its listener by where it was accepted, not by position.
  const Listener* listener_at(std::string_view address, uint16_t port) const;
};

}  // namespace mg::route
