#include "route/status.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <string_view>
#include <utility>

#include "route/certificates.h"
#include "route/client_traffic_policy.h"
#include "route/mirror_policies.h"

namespace mg::route {
namespace {

using nlohmann::json;

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";
constexpr std::string_view kApiVersion = "gateway.networking.k8s.io/v1";

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string now_rfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One metav1.Condition.
struct Condition {
  std::string type;
  bool status = true;
  std::string reason;
  std::string message;
};

json to_json(const Condition& c, int64_t generation, const std::string& time) {
  return json{{"type", c.type},
              {"status", c.status ? "True" : "False"},
              {"reason", c.reason},
              {"message", c.message},
              {"lastTransitionTime", time},
              {"observedGeneration", generation}};
}

json conditions_json(const std::vector<Condition>& cs, int64_t generation, const std::string& time) {
  json out = json::array();
  for (const auto& c : cs) out.push_back(to_json(c, generation, time));
  return out;
}

json metadata(const config::ObjectMeta& m, bool namespaced) {
  json out{{"name", m.name}, {"generation", m.generation}};
  if (namespaced) out["namespace"] = m.namespace_;
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// The listener's view of an HTTPRoute: whether, and why not, routes of that kind may attach.
struct ListenerState {
  const config::Listener* spec = nullptr;
  bool serves_http = false;  // HTTP or HTTPS: the protocols an HTTPRoute can attach to
  json supported_kinds = json::array();
  bool route_kind_allowed = false;
  Condition accepted{"Accepted", true, "Accepted", "listener is valid"};
  Condition resolved{"ResolvedRefs", true, "ResolvedRefs", "all references resolved"};
  Condition programmed{"Programmed", true, "Programmed", ""};
  Condition conflicted{"Conflicted", false, "NoConflicts", "no conflicts"};
  std::set<std::string> attached;  // routes Accepted through this listener
};

class StatusBuilder {
 public:
  StatusBuilder(const config::ObjectSet& set, const StatusOptions& options)
      : set_(set),
        options_(options),
        time_(options.transition_time.empty() ? now_rfc3339() : options.transition_time) {}

  json run() {
    index();
    json items = json::array();
    for (const auto& gc : set_.gateway_classes)
      if (gc.controller_name == options_.controller_name) items.push_back(gateway_class(gc));
    for (const auto& gw : set_.gateways) {
      if (classes_.count(gw.gateway_class_name))
        gateways_.emplace(key(gw.metadata.namespace_, gw.metadata.name), evaluate_listeners(gw));
    }
    // Routes first: they fill in the listeners' attachedRoutes.
    json routes = json::array();
    for (const auto& route : set_.http_routes) routes.push_back(http_route(route));
    for (const auto& gw : set_.gateways)
      if (classes_.count(gw.gateway_class_name)) items.push_back(gateway(gw));
    for (auto& r : routes) items.push_back(std::move(r));
    const MirrorPolicies policies(set_);
    for (const auto& outcome : policies.outcomes()) items.push_back(mirror_policy(outcome));
    const ClientTrafficResolution client_traffic = resolve_client_traffic_policies(set_, options_.controller_name);
    for (const auto& p : set_.client_traffic_policies) items.push_back(client_traffic_policy(p, client_traffic));
    return json{{"items", std::move(items)}};
  }

 private:
  void index() {
    for (const auto& gc : set_.gateway_classes)
      if (gc.controller_name == options_.controller_name) classes_.insert(gc.metadata.name);
    for (const auto& ns : set_.namespaces) namespace_labels_[ns.metadata.name] = ns.metadata.labels;
    for (const auto& svc : set_.services) services_[key(svc.metadata.namespace_, svc.metadata.name)] = &svc;
  }

  // --- GatewayClass ---

  json gateway_class(const config::GatewayClass& gc) const {
    Condition accepted{"Accepted", true, "Accepted", "handled by " + options_.controller_name};
    if (gc.parameters_ref)
      accepted.message += "; parametersRef is ignored (mirrorgate takes no class parameters)";
    json features = json::array();
    std::vector<std::string> names = options_.supported_features;
    std::sort(names.begin(), names.end());  // the API lists them sorted
    for (const auto& f : names) features.push_back(json{{"name", f}});
    return json{{"apiVersion", kApiVersion},
                {"kind", "GatewayClass"},
                {"metadata", metadata(gc.metadata, false)},
                {"status",
                 {{"conditions", conditions_json({accepted}, gc.metadata.generation, time_)},
                  {"supportedFeatures", std::move(features)}}}};
  }

  // --- Gateway and its listeners ---

  // Duplicated from translator.cpp's private namespace_allowed (that file is not ours to change):
  // the same rule, so status and routing agree on which namespaces a listener admits.
  bool namespace_allowed(const config::Gateway& gw, const config::Listener& l,
                         const std::string& route_ns) const {
    const auto& from = l.allowed_routes.namespaces.from;
    if (from == "All") return true;
    if (from == "Same") return route_ns == gw.metadata.namespace_;
    if (from == "Selector" && l.allowed_routes.namespaces.selector) {
      std::map<std::string, std::string> labels;
      if (auto it = namespace_labels_.find(route_ns); it != namespace_labels_.end()) labels = it->second;
      labels.emplace("kubernetes.io/metadata.name", route_ns);  // set by the API server on every Namespace
      return selector_matches(*l.allowed_routes.namespaces.selector, labels);
    }
    return false;
  }

  // Duplicated from translator.cpp's private grant_allows, generalised to any from/to kind so that
  // listener certificateRefs (Gateway -> Secret) use the same rule as backendRefs (HTTPRoute -> Service).
  bool grant_allows(std::string_view from_kind, const std::string& from_ns, std::string_view to_kind,
                    const std::string& to_ns, const std::string& name) const {
    for (const auto& g : set_.reference_grants) {
      if (g.metadata.namespace_ != to_ns) continue;
      const bool from = std::any_of(g.from.begin(), g.from.end(), [&](const auto& f) {
        return f.group == kGatewayGroup && f.kind == from_kind && f.namespace_ == from_ns;
      });
      const bool to = std::any_of(g.to.begin(), g.to.end(), [&](const auto& t) {
        return t.group.empty() && t.kind == to_kind && (!t.name || *t.name == name);
      });
      if (from && to) return true;
    }
    return false;
  }

  std::vector<ListenerState> evaluate_listeners(const config::Gateway& gw) const {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    const bool has_address = options_.gateway_addresses.count(gw_id) > 0;
    std::vector<ListenerState> out;
    for (const auto& l : gw.listeners) {
      ListenerState s;
      s.spec = &l;
      s.serves_http = l.protocol == "HTTP" || l.protocol == "HTTPS";
      std::vector<std::string> ref_problems;
      std::string ref_reason;
      auto problem = [&](std::string reason, std::string message) {
        if (ref_reason.empty()) ref_reason = std::move(reason);
        ref_problems.push_back(std::move(message));
      };

      // Route kinds: an HTTPRoute is the only kind mirrorgate serves, and only on HTTP(S) listeners.
      if (l.allowed_routes.kinds.empty()) {
        if (s.serves_http) s.supported_kinds.push_back(json{{"group", kGatewayGroup}, {"kind", "HTTPRoute"}});
      } else {
        for (const auto& k : l.allowed_routes.kinds) {
          if (s.serves_http && k.group == kGatewayGroup && k.kind == "HTTPRoute") {
            s.supported_kinds.push_back(json{{"group", k.group}, {"kind", k.kind}});
          } else {
            problem("InvalidRouteKinds", "route kind " + (k.group.empty() ? "" : k.group + "/") + k.kind +
                                             " is not supported on a " + l.protocol + " listener");
          }
        }
      }
      s.route_kind_allowed = !s.supported_kinds.empty();

      // TLS certificates: the same resolution the translator serves from (route/certificates.h).
      bool tls_ok = false;
      if (l.tls) {
        ListenerCertificate cert = resolve_listener_certificate(set_, gw, l);
        for (auto& p : cert.problems) problem(cert.reason, std::move(p));
        tls_ok = cert.certificate.has_value();
      }
      if (!ref_problems.empty()) s.resolved = {"ResolvedRefs", false, ref_reason, join(ref_problems, "; ")};

      const bool passthrough = l.tls && l.tls->mode != "Terminate";
      if (l.protocol == "HTTP" || (l.protocol == "HTTPS" && !passthrough)) {
        if (l.protocol == "HTTPS" && !tls_ok) {
          s.programmed = {"Programmed", false, "Invalid",
                          "no valid certificate: " + (s.resolved.status ? std::string("none given") : s.resolved.message)};
        } else if (has_address) {
          s.programmed.message =
              "serving on " + options_.gateway_addresses.at(gw_id) + ":" + std::to_string(l.port);
        } else {
          s.programmed = {"Programmed", false, "Pending", "the Gateway has no address yet"};
        }
      } else if (l.protocol == "HTTPS") {
        s.accepted = {"Accepted", false, "UnsupportedProtocol",
                      "TLS mode " + l.tls->mode + " is not supported (mirrorgate terminates TLS only)"};
        s.programmed = {"Programmed", false, "Invalid", "TLS mode " + l.tls->mode + " is not supported"};
      } else {
        s.accepted = {"Accepted", false, "UnsupportedProtocol",
                      "protocol " + l.protocol + " is not supported (only HTTP and HTTPS are served)"};
        s.programmed = {"Programmed", false, "Invalid", "protocol " + l.protocol + " is not supported"};
      }
      out.push_back(std::move(s));
    }
    mark_conflicts(out);
    return out;
  }

  // Listeners sharing a port must agree on the protocol and differ in hostname. The translator still
  // serves conflicting HTTP listeners (the first one wins a hostname), so this only reports the clash.
  static void mark_conflicts(std::vector<ListenerState>& listeners) {
    for (auto& a : listeners) {
      for (const auto& b : listeners) {
        if (&a == &b || a.spec->port != b.spec->port) continue;
        if (a.spec->protocol != b.spec->protocol) {
          a.conflicted = {"Conflicted", true, "ProtocolConflict",
                          "port " + std::to_string(a.spec->port) + " is also used with protocol " +
                              b.spec->protocol + " by listener " + b.spec->name};
          break;
        }
        if (a.spec->hostname.value_or("") == b.spec->hostname.value_or("")) {
          a.conflicted = {"Conflicted", true, "HostnameConflict",
                          "listener " + b.spec->name + " uses the same port and hostname"};
        }
      }
    }
  }

  json gateway(const config::Gateway& gw) const {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    const auto& listeners = gateways_.at(gw_id);
    const auto address = options_.gateway_addresses.find(gw_id);
    std::vector<std::string> invalid, served;
    json listeners_json = json::array();
    for (const auto& s : listeners) {
      if (!s.accepted.status) invalid.push_back(s.spec->name);
      if (s.programmed.status) served.push_back(s.spec->name);
      listeners_json.push_back(
          json{{"name", s.spec->name},
               {"supportedKinds", s.supported_kinds},
               {"attachedRoutes", s.attached.size()},
               {"conditions", conditions_json({s.accepted, s.programmed, s.resolved, s.conflicted},
                                              gw.metadata.generation, time_)}});
    }
    Condition accepted{"Accepted", true, "Accepted", "Gateway is valid"};
    // The spec allows either status with ListenersNotValid. The Gateway object itself is valid, so it
    // stays Accepted; whether anything is served is what Programmed (and each listener) says.
    if (!invalid.empty())
      accepted = {"Accepted", true, "ListenersNotValid", "listeners not accepted: " + join(invalid, ", ")};
    Condition programmed{"Programmed", true, "Programmed", ""};
    if (address == options_.gateway_addresses.end()) {
      programmed = {"Programmed", false, "AddressNotAssigned", "the Gateway has no address"};
    } else if (served.empty()) {
      programmed = {"Programmed", false, "Invalid", "none of its listeners is served"};
    } else {
      programmed.message = "serving listeners " + join(served, ", ") + " on " + address->second;
    }
    json status{{"conditions", conditions_json({accepted, programmed}, gw.metadata.generation, time_)},
                {"listeners", std::move(listeners_json)}};
    if (address != options_.gateway_addresses.end())
      status["addresses"] = json::array({json{{"type", "IPAddress"}, {"value", address->second}}});
    return json{{"apiVersion", kApiVersion},
                {"kind", "Gateway"},
                {"metadata", metadata(gw.metadata, true)},
                {"status", std::move(status)}};
  }

  // --- HTTPRoute ---

  // Mirrors translator.cpp's resolve(): the same checks in the same order, so the reason here is the
  // one behind the translator's warning (and the 500 the data plane answers).
  std::optional<Condition> backend_problem(const config::HTTPRoute& route,
                                           const config::BackendObjectReference& ref) const {
    const std::string ns = ref.namespace_.value_or(route.metadata.namespace_);
    const std::string what =
        (ref.group.empty() ? "" : ref.group + "/") + ref.kind + " " + ns + "/" + ref.name;
    if (!(ref.group.empty() || ref.group == "core") || ref.kind != "Service")
      return Condition{"ResolvedRefs", false, "InvalidKind",
                       what + " is not supported (only core Services are)"};
    if (ns != route.metadata.namespace_ &&
        !grant_allows("HTTPRoute", route.metadata.namespace_, "Service", ns, ref.name))
      return Condition{"ResolvedRefs", false, "RefNotPermitted",
                       what + " is in another namespace and no ReferenceGrant in " + ns + " allows it"};
    const auto svc = services_.find(key(ns, ref.name));
    if (svc == services_.end())
      return Condition{"ResolvedRefs", false, "BackendNotFound", what + " not found"};
    if (!ref.port)
      return Condition{"ResolvedRefs", false, "UnsupportedValue",
                       what + " has no port (required for Services)"};
    const auto& ports = svc->second->ports;
    if (std::none_of(ports.begin(), ports.end(), [&](const auto& p) { return p.port == *ref.port; }))
      return Condition{"ResolvedRefs", false, "BackendNotFound",
                       what + " has no port " + std::to_string(*ref.port)};
    return std::nullopt;
  }

  Condition resolved_refs(const config::HTTPRoute& route) const {
    std::vector<Condition> problems;
    auto check = [&](const config::BackendObjectReference& ref) {
      if (auto p = backend_problem(route, ref)) problems.push_back(std::move(*p));
    };
    auto check_filters = [&](const std::vector<config::HTTPRouteFilter>& filters) {
      for (const auto& f : filters)
        if (f.type == "RequestMirror" && f.request_mirror) check(f.request_mirror->backend_ref);
    };
    for (const auto& rule : route.rules) {
      check_filters(rule.filters);
      for (const auto& br : rule.backend_refs) {
        check(br.ref);
        check_filters(br.filters);
      }
    }
    if (problems.empty()) return {"ResolvedRefs", true, "ResolvedRefs", "all backendRefs resolved"};
    std::vector<std::string> messages;
    for (const auto& p : problems) messages.push_back(p.message);
    return {"ResolvedRefs", false, problems.front().reason, join(messages, "; ")};
  }

  static bool hostnames_intersect(const config::Listener& l, const config::HTTPRoute& route) {
    if (route.hostnames.empty()) return true;
    const std::string lh = l.hostname.value_or("");
    return std::any_of(route.hostnames.begin(), route.hostnames.end(),
                       [&](const std::string& rh) { return intersect_hostnames(lh, rh).has_value(); });
  }

  // Accepted for one parentRef; records the attachment on every listener that takes the route.
  Condition accept(const config::HTTPRoute& route, const std::string& route_id, const config::Gateway& gw,
                   const config::ParentReference& ref) {
    auto& listeners = gateways_.at(key(gw.metadata.namespace_, gw.metadata.name));
    bool named = false, admitted = false;
    std::vector<ListenerState*> taking;
    for (auto& s : listeners) {
      if (ref.section_name && *ref.section_name != s.spec->name) continue;
      if (ref.port && *ref.port != s.spec->port) continue;
      named = true;
      if (!s.route_kind_allowed || !namespace_allowed(gw, *s.spec, route.metadata.namespace_)) continue;
      admitted = true;
      if (hostnames_intersect(*s.spec, route)) taking.push_back(&s);
    }
    std::string which;
    if (ref.section_name) which += " sectionName " + *ref.section_name;
    if (ref.port) which += " port " + std::to_string(*ref.port);
    if (!named) return {"Accepted", false, "NoMatchingParent", "the Gateway has no listener with" + which};
    if (!admitted)
      return {"Accepted", false, "NotAllowedByListeners",
              "no listener" + which + " allows HTTPRoutes from namespace " + route.metadata.namespace_};
    if (taking.empty())
      return {"Accepted", false, "NoMatchingListenerHostname",
              "no route hostname intersects the hostname of a listener" + which};
    if (auto p = options_.route_problems.find(route_id); p != options_.route_problems.end())
      return {"Accepted", false, "UnsupportedValue", p->second};
    std::vector<std::string> names;
    for (auto* s : taking) {
      s->attached.insert(route_id);
      names.push_back(s->spec->name);
    }
    return {"Accepted", true, "Accepted", "attached to listener " + join(names, ", ")};
  }

  json http_route(const config::HTTPRoute& route) {
    const std::string route_id = key(route.metadata.namespace_, route.metadata.name);
    const Condition resolved = resolved_refs(route);
    json parents = json::array();
    std::set<json> seen;
    for (const auto& ref : route.parent_refs) {
      if (ref.group != kGatewayGroup || ref.kind != "Gateway") continue;
      const std::string gw_ns = ref.namespace_.value_or(route.metadata.namespace_);
      const auto gw = std::find_if(set_.gateways.begin(), set_.gateways.end(), [&](const auto& g) {
        return g.metadata.name == ref.name && g.metadata.namespace_ == gw_ns;
      });
      // A parent of another controller is not ours to answer for. One that does not exist is not either
      // in a cluster; read from files, every object is ours, so the route learns why it serves nothing.
      const bool missing = gw == set_.gateways.end();
      if (missing ? !options_.report_missing_parents : !classes_.count(gw->gateway_class_name)) continue;
      json parent_ref{{"group", ref.group}, {"kind", ref.kind}, {"name", ref.name}, {"namespace", gw_ns}};
      if (ref.section_name) parent_ref["sectionName"] = *ref.section_name;
      if (ref.port) parent_ref["port"] = *ref.port;
      if (!seen.insert(parent_ref).second) continue;
      const Condition accepted =
          missing ? Condition{"Accepted", false, "NoMatchingParent", "Gateway " + key(gw_ns, ref.name) + " does not exist"}
                  : accept(route, route_id, *gw, ref);
      parents.push_back(
          json{{"parentRef", std::move(parent_ref)},
               {"controllerName", options_.controller_name},
               {"conditions", conditions_json({accepted, resolved}, route.metadata.generation, time_)}});
    }
    return json{{"apiVersion", kApiVersion},
                {"kind", "HTTPRoute"},
                {"metadata", metadata(route.metadata, true)},
                {"status", {{"parents", std::move(parents)}}}};
  }

  // --- MirrorPolicy ---

  // GEP-713 PolicyStatus. The ancestor of each entry is the targeted HTTPRoute (with the rule's
  // sectionName), one per targetRef, rather than the route's Gateways: whether a policy applies is
  // decided per route rule, so TargetNotFound and Conflicted belong to a route, and a policy on a route
  // that is attached to no Gateway (yet) still gets a status. docs/status.md says more.
  json mirror_policy(const MirrorPolicyOutcome& outcome) const {
    const config::MirrorPolicy& p = *outcome.policy;
    json ancestors = json::array();
    for (const auto& t : outcome.targets) {
      json ref{{"group", t.ref.group},
               {"kind", t.ref.kind},
               {"name", t.ref.name},
               {"namespace", p.metadata.namespace_}};
      if (t.ref.section_name) ref["sectionName"] = *t.ref.section_name;
      const bool accepted = t.reason == PolicyTargetReason::kAccepted;
      const Condition condition{"Accepted", accepted, std::string(reason_name(t.reason)), t.message};
      ancestors.push_back(policy_ancestor(std::move(ref), condition, p.metadata));
    }
    return policy_status("MirrorPolicy", p.metadata, std::move(ancestors));
  }

  // One GEP-713 PolicyAncestorStatus: the ancestor, our controller, its single condition.
  json policy_ancestor(json ref, const Condition& condition, const config::ObjectMeta& policy) const {
    return json{{"ancestorRef", std::move(ref)},
                {"controllerName", options_.controller_name},
                {"conditions", conditions_json({condition}, policy.generation, time_)}};
  }

  // A mirrorgate.io policy object as status lists it.
  json policy_status(std::string_view kind, const config::ObjectMeta& policy, json ancestors) const {
    return json{{"apiVersion", "mirrorgate.io/v1alpha1"},
                {"kind", kind},
                {"metadata", metadata(policy, true)},
                {"status", {{"ancestors", std::move(ancestors)}}}};
  }

  // --- ClientTrafficPolicy (GEP-713 policy status: one ancestor per targeted Gateway or listener) ---

  json client_traffic_policy(const config::ClientTrafficPolicy& p, const ClientTrafficResolution& resolved) const {
    json ancestors = json::array();
    if (const auto it = resolved.ancestors.find(key(p.metadata.namespace_, p.metadata.name));
        it != resolved.ancestors.end()) {
      for (const auto& a : it->second) {
        json ref{{"group", kGatewayGroup}, {"kind", "Gateway"}, {"namespace", a.gateway_namespace},
                 {"name", a.gateway_name}};
        if (a.section_name) ref["sectionName"] = *a.section_name;
        ancestors.push_back(
            policy_ancestor(std::move(ref), {"Accepted", a.accepted, a.reason, a.message}, p.metadata));
      }
    }
    return policy_status("ClientTrafficPolicy", p.metadata, std::move(ancestors));
  }

  const config::ObjectSet& set_;
  const StatusOptions& options_;
  const std::string time_;
  std::set<std::string> classes_;
  std::map<std::string, std::map<std::string, std::string>> namespace_labels_;
  std::map<std::string, const config::Service*> services_;
  std::map<std::string, std::vector<ListenerState>> gateways_;  // "ns/name" of our Gateways
};

// --- YAML ---

// Strings a YAML 1.1 reader would take for something else ("True", "80", "null") are quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  static const std::set<std::string> kSpecial = {"true", "false", "yes", "no",   "on",
                                                 "off",  "y",     "n",   "null", "~"};
  if (kSpecial.count(lower)) return true;
  // RFC 3339 times would read as YAML timestamps; kubectl quotes them too.
  if (s.size() >= 5 &&
      std::all_of(s.begin(), s.begin() + 4, [](unsigned char c) { return c >= '0' && c <= '9'; }) &&
      s[4] == '-')
    return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

void emit(YAML::Emitter& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (needs_quotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::value_t::boolean:
      out << v.get<bool>();
      break;
    case json::value_t::number_integer:
      out << v.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << v.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << v.get<double>();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

json compute_status(const config::ObjectSet& objects, const StatusOptions& options) {
  return StatusBuilder(objects, options).run();
}

std::string status_as_yaml(const json& items) {
  const json& list = items.is_object() && items.contains("items") ? items.at("items") : items;
  std::string out;
  for (const auto& item : list) {
    YAML::Emitter e;
    e.SetIndent(2);
    e.SetSeqFormat(YAML::Block);
    emit(e, item);
    out += "---\n";
    out += e.c_str();
    out += "\n";
  }
  return out;
}

}  // namespace mg::route
