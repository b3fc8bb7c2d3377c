#include "route/translator.h"

#include <re2/re2.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "config/loader.h"
#include "net/tls_context.h"
#include "route/certificates.h"
#include "route/backend_tls_policies.h"
#include "route/client_traffic_policy.h"
#include "route/header_modifier.h"
#include "route/listener_rules.h"
#include "route/mirror_policies.h"
#include "route/port_claims.h"
#include "route/references.h"
#include "route/status_conditions.h"

namespace mg::route {
namespace {

using config::ObjectSet;
using detail::CompiledMatch;
using detail::HostKind;
using detail::PathKind;
using detail::ValueMatch;

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

std::string now_rfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return s;
}

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

bool wildcard_covers(std::string_view wildcard, std::string_view host) {
  // wildcard is "*.suffix"; host must have at least one label in front of ".suffix".
  const std::string_view suffix = wildcard.substr(1);
  return host.size() > suffix.size() && host.ends_with(suffix) && host.front() != '*';
}

std::shared_ptr<const re2::RE2> compile(const std::string& pattern, std::string& error) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);  // the translator is pure; errors come back as warnings
  auto re = std::make_shared<const re2::RE2>(pattern, opts);
  if (!re->ok()) {
    error = re->error();
    return nullptr;
  }
  return re;
}

struct Sorted {
  // Spec precedence, most specific first; the fields are compared in this order.
  int exact = 0;  // 1 for Exact path
  size_t path_chars = 0;
  int has_method = 0;
  size_t headers = 0;
  size_t query_params = 0;
  std::string created;  // empty sorts as oldest: objects from files have no timestamp
  std::string route;
  size_t rule = 0;
  size_t match = 0;
  CompiledMatch compiled;
};

bool precedes(const Sorted& a, const Sorted& b) {
  return std::tie(b.exact, b.path_chars, b.has_method, b.headers, b.query_params, a.created, a.route, a.rule,
                  a.match) < std::tie(a.exact, a.path_chars, a.has_method, a.headers, a.query_params,
                                      b.created, b.route, b.rule, b.match);
}

struct VHostBuild {
  HostKind kind;
  std::string host;
  std::vector<Sorted> entries;
};

struct GroupBuild {
  HostKind kind;
  std::string host;
  std::string section_name;
  std::map<std::string, VHostBuild> vhosts;  // by effective hostname ("" = any)
};

HostKind kind_of(std::string_view hostname) {
  if (hostname.empty()) return HostKind::kAny;
  return hostname.starts_with("*.") ? HostKind::kWildcard : HostKind::kExact;
}

// Match-time representation: wildcards keep only ".suffix"; exact names are lowercase.
std::string host_key(std::string_view hostname) {
  if (hostname.starts_with("*.")) return to_lower(std::string(hostname.substr(1)));
  return to_lower(std::string(hostname));
}

template <typename T>
void order_hosts(std::vector<T>& v) {
  std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.kind == HostKind::kExact) return a.host < b.host;
    return a.host.size() > b.host.size();  // longest wildcard first
  });
}

// --- filters ---
//
// A problem found here keeps a rule from being programmed. Messages are "<field path>: <what>".

std::string field(size_t rule, std::string_view rest) {
  return "spec.rules[" + std::to_string(rule) + "]" + std::string(rest);
}

// single_prefix_match: the rule has exactly one match and it is a PathPrefix, which the spec requires of
// ReplacePrefixMatch (the prefix to replace must be unambiguous).
PathModifier path_modifier(const std::optional<config::HTTPPathModifier>& in, bool single_prefix_match,
                           const std::string& at, std::vector<std::string>& invalid) {
  PathModifier out;
  if (!in) return out;
  if (in->type == "ReplaceFullPath" && in->replace_full_path) {
    out.kind = PathModifierKind::kReplaceFullPath;
    out.value = *in->replace_full_path;
  } else if (in->type == "ReplacePrefixMatch" && in->replace_prefix_match) {
    out.kind = PathModifierKind::kReplacePrefixMatch;
    out.value = *in->replace_prefix_match;
    if (!single_prefix_match)
      invalid.push_back(at +
                        ".path: ReplacePrefixMatch needs the rule to have exactly one match, of type "
                        "PathPrefix");
  } else {
    invalid.push_back(at + ".path: type \"" + in->type + "\" without its value is not supported");
  }
  return out;
}

void check_cors_list(const std::vector<std::string>& list, const std::string& at, std::string_view what,
                     std::vector<std::string>& invalid) {
  if (list.size() > 1 && std::find(list.begin(), list.end(), "*") != list.end())
    invalid.push_back(at + "." + std::string(what) + ": \"*\" cannot be combined with other values");
}

Cors make_cors(const config::HTTPCORSFilter& in, const std::string& at, std::vector<std::string>& invalid) {
  check_cors_list(in.allow_origins, at, "allowOrigins", invalid);
  check_cors_list(in.allow_methods, at, "allowMethods", invalid);
  check_cors_list(in.allow_headers, at, "allowHeaders", invalid);
  Cors out;
  out.allow_origins = in.allow_origins;
  out.allow_methods = in.allow_methods;
  out.allow_headers = in.allow_headers;
  out.expose_headers = in.expose_headers;
  out.allow_credentials = in.allow_credentials.value_or(false);
  out.max_age_seconds = in.max_age;
  return out;
}

