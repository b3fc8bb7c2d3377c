#include "route/client_traffic_policy.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "config/loader.h"
#include "route/listener_rules.h"

namespace mg::route {
namespace {

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

net::TlsOptions tls_options(const config::ClientTrafficTls& t) {
  return net::TlsOptions{t.min_version.value_or(""), t.max_version.value_or(""), t.ciphers, t.alpn_protocols};
}

// Why a policy cannot be applied anywhere, or "" when it can.
std::string invalid_reason(const config::ClientTrafficPolicy& p) {
  if (!p.metadata.refused.empty()) return p.metadata.refused;
  const auto& l = p.limits;
  // The parser counts the request line as part of the head, so a larger line limit could never apply.
  if (l.max_request_line_size && l.max_header_size && *l.max_request_line_size > *l.max_header_size)
    return "spec.limits.maxRequestLineSize (" + std::to_string(*l.max_request_line_size) +
           ") is larger than spec.limits.maxHeaderSize (" + std::to_string(*l.max_header_size) +
           "), which includes the request line";
  // Re-parsed from the text when there is one, so an ObjectSet built in code reads the same way.
  for (const auto* d : {&p.timeouts.request_header, &p.timeouts.idle}) {
    int64_t ms = 0;
    if (*d && !(*d)->text.empty() && !config::parse_duration((*d)->text, ms))
      return "invalid duration \"" + (*d)->text + "\"";
  }
  if (p.tls) {
    if (std::string error = net::check_tls_options(tls_options(*p.tls)); !error.empty()) return "spec.tls: " + error;
  }
  return "";
}

std::chrono::milliseconds millis(const config::Duration& d) {
  int64_t ms = d.milliseconds;
  if (!d.text.empty()) config::parse_duration(d.text, ms);
  return std::chrono::milliseconds(ms);
}

std::shared_ptr<const ClientTrafficSettings> settings_of(const config::ClientTrafficPolicy& p) {
  auto s = std::make_shared<ClientTrafficSettings>();
  s->policy = key(p.metadata.namespace_, p.metadata.name);
  s->max_request_line = p.limits.max_request_line_size;
  s->max_header_bytes = p.limits.max_header_size;
  s->max_headers = p.limits.max_headers;
  s->max_request_body = p.limits.max_request_body_size;
  if (p.timeouts.request_header) s->header_timeout = millis(*p.timeouts.request_header);
  if (p.timeouts.idle) s->idle_timeout = millis(*p.timeouts.idle);
  if (p.tls) s->tls = tls_options(*p.tls);
  return s;
}

// A policy's claim on one Gateway (whole, or one listener), still in the running.
struct Candidate {
  const config::ClientTrafficPolicy* policy;
  PolicyAncestor* ancestor;
  std::shared_ptr<const ClientTrafficSettings> settings;
};

const config::ClientTrafficPolicy* policy_of(const Candidate* c) {
  return c ? c->policy : nullptr;
}

// Oldest first, then by name: the spec's tie-break for conflicting policies.
void order_by_precedence(std::vector<Candidate>& v) {
  std::stable_sort(v.begin(), v.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.policy->metadata.creation_timestamp, a.policy->metadata.name) <
           std::tie(b.policy->metadata.creation_timestamp, b.policy->metadata.name);
  });
}

// Keeps the first; the others are Conflicted, naming the winner.
void keep_first(std::vector<Candidate>& v, const std::string& what) {
  order_by_precedence(v);
  for (size_t i = 1; i < v.size(); ++i) {
    *v[i].ancestor = {v[i].ancestor->gateway_namespace,
                      v[i].ancestor->gateway_name,
                      v[i].ancestor->section_name,
                      false,
                      "Conflicted",
                      "ClientTrafficPolicy " + v[0].settings->policy + " also targets " + what +
                          " and takes precedence (older creationTimestamp, then name)"};
  }
  v.resize(std::min<size_t>(v.size(), 1));
}

class Resolver {
 public:
  Resolver(const config::ObjectSet& set, std::string_view controller) : set_(set) {
    for (const auto& gc : set.gateway_classes)
      if (gc.controller_name == controller) classes_.insert(gc.metadata.name);
  }

  ClientTrafficResolution run() {
    for (const auto& p : set_.client_traffic_policies) collect(p);
    for (const auto& gw : set_.gateways)
      if (classes_.count(gw.gateway_class_name)) attach(gw);
    return std::move(out_);
  }

