#include "admin/config_dump.h"

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "net/tls_context.h"

namespace mg::admin {
namespace {

using nlohmann::json;

json value_matches(const std::vector<route::detail::ValueMatch>& matches) {
  json out = json::array();
  for (const auto& m : matches)
    out.push_back({{"name", m.name},
                   {"type", m.regex ? "RegularExpression" : "Exact"},
                   {"value", m.regex ? m.regex->pattern() : m.value}});
  return out;
}

std::string hostname_of(const route::detail::VirtualHost& vhost) {
  switch (vhost.kind) {
    case route::detail::HostKind::kExact: return vhost.host;
    case route::detail::HostKind::kWildcard: return "*" + vhost.host;
    case route::detail::HostKind::kAny: break;
  }
  return "*";
}

// What sends a request to each rule of `listener`, as the matcher was compiled: per rule, every
// (hostname, path, method, headers, query parameters) it answers, in the order the matcher tries them.
std::vector<json> matches_by_rule(const route::Listener& listener) {
  std::vector<json> by_rule(listener.rules.size(), json::array());
  for (const auto& group : listener.host_groups)
    for (const auto& vhost : group.vhosts)
      for (const auto& m : vhost.matches) {
        if (m.rule >= by_rule.size() || m.path_kind == route::detail::PathKind::kNever) continue;
        json path;
        switch (m.path_kind) {
          case route::detail::PathKind::kExact: path = {{"type", "Exact"}, {"value", m.path}}; break;
          case route::detail::PathKind::kPrefix:
            path = {{"type", "PathPrefix"}, {"value", m.path.empty() ? "/" : m.path}};
            break;
          case route::detail::PathKind::kRegex:
            path = {{"type", "RegularExpression"}, {"value", m.path_regex ? m.path_regex->pattern() : m.path}};
            break;
          case route::detail::PathKind::kNever: break;
        }
        json match = {{"hostname", hostname_of(vhost)}, {"path", path}};
        if (!m.method.empty()) match["method"] = m.method;
        if (!m.headers.empty()) match["headers"] = value_matches(m.headers);
        if (!m.query_params.empty()) match["queryParams"] = value_matches(m.query_params);
        by_rule[m.rule].push_back(std::move(match));
      }
  return by_rule;
}

}  // namespace

std::string config_dump_json(const route::RouteTable& table, const route::ClusterSet& clusters) {
  json listeners = json::array();
  for (const auto& l : table.listeners) {
    json rules = json::array();
    std::vector<json> matches = matches_by_rule(l);
    for (size_t i = 0; i < l.rules.size(); ++i) {
      const route::Rule& r = l.rules[i];
      json backends = json::array();
      for (const auto& b : r.backends)
        backends.push_back({{"name", b.name}, {"weight", b.weight}, {"resolved", b.cluster >= 0}});
      json mirrors = json::array();
      for (const auto& m : r.mirrors)  // policy: the MirrorPolicy governing the copy, null for the defaults
        mirrors.push_back({{"name", m.name},
                           {"resolved", m.cluster >= 0},
                           {"policy", m.settings ? json(m.settings->policy) : json(nullptr)}});
      json rule = {{"route", r.route},
                   {"rule", r.rule_index},
                   {"matches", std::move(matches[i])},
                   {"backends", backends},
                   {"mirrors", mirrors}};
      if (!r.name.empty()) rule["name"] = r.name;
      rules.push_back(std::move(rule));
    }
    json listener = {{"gateway", l.gateway},
                     {"name", l.name},
                     {"address", l.address},
                     {"port", l.port},
                     {"protocol", l.tls ? "HTTPS" : "HTTP"},
                     {"sections", l.section_names},
                     {"rules", rules}};
    if (const auto& ct = l.client_traffic) {  // only what the policy sets; the rest are the flags' defaults
      json policy = {{"policy", ct->policy}};
      if (ct->max_request_line) policy["maxRequestLineSize"] = *ct->max_request_line;
      if (ct->max_header_bytes) policy["maxHeaderSize"] = *ct->max_header_bytes;
      if (ct->max_headers) policy["maxHeaders"] = *ct->max_headers;
      if (ct->max_request_body) policy["maxRequestBodySize"] = *ct->max_request_body;
      if (ct->header_timeout) policy["requestHeaderTimeoutMs"] = ct->header_timeout->count();
      if (ct->idle_timeout) policy["idleTimeoutMs"] = ct->idle_timeout->count();
      listener["clientTrafficPolicy"] = std::move(policy);
    }
    if (l.tls) {
      json certs = json::array();  // which certificate SNI picks for which section (never the key)
      for (const auto& c : l.tls->certificates()) certs.push_back({{"section", c.section}, {"hostname", c.hostname}});
      listener["certificates"] = std::move(certs);
    }
    listeners.push_back(std::move(listener));
  }
  json cluster_list = json::array();
  for (const auto& c : clusters.clusters) {
    json endpoints = json::array();
    for (const auto& e : c.endpoints) endpoints.push_back(e.address);
    cluster_list.push_back({{"name", c.name}, {"endpoints", endpoints}});
  }
  json warnings = table.warnings;
  for (const auto& w : clusters.warnings) warnings.push_back(w);
  json dump = {{"listeners", listeners}, {"clusters", cluster_list}, {"warnings", warnings}};
  return dump.dump(2) + "\n";
}

}  // namespace mg::admin