// Gateway API Duration in milliseconds. Re-parsed from the text when there is one, so an ObjectSet
// built in code rather than by the loader is read the same way.
bool to_millis(const config::Duration& d, std::chrono::milliseconds& out) {
  int64_t ms = d.milliseconds;
  if (!d.text.empty() && !config::parse_duration(d.text, ms)) return false;
  out = std::chrono::milliseconds(ms);
  return true;
}

class Translator {
 public:
  Translator(const ObjectSet& set, const TranslateOptions& options)
      : set_(set), options_(options), controller_(options.controller_name), mirror_policies_(set) {}

  std::shared_ptr<RouteTable> run() {
    table_ = std::make_shared<RouteTable>();
    static std::atomic<uint64_t> generations{0};
    table_->generation = ++generations;
    index_objects();
    std::vector<const config::Gateway*> gateways;
    for (const auto& gw : set_.gateways) {
      if (managed_classes_.count(gw.gateway_class_name)) gateways.push_back(&gw);
    }
    std::sort(gateways.begin(), gateways.end(), [](auto* a, auto* b) {
      return key(a->metadata.namespace_, a->metadata.name) < key(b->metadata.namespace_, b->metadata.name);
    });
    assign_pool_addresses(gateways);
    claim_ports(gateways);
    publish_addresses();
    // Before the listeners: an HTTPS port's TLS context is built with its policy's spec.tls.
    client_traffic_ = resolve_client_traffic_policies(set_, controller_);
    backend_tls_ = resolve_backend_tls_policies(set_);  // before the clusters, which take their contexts
    for (const auto* gw : gateways) translate_gateway(*gw);
    apply_client_traffic_policies();
    warn_unattached_routes();
    warn_missing_parents();
    warn_unapplied_mirror_policies();
    warn_backend_tls_problems();
    table_->status = std::make_shared<const StatusSnapshot>(status());
    return table_;
  }

 private:
  void index_objects() {
    for (const auto& gc : set_.gateway_classes)
      if (gc.controller_name == controller_) managed_classes_.insert(gc.metadata.name);
    for (const auto& ns : set_.namespaces) namespace_labels_[ns.metadata.name] = ns.metadata.labels;
    for (const auto& svc : set_.services) services_[key(svc.metadata.namespace_, svc.metadata.name)] = &svc;
  }

  const std::map<std::string, std::string>& labels_of(const std::string& ns) const {
    static const std::map<std::string, std::string> kNone;
    const auto it = namespace_labels_.find(ns);
    return it == namespace_labels_.end() ? kNone : it->second;
  }

  // Resolved once per listener: the data plane serves the certificate, status reports the problems.
  const ListenerCertificate& certificate(const config::Gateway& gw, const config::Listener& l) {
    auto it = certificates_.find(&l);
    if (it == certificates_.end())
      it = certificates_.emplace(&l, resolve_listener_certificate(set_, gw, l)).first;
    return it->second;
  }

  void warn(std::string w) {
    if (std::find(table_->warnings.begin(), table_->warnings.end(), w) == table_->warnings.end())
      table_->warnings.push_back(std::move(w));
  }

  // --- gateways and listeners ---

  // --gateway-address-pool: an address for each Gateway that asks for none, older Gateways first, each
  // keeping the one the previous translation gave it.
  void assign_pool_addresses(const std::vector<const config::Gateway*>& gateways) {
    if (!options_.address_pool) return;
    std::vector<const config::Gateway*> wanting;
    std::set<std::string> taken;
    for (const auto* gw : gateways) {
      if (gw->addresses.empty()) {
        wanting.push_back(gw);
      } else {
        taken.insert(gateway_bind_address(*gw).value);
      }
    }
    std::stable_sort(wanting.begin(), wanting.end(), [](auto* a, auto* b) {
      return a->metadata.creation_timestamp < b->metadata.creation_timestamp;
    });
    std::vector<std::string> ids;
    for (const auto* gw : wanting) ids.push_back(key(gw->metadata.namespace_, gw->metadata.name));
    static const std::map<std::string, std::string> kNone;
    table_->pool_addresses =
        options_.address_pool->assign(ids, options_.previous ? options_.previous->pool_addresses : kNone, taken);
    for (const auto& id : ids)
      if (!table_->pool_addresses.count(id))
        warn("Gateway " + id + ": the address pool " + options_.address_pool->cidr() +
             " (--gateway-address-pool) has no free address; its listeners are not served");
  }

  // What a Gateway binds: its spec.addresses, else the pool's address for it (none when the pool is
  // exhausted), else every address.
  std::optional<GatewayBindAddress> bind_address(const config::Gateway& gw) const {
    if (!options_.address_pool || !gw.addresses.empty()) return gateway_bind_address(gw);
    const auto it = table_->pool_addresses.find(key(gw.metadata.namespace_, gw.metadata.name));
    if (it == table_->pool_addresses.end()) return std::nullopt;
    return GatewayBindAddress{it->second, ""};
  }

  // The address each Gateway binds, or the one an address provider gave it (compute_status), decides
  // which of two Gateways asking for one address:port gets it.
  void claim_ports(const std::vector<const config::Gateway*>& gateways) {
    std::map<std::string, std::string> address_of;
    for (const auto* gw : gateways) {
      const std::string id = key(gw->metadata.namespace_, gw->metadata.name);
      if (!options_.assigned_addresses) {
        if (const auto bind = bind_address(*gw)) address_of[id] = bind->value;
      } else if (auto a = options_.assigned_addresses->find(id); a != options_.assigned_addresses->end()) {
        address_of[id] = a->second;
      }
    }
    port_claims_.emplace(gateways, address_of);
  }

