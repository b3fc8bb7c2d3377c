#include "admin/config_dump.h"

#include <nlohmann/json.hpp>

#include "net/tls_context.h"

namespace mg::admin {

std::string config_dump_json(const route::RouteTable& table) {
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
    if (l.tls) {
      json certs = json::array();  // which certificate SNI picks for which section (never the key)
      for (const auto& c : l.tls->certificates()) certs.push_back({{"section", c.section}, {"hostname", c.hostname}});
      listener["certificates"] = std::move(certs);
    }
    listeners.push_back(std::move(listener));
  }
  json clusters = json::array();
  for (const auto& c : table.clusters) {
    json endpoints = json::array();
    for (const auto& e : c.endpoints) endpoints.push_back(e.ip + ":" + std::to_string(e.port));
    clusters.push_back({{"name", c.name}, {"endpoints", endpoints}});
  }
  json dump = {{"listeners", listeners}, {"clusters", clusters}, {"warnings", table.warnings}};
  return dump.dump(2) + "\n";
}

}  // namespace mg::admin