 private:
  // Creates the policy's ancestors, settles what can be settled per target, and files the rest as
  // candidates of their Gateway.
  void collect(const config::ClientTrafficPolicy& p) {
    const std::string id = key(p.metadata.namespace_, p.metadata.name);
    auto& ancestors = out_.ancestors[id];
    if (!ancestors.empty())
      return;  // a duplicate (the loader refuses them; an ObjectSet built in code may not)
    const std::string invalid = invalid_reason(p);
    const auto settings = invalid.empty() ? settings_of(p) : nullptr;
    std::set<std::pair<std::string, std::optional<std::string>>> seen;
    ancestors.reserve(p.target_refs.size());  // candidates point into it
    for (const auto& ref : p.target_refs) {
      if (!seen.emplace(ref.name, ref.section_name).second) continue;
      const auto gw = std::find_if(set_.gateways.begin(), set_.gateways.end(), [&](const auto& g) {
        return g.metadata.name == ref.name && g.metadata.namespace_ == p.metadata.namespace_;
      });
      if (gw != set_.gateways.end() && !classes_.count(gw->gateway_class_name)) continue;
      PolicyAncestor& a = ancestors.emplace_back(
          PolicyAncestor{p.metadata.namespace_, ref.name, ref.section_name, true, "Accepted", ""});
      auto reject = [&](std::string reason, std::string message) {
        a.accepted = false;
        a.reason = std::move(reason);
        a.message = std::move(message);
      };
      if (gw == set_.gateways.end()) {
        reject("TargetNotFound", "Gateway " + key(p.metadata.namespace_, ref.name) + " not found");
        continue;
      }
      const std::string gw_id = key(gw->metadata.namespace_, gw->metadata.name);
      if (ref.section_name) {
        const auto l = std::find_if(gw->listeners.begin(), gw->listeners.end(),
                                    [&](const auto& x) { return x.name == *ref.section_name; });
        if (l == gw->listeners.end()) {
          reject("TargetNotFound", "Gateway " + gw_id + " has no listener named " + *ref.section_name);
          continue;
        }
        if (!serves_http(*l)) {
          reject("Invalid", "listener " + l->name + " has protocol " + l->protocol +
                                "; limits apply to HTTP and HTTPS listeners only");
          continue;
        }
      }
      if (!invalid.empty()) {
        reject("Invalid", invalid);
        continue;
      }
      auto& claims = candidates_[gw_id];
      (ref.section_name ? claims.by_section[*ref.section_name] : claims.whole).push_back({&p, &a, settings});
    }
  }

  struct Claims {
    std::vector<Candidate> whole;
    std::map<std::string, std::vector<Candidate>> by_section;
  };

  void attach(const config::Gateway& gw) {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    auto found = candidates_.find(gw_id);
    if (found == candidates_.end()) return;
    Claims& claims = found->second;
    keep_first(claims.whole, "Gateway " + gw_id);
    for (auto& [section, list] : claims.by_section)
      keep_first(list, "listener " + section + " of Gateway " + gw_id);
    const Candidate* whole = claims.whole.empty() ? nullptr : &claims.whole.front();

    // What each HTTP(S) listener would get, then one answer per port.
    std::map<int32_t, std::vector<std::pair<const config::Listener*, const Candidate*>>> ports;
    for (const auto& l : gw.listeners) {
      if (!serves_http(l)) continue;
      auto s = claims.by_section.find(l.name);
      ports[l.port].emplace_back(&l, s != claims.by_section.end() ? &s->second.front() : whole);
    }
    std::map<const PolicyAncestor*, std::vector<std::string>> applied;  // ancestor -> listener names
    std::vector<std::string> overridden;                                // "listener by policy"
    for (auto& [port, listeners] : ports) {
      const bool uniform = std::all_of(listeners.begin(), listeners.end(), [&](const auto& x) {
        return policy_of(x.second) == policy_of(listeners.front().second);
      });
      if (!uniform) split_port(gw_id, port, listeners, whole);
      for (const auto& [l, c] : listeners) {
        const Candidate* chosen = uniform ? c : whole;
        if (!chosen) continue;
        applied[chosen->ancestor].push_back(l->name);
        if (whole && chosen->policy != whole->policy)
          overridden.push_back(l->name + " by " + chosen->settings->policy);
        out_.by_port[gw_id][port] = chosen->settings;
      }
    }
    for (auto& [section, list] : claims.by_section) {
      PolicyAncestor& a = *list.front().ancestor;
      if (a.accepted) a.message = "applies to listener " + section;
    }
    if (whole) {
      PolicyAncestor& a = *whole->ancestor;
      const auto it = applied.find(&a);
      a.message = it == applied.end() ? "applies to no listener" : "applies to listeners " + join(it->second);
      if (!overridden.empty()) a.message += "; overridden on listener " + join(overridden);
    }
  }

  // Listeners on one port that would get different policies: the limits are enforced before the Host
  // header picks a listener, so the sectionName policies there are not applied and the port keeps the
  // whole-Gateway policy (or none).
  void split_port(const std::string& gw_id, int32_t port,
                  const std::vector<std::pair<const config::Listener*, const Candidate*>>& listeners,
                  const Candidate* whole) {
    std::vector<std::string> names;
    for (const auto& [l, c] : listeners) names.push_back(l->name);
    for (const auto& [l, c] : listeners) {
      if (!c || policy_of(c) == policy_of(whole) || !c->ancestor->accepted) continue;
      *c->ancestor = {c->ancestor->gateway_namespace,
                      c->ancestor->gateway_name,
                      c->ancestor->section_name,
                      false,
                      "Conflicted",
                      "listener " + l->name + " shares port " + std::to_string(port) + " of Gateway " +
                          gw_id + " with listeners " + join(names) +
                          " that would get different limits; limits apply before the Host header picks a "
                          "listener, so target every listener of the port alike, or the whole Gateway"};
    }
  }

  const config::ObjectSet& set_;
  std::set<std::string> classes_;
  std::map<std::string, Claims> candidates_;  // by Gateway "namespace/name"
  ClientTrafficResolution out_;
};

}  // namespace

ClientTrafficResolution resolve_client_traffic_policies(const config::ObjectSet& objects,
                                                        std::string_view controller_name) {
  return Resolver(objects, controller_name).run();
}

}  // namespace mg::route