  void publish_addresses() {
    if (options_.publish_service.empty()) return;
    PublishedAddresses& p = published_.emplace();
    p.service = options_.publish_service;
    const auto it = services_.find(p.service);
    if (it == services_.end()) {
      p.missing_because = "does not exist";
      warn("Service " + p.service + " (--publish-service) does not exist; Gateways without spec.addresses "
           "report no address");
      return;
    }
    p.addresses = it->second->load_balancer_ingress;
    if (p.addresses.empty()) p.missing_because = "has no load-balancer address yet";
  }

  void translate_gateway(const config::Gateway& gw) {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    const std::optional<GatewayBindAddress> bound = bind_address(gw);
    if (!bound) return;  // the pool is exhausted (warned): nothing to bind
    const GatewayBindAddress& bind = *bound;
    const std::string& address = bind.value;
    if (!bind.ignored_type.empty())
      warn("Gateway " + gw_id + ": spec.addresses[0] of type " + bind.ignored_type +
           " is not supported; binding 0.0.0.0");
    bind_addresses_[gw_id] = address;
    // Listeners of one Gateway on one port share a socket; the host group inside keeps them apart. HTTPS
    // sections of one port also share the TLS context, which picks their certificate by SNI.
    std::map<int32_t, std::vector<const config::Listener*>> by_port;
    std::map<int32_t, std::vector<net::TlsCertificate>> certs_by_port;
    for (const auto& l : gw.listeners) {
      const std::string where = "Gateway " + gw_id + " listener " + l.name;
      if (!serves_http(l) && !serves_tls_passthrough(l)) {
        warn(where + ": protocol " + l.protocol + (l.protocol == "TLS" ? " in mode Terminate" : "") +
             " is not supported; listener skipped");
        continue;
      }
      if (const std::string* holder = port_claims_->held_by_other(gw_id, l.port)) {
        warn(where + ": " + address + ":" + std::to_string(l.port) + " is held by the older Gateway " + *holder +
             "; listener skipped (give one of them spec.addresses)");
        continue;
      }
      if (const ListenerConflict conflict = listener_conflict(gw, l); !conflict.reason.empty()) {
        warn(where + ": " + conflict.reason + ": " + conflict.message +
             "; listener skipped (none of a conflict is served)");
        continue;
      }
      auto& same_port = by_port[l.port];
      if (l.protocol == "HTTPS") {
        if (l.tls && l.tls->mode != "Terminate") {
          warn(where + ": TLS mode " + l.tls->mode + " is not supported (only Terminate); listener skipped");
          continue;
        }
        const ListenerCertificate& cert = certificate(gw, l);
        if (!cert.certificate) {
          std::string why;
          for (const auto& p : cert.problems) why += (why.empty() ? "" : "; ") + p;
          warn(where + ": " + (why.empty() ? "no usable certificate" : why) + "; listener skipped");
          continue;
        }
        certs_by_port[l.port].push_back(*cert.certificate);
      }
      same_port.push_back(&l);
    }
    for (const auto& [port, listeners] : by_port) {
      if (listeners.empty()) continue;
      Listener out;
      route_rule_base_.clear();
      out.gateway = gw_id;
      out.name = listeners.front()->name;
      out.address = address;
      out.port = static_cast<uint16_t>(port);
      if (auto certs = certs_by_port.find(port); certs != certs_by_port.end()) {
        if (const ClientTrafficSettings* policy = client_traffic_for(gw_id, port); policy && policy->tls)
          for (auto& section : certs->second) section.options = *policy->tls;
        try {
          out.tls = std::make_shared<const net::TlsServerContext>(std::move(certs->second),
                                                                gw_id + ":" + std::to_string(port));
        } catch (const std::exception& e) {  // checked already; only a resource failure gets here
          warn("Gateway " + gw_id + " port " + std::to_string(port) + ": " + e.what() +
               "; listeners skipped");
          continue;
        }
      }
      if (serves_tls_passthrough(*listeners.front())) {  // a port's listeners share one protocol (conflicts)
        out.passthrough = true;
        for (const auto* l : listeners) {
          out.section_names.push_back(l->name);
          attach_tls_routes(gw, *l, out);
        }
        order_hosts(out.sni_routes);
        table_->listeners.push_back(std::move(out));
        continue;
      }
      std::vector<GroupBuild> groups;
      for (const auto* l : listeners) {
        out.section_names.push_back(l->name);
        const std::string h = l->hostname.value_or("");
        groups.push_back(GroupBuild{kind_of(h), host_key(h), l->name, {}});
        attach_routes(gw, *l, out, groups.back());
      }
      finish_listener(out, groups);
      table_->listeners.push_back(std::move(out));
    }
  }

  // Whether a parentRef of a route in `route_ns` names Gateway `gw`.
  static bool names_gateway(const config::ParentReference& ref, const std::string& route_ns, const config::Gateway& gw) {
    return ref.group == kGatewayGroup && ref.kind == "Gateway" && ref.name == gw.metadata.name &&
           ref.namespace_.value_or(route_ns) == gw.metadata.namespace_;
  }

