#include "admin/config_dump.h"

#include <nlohmann/json.hpp>

#include "net/tls_context.h"

namespace mg::admin {

std::string config_dump_json(const route::RouteTable& table, const route::ClusterSet& clusters) {
  using nlohmann::json;
  json listeners = json::array();
  for (const auto& l : table.listeners) {
    json rules = json::array();
    for (const auto& r : l.rules) {
      json backends = json::array();
      for (const auto& b : r.backends)
        backends.push_back({{"name", b.name}, {"weight", b.weight}, {"resolved", b.cluster >= 0}});
      json mirrors = json::array();
      for (const auto& m : r.mirrors)  // policy: the MirrorPolicy governing the copy, null for the defaults
        mirrors.push_back({{"name", m.name},
                           {"resolved", m.cluster >= 0},
                           {"policy", m.settings ? json(m.settings->policy) : json(nullptr)}});
      rules.push_back({{"route", r.route}, {"rule", r.rule_index}, {"backends", backends}, {"mirrors", mirrors}});
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