  void attach_routes(const config::Gateway& gw, const config::Listener& l, Listener& out, GroupBuild& group) {
    for (const auto& route : set_.http_routes) {
      if (!route.metadata.refused.empty()) continue;  // serves nothing; status says why
      const std::string route_id = key(route.metadata.namespace_, route.metadata.name);
      bool refers = false, attached = false;
      std::string reason;
      for (const auto& ref : route.parent_refs) {
        if (!names_gateway(ref, route.metadata.namespace_, gw)) continue;
        refers = true;
        // The hostnames are narrowed below, for every parentRef at once.
        switch (match_listener(gw, l, route, ref, labels_of(route.metadata.namespace_))) {
          case ListenerMatch::kNotSelected:
            continue;
          case ListenerMatch::kKindNotAllowed:
            reason = "listener " + l.name + " does not allow kind HTTPRoute";
            continue;
          case ListenerMatch::kNamespaceNotAllowed:
            reason =
                "listener " + l.name + " does not allow routes from namespace " + route.metadata.namespace_;
            continue;
          case ListenerMatch::kNoHostname:
          case ListenerMatch::kAttached:
            attached = true;
        }
      }
      if (!refers) continue;
      auto& status = attachment_[route_id + " -> Gateway " + key(gw.metadata.namespace_, gw.metadata.name)];
      if (!attached) {
        if (!reason.empty() && status.reason.empty()) status.reason = reason;
        continue;
      }
      // Effective hostnames: the route's hostnames narrowed by the listener's.
      std::vector<std::string> hosts;
      const std::string lh = l.hostname.value_or("");
      if (route.hostnames.empty()) {
        hosts.push_back(lh);
      } else {
        for (const auto& rh : route.hostnames)
          if (auto h = intersect_hostnames(lh, rh)) hosts.push_back(*h);
      }
      if (hosts.empty()) {
        if (status.reason.empty()) status.reason = "no hostname intersects listener " + l.name;
        continue;
      }
      status.attached = true;
      add_route(route, route_id, hosts, out, group);
    }
  }

  void add_route(const config::HTTPRoute& route, const std::string& route_id,
                 const std::vector<std::string>& hosts, Listener& out, GroupBuild& group) {
    // A route attached through several sections of one port shares its Rule objects.
    const auto [it, inserted] = route_rule_base_.try_emplace(&route, out.rules.size());
    const size_t base = it->second;
    if (inserted) {
      for (size_t i = 0; i < route.rules.size(); ++i) out.rules.push_back(build_rule(route, route_id, i));
    }
    for (const auto& h : hosts) {
      auto& vh = group.vhosts.try_emplace(h, VHostBuild{kind_of(h), host_key(h), {}}).first->second;
      for (size_t r = 0; r < route.rules.size(); ++r) {
        const auto& rule = route.rules[r];
        for (size_t m = 0; m < rule.matches.size(); ++m) {
          vh.entries.push_back(compile_match(route, route_id, r, m, static_cast<uint32_t>(base + r)));
        }
      }
    }
  }

  Sorted compile_match(const config::HTTPRoute& route, const std::string& route_id, size_t r, size_t m,
                       uint32_t rule_slot) {
    const config::HTTPRouteMatch& in = route.rules[r].matches[m];
    Sorted s;
    s.created = route.metadata.creation_timestamp;
    s.route = route_id;
    s.rule = r;
    s.match = m;
    CompiledMatch& c = s.compiled;
    c.rule = rule_slot;
    const std::string where =
        "HTTPRoute " + route_id + " rule " + std::to_string(r) + " match " + std::to_string(m);
    if (in.path.type == "Exact") {
      c.path_kind = PathKind::kExact;
      c.path = in.path.value;
      s.exact = 1;
    } else if (in.path.type == "RegularExpression") {
      std::string error;
      c.path_kind = PathKind::kRegex;
      c.path = in.path.value;
      c.path_regex = compile(in.path.value, error);
      if (!c.path_regex) {
        c.path_kind = PathKind::kNever;
        regex_problem(route_id, where, field(r, ".matches[" + std::to_string(m) + "].path.value"), in.path.value,
                      error);
      }
    } else {
      c.path = in.path.value;
      while (!c.path.empty() && c.path.back() == '/') c.path.pop_back();  // "/foo/" behaves as "/foo"
    }
    s.path_chars = in.path.value.size();
    if (in.method) {
      c.method = *in.method;
      s.has_method = 1;
    }
    auto values = [&](const std::vector<config::HTTPHeaderMatch>& list, bool header,
                      std::vector<ValueMatch>& dst) {
      for (size_t i = 0; i < list.size(); ++i) {
        const auto& h = list[i];
        ValueMatch v{header ? to_lower(h.name) : h.name, h.value, nullptr};
        if (h.type == "RegularExpression") {
          std::string error;
          v.regex = compile(h.value, error);
          if (!v.regex) {
            c.path_kind = PathKind::kNever;
            regex_problem(route_id, where,
                          field(r, ".matches[" + std::to_string(m) + "]." + (header ? "headers[" : "queryParams[") +
                                       std::to_string(i) + "].value"),
                          h.value, error);
          }
        }
        dst.push_back(std::move(v));
      }
    };
    values(in.headers, true, c.headers);
    values(in.query_params, false, c.query_params);
    s.headers = c.headers.size();
    s.query_params = c.query_params.size();
    return s;
  }

  // The TLSRoutes a TLS Passthrough listener takes: one SniRoute per hostname the route and the
  // listener have in common (the listener's own when the route names none). Of two routes for one
  // hostname, the first in object order keeps it.
  void attach_tls_routes(const config::Gateway& gw, const config::Listener& l, Listener& out) {
    for (const auto& route : set_.tls_routes) {
      if (!route.metadata.refused.empty()) continue;
      const std::string route_id = key(route.metadata.namespace_, route.metadata.name);
      const bool attached = std::any_of(route.parent_refs.begin(), route.parent_refs.end(), [&](const auto& ref) {
        return names_gateway(ref, route.metadata.namespace_, gw) &&
               match_listener(gw, l, route, ref, labels_of(route.metadata.namespace_)) == ListenerMatch::kAttached;
      });
      if (!attached) continue;
      std::vector<std::string> hosts;
      if (route.hostnames.empty()) hosts.push_back(l.hostname.value_or(""));
      for (const auto& rh : route.hostnames)
        if (auto common = intersect_hostnames(l.hostname.value_or(""), rh)) hosts.push_back(std::move(*common));
      std::vector<BackendChoice> backends;
      uint64_t total_weight = 0;
      const std::string where = "TLSRoute " + route_id;
      for (const auto& rule : route.rules)
        for (const auto& br : rule.backend_refs) {
          BackendChoice choice;
          std::tie(choice.cluster, choice.name) = resolve(route, br.ref, where + ": backendRef", "connections are closed");
          choice.weight = static_cast<uint32_t>(br.weight);
          total_weight += choice.weight;
          backends.push_back(std::move(choice));
        }
      for (const auto& h : hosts) {
        const HostKind kind = kind_of(h);
        const std::string host = host_key(h);
        if (std::any_of(out.sni_routes.begin(), out.sni_routes.end(),
                        [&](const SniRoute& r) { return r.kind == kind && r.host == host; }))
          continue;
        out.sni_routes.push_back(SniRoute{kind, host, route_id, l.name, backends, total_weight});
      }
    }
  }

  void finish_listener(Listener& out, std::vector<GroupBuild>& groups) {
    for (auto& g : groups) {
      detail::HostGroup hg;
      hg.kind = g.kind;
      hg.host = g.host;
      hg.section_name = g.section_name;
      for (auto& [name, vb] : g.vhosts) {
        std::sort(vb.entries.begin(), vb.entries.end(), precedes);
        detail::VirtualHost vh;
        vh.kind = vb.kind;
        vh.host = vb.host;
        for (auto& e : vb.entries) vh.matches.push_back(std::move(e.compiled));
        hg.vhosts.push_back(std::move(vh));
      }
      order_hosts(hg.vhosts);
      out.host_groups.push_back(std::move(hg));
    }
    order_hosts(out.host_groups);
  }

  // --- backends ---

  // The filters of one list (a rule's or one backendRef's). `invalid` collects combinations the spec
  // forbids (the rule is not programmed); `unsupported` collects filters mirrorgate cannot apply, which
  // must not be skipped (ExtensionRef, ExternalAuth: requests they would process get 500).
  struct FilterBuild {
    Filters filters;
    std::vector<MirrorTarget> mirrors;
    std::vector<std::string> invalid;
    std::vector<std::string> unsupported;
  };

  FilterBuild build_filters(const config::HTTPRoute& route, const std::vector<config::HTTPRouteFilter>& in,
                            const std::string& at, bool single_prefix_match, const std::string& where) {
    FilterBuild b;
    std::set<std::string> seen;
    bool redirect = false, rewrite = false;
    for (size_t i = 0; i < in.size(); ++i) {
      const config::HTTPRouteFilter& f = in[i];
      const std::string fat = at + "[" + std::to_string(i) + "]";
      if (f.type != "RequestMirror" && f.type != "ExtensionRef" && !seen.insert(f.type).second)
        b.invalid.push_back(fat + ".type: " + f.type + " may appear at most once");
      redirect |= f.type == "RequestRedirect";
      rewrite |= f.type == "URLRewrite";
      auto missing = [&](std::string_view stanza) {
        b.invalid.push_back(fat + "." + std::string(stanza) + ": required when type is " + f.type);
      };
      if (f.type == "RequestHeaderModifier") {
        if (!f.request_header_modifier) {
          missing("requestHeaderModifier");
          continue;
        }
        b.filters.request_headers =
            make_header_modifier(*f.request_header_modifier, fat + ".requestHeaderModifier", b.invalid);
      } else if (f.type == "ResponseHeaderModifier") {
        if (!f.response_header_modifier) {
          missing("responseHeaderModifier");
          continue;
        }
        b.filters.response_headers =
            make_header_modifier(*f.response_header_modifier, fat + ".responseHeaderModifier", b.invalid);
      } else if (f.type == "RequestRedirect") {
        if (!f.request_redirect) {
          missing("requestRedirect");
          continue;
        }
        const auto& r = *f.request_redirect;
        RequestRedirect out;
        out.scheme = r.scheme.value_or("");
        out.hostname = r.hostname.value_or("");
        out.port = r.port.value_or(0);
        out.path = path_modifier(r.path, single_prefix_match, fat + ".requestRedirect", b.invalid);
        out.status_code = r.status_code;
        b.filters.redirect = std::move(out);
      } else if (f.type == "URLRewrite") {
        if (!f.url_rewrite) {
          missing("urlRewrite");
          continue;
        }
        UrlRewrite out;
        out.hostname = f.url_rewrite->hostname.value_or("");
        out.path = path_modifier(f.url_rewrite->path, single_prefix_match, fat + ".urlRewrite", b.invalid);
        b.filters.rewrite = std::move(out);
      } else if (f.type == "CORS") {
        if (!f.cors) {
          missing("cors");
          continue;
        }
        b.filters.cors = make_cors(*f.cors, fat + ".cors", b.invalid);
      } else if (f.type == "RequestMirror") {
        if (!f.request_mirror) {
          missing("requestMirror");
          continue;
        }
        b.mirrors.push_back(mirror_target(route, *f.request_mirror, where));
      } else {  // ExtensionRef, ExternalAuth, or a type added to the API after this was written
        b.unsupported.push_back(fat + ".type: " + f.type + " filters are not supported");
      }
    }
    if (redirect && rewrite) b.invalid.push_back(at + ": RequestRedirect and URLRewrite cannot both be set");
    return b;
  }

  MirrorTarget mirror_target(const config::HTTPRoute& route, const config::HTTPRequestMirrorFilter& in,
                             const std::string& where) {
    MirrorTarget mt;
    std::tie(mt.cluster, mt.name) =
        resolve(route, in.backend_ref, where + ": mirror backendRef", "mirrored copies fail");
    if (in.percent) {
      mt.numerator = static_cast<uint32_t>(*in.percent);
      mt.denominator = 100;
    } else if (in.fraction) {
      mt.numerator = static_cast<uint32_t>(in.fraction->numerator);
      mt.denominator = static_cast<uint32_t>(in.fraction->denominator);
    }
    return mt;
  }

  // A match whose regular expression RE2 refuses never matches (the route's other matches and rules keep
  // serving); the route's status says which and why (Accepted=False/UnsupportedValue), as for other values
  // that cannot be programmed.
  void regex_problem(const std::string& route_id, const std::string& where, const std::string& at,
                     const std::string& pattern, const std::string& error) {
    std::string problem = at + ": invalid regular expression \"" + pattern + "\" (" + error + "); match disabled";
    warn(where + ": " + problem);
    add_problem(route_id, std::move(problem));
  }

  void add_problem(const std::string& route_id, std::string problem) {
    auto& list = table_->route_problems[route_id];
    if (std::find(list.begin(), list.end(), problem) == list.end()) list.push_back(std::move(problem));
  }

  Rule build_rule(const config::HTTPRoute& route, const std::string& route_id, size_t index) {
    const config::HTTPRouteRule& in = route.rules[index];
    Rule rule;
    rule.route = route_id;
    rule.rule_index = index;
    rule.name = in.name.value_or("");
    rule.label = rule.name.empty() ? std::to_string(index) : rule.name;
    const std::string where = "HTTPRoute " + route_id + " rule " + std::to_string(index);
    const bool single_prefix_match = in.matches.size() == 1 && in.matches[0].path.type == "PathPrefix";
    std::vector<std::string> invalid;  // any entry: the rule is not programmed and answers 500

    for (size_t b = 0; b < in.backend_refs.size(); ++b) {
      const config::HTTPBackendRef& br = in.backend_refs[b];
      BackendChoice choice;
      std::tie(choice.cluster, choice.name) =
          resolve(route, br.ref, where + ": backendRef", "requests get 500");
      choice.weight = static_cast<uint32_t>(br.weight);
      FilterBuild bf =
          build_filters(route, br.filters, field(index, ".backendRefs[" + std::to_string(b) + "].filters"),
                        single_prefix_match, where);
      invalid.insert(invalid.end(), bf.invalid.begin(), bf.invalid.end());
      // A filter that cannot be applied must not be skipped: only this backend's share gets 500.
      for (auto& p : bf.unsupported) {
        warn(where + ": " + p + "; requests to backend " + choice.name + " get 500");
        add_problem(route_id, std::move(p));
        choice.cluster = -1;
      }
      choice.filters = std::move(bf.filters);
      choice.mirrors = std::move(bf.mirrors);
      rule.total_weight += choice.weight;
      rule.backends.push_back(std::move(choice));
    }

    // Resolved after the backends so cluster numbering (and warnings) keep backends first.
    FilterBuild rf = build_filters(route, in.filters, field(index, ".filters"), single_prefix_match, where);
    invalid.insert(invalid.begin(), rf.unsupported.begin(), rf.unsupported.end());
    invalid.insert(invalid.begin(), rf.invalid.begin(), rf.invalid.end());
    if (rf.filters.redirect && !in.backend_refs.empty())
      invalid.push_back(field(index, ".filters") +
                        ": RequestRedirect cannot be used together with backendRefs");
    rule.filters = std::move(rf.filters);
    rule.mirrors = std::move(rf.mirrors);

    if (in.timeouts) {
      const std::string at = field(index, ".timeouts");
      if (in.timeouts->request && !to_millis(*in.timeouts->request, rule.timeouts.request))
        invalid.push_back(at + ".request: invalid duration \"" + in.timeouts->request->text + "\"");
      if (in.timeouts->backend_request &&
          !to_millis(*in.timeouts->backend_request, rule.timeouts.backend_request))
        invalid.push_back(at + ".backendRequest: invalid duration \"" + in.timeouts->backend_request->text +
                          "\"");
      // "0s" disables a timeout, so a zero request timeout bounds nothing.
      if (in.timeouts->request && in.timeouts->backend_request && rule.timeouts.request.count() != 0 &&
          rule.timeouts.backend_request > rule.timeouts.request)
        invalid.push_back(at + ".backendRequest: cannot be longer than the request timeout");
    }
    if (in.retry) {
      // Attempts left out: the spec leaves the default to us; a retry stanza asks for retries, so one.
      // An explicit 0 disables retries, as the spec requires.
      rule.retry.attempts = static_cast<uint32_t>(std::max(in.retry->attempts.value_or(1), 0));
      rule.retry.codes.assign(in.retry->codes.begin(), in.retry->codes.end());
      if (in.retry->backoff && !to_millis(*in.retry->backoff, rule.retry.backoff))
        invalid.push_back(field(index, ".retry.backoff") + ": invalid duration \"" + in.retry->backoff->text +
                          "\"");
    }

    // One immutable settings object per MirrorPolicy, shared by every mirror it governs.
    if (auto settings = mirror_policies_.for_rule(route_id, index)) {
      for (auto& m : rule.mirrors) m.settings = settings;
      for (auto& b : rule.backends)
        for (auto& m : b.mirrors) m.settings = settings;
    }

    if (invalid.empty()) return rule;
    // Not programmed: no backends (so every request gets 500), no filters, no mirrors.
    for (auto& p : invalid) {
      warn(where + ": " + p + "; rule not programmed, requests get 500");
      add_problem(route_id, std::move(p));
    }
    Rule dead;
    dead.route = rule.route;
    dead.rule_index = rule.rule_index;
    dead.name = std::move(rule.name);
    dead.label = std::move(rule.label);
    return dead;
  }

  template <typename Route>
  std::pair<int, std::string> resolve(const Route& route, const config::BackendObjectReference& ref,
                                      const std::string& where, std::string_view consequence) {
    const std::string ns = ref.namespace_.value_or(route.metadata.namespace_);
    const std::string port = ref.port ? std::to_string(*ref.port) : "?";
    std::string name = ns + "/" + ref.name + ":" + port;
    const std::string what = ref.kind + " " + ns + "/" + ref.name;
    auto invalid = [&](const std::string& problem) {
      warn(where + " " + what + " " + problem + "; " + std::string(consequence));
      return std::make_pair(-1, name);
    };
    if (const auto problem = backend_ref_problem(set_, services_, route.metadata.namespace_, ref, route_kind(route)))
      return invalid(problem->problem);
    const config::Service& svc = *services_.at(key(ns, ref.name));
    const auto sp =
        std::find_if(svc.ports.begin(), svc.ports.end(), [&](const auto& p) { return p.port == *ref.port; });
    const BackendTlsOutcome* tls = backend_tls_.for_port(ns, ref.name, sp->name);
    if (tls && !tls->context) return invalid(backend_tls_problem(*tls));
    const auto [it, inserted] = cluster_index_.try_emplace(name, static_cast<int>(table_->clusters.size()));
    if (inserted)
      table_->clusters.push_back(Cluster{name, ref.name + "." + ns + ".svc:" + std::to_string(*ref.port), ns,
                                         ref.name, *sp, upstream_protocol_of(*sp), tls ? tls->context : nullptr});
    return {it->second, name};
  }

  // --- policies ---

  const ClientTrafficSettings* client_traffic_for(const std::string& gw_id, int32_t port) const {
    const auto gw = client_traffic_.by_port.find(gw_id);
    if (gw == client_traffic_.by_port.end()) return nullptr;
    const auto it = gw->second.find(port);
    return it == gw->second.end() ? nullptr : it->second.get();
  }

  void apply_client_traffic_policies() {
    const ClientTrafficResolution& resolved = client_traffic_;
    for (auto& l : table_->listeners) {
      const auto gw = resolved.by_port.find(l.gateway);
      if (gw == resolved.by_port.end()) continue;
      if (const auto it = gw->second.find(l.port); it != gw->second.end()) l.client_traffic = it->second;
    }
    for (const auto& [policy, ancestors] : resolved.ancestors)
      for (const auto& a : ancestors)
        if (!a.accepted)
          warn("ClientTrafficPolicy " + policy + ": Gateway " + a.gateway_namespace + "/" + a.gateway_name +
               (a.section_name ? " listener " + *a.section_name : "") + ": " + a.reason + ": " + a.message +
               "; not applied there");
  }

  // --- whole-table checks ---

  void warn_unattached_routes() {
    for (const auto& [what, status] : attachment_) {
      if (!status.attached)
        warn("HTTPRoute " + what + ": not attached" +
             (status.reason.empty() ? "" : " (" + status.reason + ")"));
    }
  }

  // A parentRef to a Gateway that does not exist leaves the route serving nothing through it, silently
  // in a cluster (no controller owns such a parent); read from files, every object is ours to report.
  void warn_missing_parents() {
    for (const auto& route : set_.http_routes) {
      for (size_t i = 0; i < route.parent_refs.size(); ++i) {
        const auto& ref = route.parent_refs[i];
        if (ref.group != kGatewayGroup || ref.kind != "Gateway") continue;
        const std::string gw_ns = ref.namespace_.value_or(route.metadata.namespace_);
        const bool exists = std::any_of(set_.gateways.begin(), set_.gateways.end(), [&](const auto& g) {
          return g.metadata.name == ref.name && g.metadata.namespace_ == gw_ns;
        });
        if (!exists)
          warn("HTTPRoute " + key(route.metadata.namespace_, route.metadata.name) + " spec.parentRefs[" +
               std::to_string(i) + "]: Gateway " + key(gw_ns, ref.name) +
               " does not exist; the route serves no traffic through it");
      }
    }
  }

  // A policy that governs nothing is easy to miss: say so at every (re)load, as status does.
  void warn_unapplied_mirror_policies() {
    for (const auto& o : mirror_policies_.outcomes()) {
      for (size_t i = 0; i < o.targets.size(); ++i) {
        const auto& t = o.targets[i];
        if (t.reason == PolicyTargetReason::kAccepted) continue;
        warn("MirrorPolicy " + key(o.policy->metadata.namespace_, o.policy->metadata.name) +
             " spec.targetRefs[" + std::to_string(i) + "]: " + std::string(reason_name(t.reason)) + ": " +
             t.message);
      }
    }
  }

  // A policy whose CAs do not all resolve (or that lost a conflict) says so at every (re)load, as status does.
  void warn_backend_tls_problems() {
    for (const auto& o : backend_tls_.outcomes) {
      if (!o.accepted) warn("BackendTLSPolicy " + o.id + ": " + o.accepted_reason + ": " + o.accepted_message);
      else if (!o.resolved_refs) warn("BackendTLSPolicy " + o.id + ": " + o.refs_reason + ": " + o.refs_message);
      for (size_t t = 0; t < o.conflicted_by.size(); ++t)
        if (!o.conflicted_by[t].empty())
          warn("BackendTLSPolicy " + o.id + " spec.targetRefs[" + std::to_string(t) + "]: Conflicted: BackendTLSPolicy " +
               o.conflicted_by[t] + " targets the same Service port and takes precedence; not applied there");
    }
  }

  // --- status ---

  StatusSnapshot status() {
    // compute_status may stand in for an address provider; the data plane always binds bind_addresses_.
    const auto& addresses = options_.assigned_addresses ? *options_.assigned_addresses : bind_addresses_;
    std::map<std::string, std::vector<std::string>> problems = table_->route_problems;
    if (options_.extra_route_problems)
      for (const auto& [route, message] : *options_.extra_route_problems) problems[route] = {message};
    StatusSnapshot out = build_status(StatusInputs{
        set_, controller_, managed_classes_, services_, namespace_labels_, addresses, problems,
        [this](const config::Gateway& gw, const config::Listener& l) -> const ListenerCertificate& {
          return certificate(gw, l);
        },
        mirror_policies_, client_traffic_, backend_tls_, *port_claims_, published_ ? &*published_ : nullptr,
        options_.address_pool ? "the address pool " + options_.address_pool->cidr() +
                                    " (--gateway-address-pool) has no free address"
                              : std::string()});
    out.time = options_.time.empty() ? now_rfc3339() : options_.time;
    carry_transition_times(out, options_.previous ? options_.previous->status.get() : nullptr);
    return out;
  }

  struct Attachment {
    bool attached = false;
    std::string reason;
  };

  const ObjectSet& set_;
  const TranslateOptions& options_;
  std::string controller_;
  std::shared_ptr<RouteTable> table_;
  std::set<std::string> managed_classes_;
  std::unordered_map<std::string, std::map<std::string, std::string>> namespace_labels_;
  ServiceIndex services_;
  std::unordered_map<std::string, int> cluster_index_;
  std::unordered_map<const config::HTTPRoute*, size_t> route_rule_base_;  // for the Listener being built
  std::map<std::string, Attachment> attachment_;
  MirrorPolicies mirror_policies_;
  ClientTrafficResolution client_traffic_;
  BackendTlsResolution backend_tls_;
  std::map<std::string, std::string> bind_addresses_;  // our Gateways, "ns/name" -> address
  std::optional<PortClaims> port_claims_;
  std::optional<PublishedAddresses> published_;
  std::map<const config::Listener*, ListenerCertificate> certificates_;
};

}  // namespace

std::optional<std::string> intersect_hostnames(std::string_view listener, std::string_view route) {
  const std::string l = to_lower(std::string(listener)), r = to_lower(std::string(route));
  if (l.empty()) return r;
  if (r.empty()) return l;
  if (l == r) return l;
  const bool lw = l.starts_with("*."), rw = r.starts_with("*.");
  if (lw && !rw) return wildcard_covers(l, r) ? std::optional(r) : std::nullopt;
  if (!lw && rw) return wildcard_covers(r, l) ? std::optional(l) : std::nullopt;
  if (lw && rw) {  // the narrower wildcard, when one contains the other
    if (wildcard_covers(l, r.substr(1))) return r;
    if (wildcard_covers(r, l.substr(1))) return l;
  }
  return std::nullopt;
}

bool selector_matches(const config::LabelSelector& sel, const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : sel.match_labels) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& e : sel.match_expressions) {
    const auto it = labels.find(e.key);
    const bool in =
        it != labels.end() && std::find(e.values.begin(), e.values.end(), it->second) != e.values.end();
    if (e.op == "In" && !in) return false;
    if (e.op == "NotIn" && in) return false;
    if (e.op == "Exists" && it == labels.end()) return false;
    if (e.op == "DoesNotExist" && it != labels.end()) return false;
  }
  return true;
}

std::shared_ptr<const RouteTable> translate(const config::ObjectSet& set, const TranslateOptions& options) {
  return Translator(set, options).run();
}

std::shared_ptr<const RouteTable> translate(const config::ObjectSet& set, std::string_view controller_name,
                                            const RouteTable* previous) {
  TranslateOptions options;
  options.controller_name = controller_name;
  options.previous = previous;
  return translate(set, options);
}

}  // namespace mg::route
