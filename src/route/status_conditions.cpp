#include "route/status_conditions.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "route/listener_rules.h"

namespace mg::route {
namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

ObjectRef object_ref(std::string group, std::string kind, const config::ObjectMeta& m) {
  ObjectRef out;
  out.group = std::move(group);
  out.kind = std::move(kind);
  out.namespace_ = m.namespace_;
  out.name = m.name;
  out.generation = m.generation;
  return out;
}

ObjectRef reference(std::string group, std::string kind, std::string ns, std::string name,
                    std::optional<std::string> section_name = std::nullopt,
                    std::optional<int32_t> port = std::nullopt) {
  ObjectRef out;
  out.group = std::move(group);
  out.kind = std::move(kind);
  out.namespace_ = std::move(ns);
  out.name = std::move(name);
  out.section_name = std::move(section_name);
  out.port = port;
  return out;
}

Condition condition(std::string type, bool status, std::string reason, std::string message) {
  return Condition{std::move(type), status, std::move(reason), std::move(message), 0, ""};
}

// A listener while its Gateway's routes are counted.
struct ListenerState {
  const config::Listener* spec = nullptr;
  ListenerStatus status;
  Condition accepted = condition("Accepted", true, "Accepted", "listener is valid");
  Condition resolved = condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved");
  Condition programmed = condition("Programmed", true, "Programmed", "");
  Condition conflicted = condition("Conflicted", false, "NoConflicts", "no conflicts");
  std::set<std::string> attached;  // routes Accepted through this listener
};

class StatusBuilder {
 public:
  explicit StatusBuilder(const StatusInputs& in) : in_(in) {}

  StatusSnapshot run() {
    StatusSnapshot out;
    out.controller_name = std::string(in_.controller_name);
    for (const auto& gc : in_.objects.gateway_classes)
      if (gc.controller_name == in_.controller_name) out.gateway_classes.push_back(gateway_class(gc));
    for (const auto& gw : in_.objects.gateways)
      if (in_.managed_classes.count(gw.gateway_class_name))
        listeners_.emplace(key(gw.metadata.namespace_, gw.metadata.name), evaluate_listeners(gw));
    // Routes first: they fill in the listeners' attachedRoutes.
    for (const auto& route : in_.objects.http_routes) out.http_routes.push_back(route_status(route));
    for (const auto& route : in_.objects.tls_routes) out.tls_routes.push_back(route_status(route));
    for (const auto& gw : in_.objects.gateways)
      if (in_.managed_classes.count(gw.gateway_class_name)) out.gateways.push_back(gateway(gw));
    for (const auto& outcome : in_.mirror_policies.outcomes()) out.policies.push_back(mirror_policy(outcome));
    for (const auto& p : in_.objects.client_traffic_policies)
      out.policies.push_back(client_traffic_policy(p));
    for (const auto& o : in_.backend_tls.outcomes) out.policies.push_back(backend_tls_policy(o));
    return out;
  }

 private:
  static void set_generation(std::vector<Condition>& cs, int64_t generation) {
    for (auto& c : cs) c.observed_generation = generation;
  }

  // --- GatewayClass ---

  GatewayClassStatus gateway_class(const config::GatewayClass& gc) const {
    Condition accepted =
        condition("Accepted", true, "Accepted", "handled by " + std::string(in_.controller_name));
    if (gc.parameters_ref)
      accepted.message += "; parametersRef is ignored (mirrorgate takes no class parameters)";
    GatewayClassStatus out{object_ref(std::string(kGatewayGroup), "GatewayClass", gc.metadata), {accepted}};
    set_generation(out.conditions, gc.metadata.generation);
    return out;
  }

  // --- Gateway and its listeners ---

  std::vector<ListenerState> evaluate_listeners(const config::Gateway& gw) const {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    const auto address = in_.gateway_addresses.find(gw_id);
    std::vector<ListenerState> out;
    for (const auto& l : gw.listeners) {
      ListenerState s;
      s.spec = &l;
      s.status.name = l.name;
      std::vector<std::string> ref_problems;
      std::string ref_reason;
      auto problem = [&](std::string reason, std::string message) {
        if (ref_reason.empty()) ref_reason = std::move(reason);
        ref_problems.push_back(std::move(message));
      };

      // Route kinds: HTTPRoutes on HTTP(S) listeners, TLSRoutes on TLS Passthrough ones.
      ListenerRouteKinds kinds = listener_route_kinds(l);
      for (auto& k : kinds.supported) s.status.supported_kinds.push_back(reference(k.group, k.kind, "", ""));
      for (auto& p : kinds.invalid) problem("InvalidRouteKinds", std::move(p));

      bool tls_ok = false;
      if (l.tls && l.tls->mode == "Terminate") {  // a passthrough listener holds no certificate
        const ListenerCertificate& cert = in_.certificate(gw, l);
        for (const auto& p : cert.problems) problem(cert.reason, p);
        tls_ok = cert.certificate.has_value();
      }
      if (!ref_problems.empty())
        s.resolved = condition("ResolvedRefs", false, ref_reason, join(ref_problems, "; "));
      if (l.tls && l.tls->mode == "Terminate" && in_.certificate(gw, l).no_valid_ca_certificate)
        s.accepted = condition("Accepted", false, "NoValidCACertificate",
                               "client certificate validation has no usable CA certificate: " + s.resolved.message);

      const bool passthrough = l.tls && l.tls->mode != "Terminate";
      const ListenerConflict conflict = listener_conflict(gw, l);
      if (!conflict.reason.empty())
        s.conflicted = condition("Conflicted", true, conflict.reason, conflict.message);
      const std::string* holder = in_.port_claims.held_by_other(gw_id, l.port);
      if (holder && binds_socket(l)) {
        const std::string where = (address == in_.gateway_addresses.end() ? std::string("port ")
                                                                            : address->second + ":") +
                                  std::to_string(l.port);
        s.accepted = condition("Accepted", false, "PortUnavailable",
                               where + " is held by the older Gateway " + *holder +
                                   "; give one of them its own address (spec.addresses)");
        s.programmed = condition("Programmed", false, "Invalid", where + " is held by Gateway " + *holder);
      } else if (!conflict.reason.empty() && binds_socket(l)) {
        s.accepted = condition("Accepted", false, conflict.reason,
                               conflict.message + "; no listener of a conflict is served");
        s.programmed = condition("Programmed", false, "Invalid", "conflicted: " + conflict.message);
      } else if (l.protocol == "HTTP" || (l.protocol == "HTTPS" && !passthrough) || serves_tls_passthrough(l)) {
        if (l.protocol == "HTTPS" && !tls_ok) {
          s.programmed = condition("Programmed", false, "Invalid",
                                   "no valid certificate: " +
                                       (s.resolved.status ? std::string("none given") : s.resolved.message));
        } else if (address != in_.gateway_addresses.end()) {
          s.programmed.message = "serving on " + address->second + ":" + std::to_string(l.port);
        } else {
          s.programmed = condition("Programmed", false, "Pending", "the Gateway has no address yet");
        }
      } else if (l.protocol == "HTTPS") {
        s.accepted =
            condition("Accepted", false, "UnsupportedProtocol",
                      "TLS mode " + l.tls->mode + " is not supported (mirrorgate terminates TLS only)");
        s.programmed =
            condition("Programmed", false, "Invalid", "TLS mode " + l.tls->mode + " is not supported");
      } else if (l.protocol == "TLS") {  // mode Terminate (TLSRouteModeTerminate) is not served
        s.accepted = condition("Accepted", false, "UnsupportedValue",
                               "TLS mode Terminate is not supported on a TLS listener (only Passthrough)");
        s.programmed = condition("Programmed", false, "Invalid", "TLS mode Terminate is not supported");
      } else {
        s.accepted =
            condition("Accepted", false, "UnsupportedProtocol",
                      "protocol " + l.protocol + " is not supported (only HTTP, HTTPS and TLS Passthrough are served)");
        s.programmed =
            condition("Programmed", false, "Invalid", "protocol " + l.protocol + " is not supported");
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  GatewayStatus gateway(const config::Gateway& gw) {
    const std::string gw_id = key(gw.metadata.namespace_, gw.metadata.name);
    auto& listeners = listeners_.at(gw_id);
    const auto address = in_.gateway_addresses.find(gw_id);
    GatewayStatus out;
    out.object = object_ref(std::string(kGatewayGroup), "Gateway", gw.metadata);
    std::vector<std::string> invalid, served;
    for (auto& s : listeners) {
      if (!s.accepted.status) invalid.push_back(s.spec->name);
      if (s.programmed.status) served.push_back(s.spec->name);
      s.status.attached_routes = s.attached.size();
      s.status.conditions = {s.accepted, s.programmed, s.resolved, s.conflicted};
      set_generation(s.status.conditions, gw.metadata.generation);
      out.listeners.push_back(std::move(s.status));
    }
    if (!gw.metadata.refused.empty()) {
      // Not translated at all: nothing of it is served.
      out.conditions = {condition("Accepted", false, "Invalid", gw.metadata.refused),
                        condition("Programmed", false, "Invalid", "the Gateway is not served: " + gw.metadata.refused)};
      set_generation(out.conditions, gw.metadata.generation);
      return out;
    }
    Condition accepted = condition("Accepted", true, "Accepted", "Gateway is valid");
    // With some listeners not accepted the Gateway stays Accepted (ListenersNotValid says which); with none
    // accepted it is not (GatewayListenerUnsupportedProtocol of the upstream suite wants False).
    if (!invalid.empty())
      accepted = condition("Accepted", invalid.size() < listeners.size(), "ListenersNotValid",
                           (invalid.size() < listeners.size() ? "listeners not accepted: " : "no listener accepted: ") +
                               join(invalid, ", "));
    Condition programmed = condition("Programmed", true, "Programmed", "");
    // Clients reach a Gateway that asks for no address through the published Service, if there is one.
    const bool published = in_.published && gw.addresses.empty();
    if (published) {
      out.addresses = in_.published->addresses;
    } else if (address != in_.gateway_addresses.end()) {
      out.addresses = {{"IPAddress", address->second}};
    }
    if (address == in_.gateway_addresses.end()) {
      const bool pool_exhausted = gw.addresses.empty() && !in_.no_pool_address_because.empty();
      programmed = condition("Programmed", false, "AddressNotAssigned",
                             pool_exhausted ? in_.no_pool_address_because : "the Gateway has no address");
    } else if (published && out.addresses.empty()) {
      programmed = condition("Programmed", false, "AddressNotAssigned",
                             "Service " + in_.published->service + " (--publish-service) " +
                                 in_.published->missing_because);
    } else if (served.empty()) {
      programmed = condition("Programmed", false, "Invalid", "none of its listeners is served");
    } else {
      programmed.message = "serving listeners " + join(served, ", ") + " on " + address->second;
      if (published) programmed.message += ", published as Service " + in_.published->service;
    }
    out.conditions = {accepted, programmed};
    if (allows_insecure_frontend_fallback(gw))
      out.conditions.push_back(condition("InsecureFrontendValidationMode", true, "ConfigurationChanged",
                                         "spec.tls.frontend lets clients without a valid certificate through "
                                         "(AllowInsecureFallback)"));
    set_generation(out.conditions, gw.metadata.generation);
    return out;
  }

  // --- routes ---

  // ResolvedRefs from the backend references of a route, each checked by `problem_of` (nullopt: fine);
  // the first problem's reason, every problem in the message.
  template <typename Route, typename Refs, typename ProblemOf>
  static Condition resolved_refs_of(const Route& route, Refs&& for_each_ref, ProblemOf&& problem_of) {
    std::vector<std::string> messages;
    std::string reason;
    for_each_ref([&](const config::BackendObjectReference& ref) {
      const std::optional<BackendRefProblem> p = problem_of(ref);
      if (!p) return;
      if (reason.empty()) reason = p->reason;
      const std::string ns = ref.namespace_.value_or(route.metadata.namespace_);
      messages.push_back((ref.group.empty() ? "" : ref.group + "/") + ref.kind + " " + ns + "/" + ref.name +
                         " " + p->problem);
    });
    if (messages.empty()) return condition("ResolvedRefs", true, "ResolvedRefs", "all backendRefs resolved");
    return condition("ResolvedRefs", false, reason, join(messages, "; "));
  }

  // A TLSRoute's backends are Services reached by TCP (the client's TLS goes through unopened).
  Condition resolved_refs(const config::TLSRoute& route) const {
    return resolved_refs_of(
        route,
        [&](auto&& check) {
          for (const auto& rule : route.rules)
            for (const auto& br : rule.backend_refs) check(br.ref);
        },
        [&](const config::BackendObjectReference& ref) {
          return backend_ref_problem(in_.objects, in_.services, route.metadata.namespace_, ref, route_kind(route));
        });
  }

  Condition resolved_refs(const config::HTTPRoute& route) const {
    return resolved_refs_of(
        route,
        [&](auto&& check) {
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
        },
        [&](const config::BackendObjectReference& ref) {
          auto p = backend_ref_problem(in_.objects, in_.services, route.metadata.namespace_, ref);
          if (!p) p = backend_tls_problem_of(route, ref);
          return p;
        });
  }

  const std::map<std::string, std::string>& labels_of(const std::string& ns) const {
    static const std::map<std::string, std::string> kNone;
    const auto it = in_.namespace_labels.find(ns);
    return it == in_.namespace_labels.end() ? kNone : it->second;
  }

  // Accepted for one parentRef; records the attachment on every listener that takes the route.
  template <typename Route>
  Condition accept(const Route& route, const std::string& route_id, const config::Gateway& gw,
                   const config::ParentReference& ref) {
    const std::string_view kind = route_kind(route);
    auto& listeners = listeners_.at(key(gw.metadata.namespace_, gw.metadata.name));
    bool named = false, admitted = false;
    std::vector<ListenerState*> taking;
    for (auto& s : listeners) {
      const ListenerMatch match =
          match_listener(gw, *s.spec, route, ref, labels_of(route.metadata.namespace_));
      if (match == ListenerMatch::kNotSelected) continue;
      named = true;
      if (match == ListenerMatch::kKindNotAllowed || match == ListenerMatch::kNamespaceNotAllowed) continue;
      admitted = true;
      if (match == ListenerMatch::kAttached) taking.push_back(&s);
    }
    std::string which;
    if (ref.section_name) which += " sectionName " + *ref.section_name;
    if (ref.port) which += " port " + std::to_string(*ref.port);
    if (!named)
      return condition("Accepted", false, "NoMatchingParent", "the Gateway has no listener with" + which);
    if (!admitted)
      return condition(
          "Accepted", false, "NotAllowedByListeners",
          "no listener" + which + " allows " + std::string(kind) + "s from namespace " + route.metadata.namespace_);
    if (taking.empty())
      return condition("Accepted", false, "NoMatchingListenerHostname",
                       "no route hostname intersects the hostname of a listener" + which);
    if (!route.metadata.refused.empty())
      return condition("Accepted", false, "UnsupportedValue", "the route is not served: " + route.metadata.refused);
    if (kind == "HTTPRoute")
      if (auto p = in_.route_problems.find(route_id); p != in_.route_problems.end() && !p->second.empty())
        return condition("Accepted", false, "UnsupportedValue", join(p->second, "; "));
    std::vector<std::string> names;
    for (auto* s : taking) {
      s->attached.insert(route_id);
      names.push_back(s->spec->name);
    }
    return condition("Accepted", true, "Accepted", "attached to listener " + join(names, ", "));
  }

  template <typename Route>
  RouteStatus route_status(const Route& route) {
    const std::string route_id = key(route.metadata.namespace_, route.metadata.name);
    const Condition resolved = resolved_refs(route);
    RouteStatus out;
    out.object = object_ref(std::string(kGatewayGroup), std::string(route_kind(route)), route.metadata);
    std::set<std::string> seen;
    for (const auto& ref : route.parent_refs) {
      if (ref.group != kGatewayGroup || ref.kind != "Gateway") continue;
      const std::string gw_ns = ref.namespace_.value_or(route.metadata.namespace_);
      const auto gw = std::find_if(
          in_.objects.gateways.begin(), in_.objects.gateways.end(),
          [&](const auto& g) { return g.metadata.name == ref.name && g.metadata.namespace_ == gw_ns; });
      // A parent of another controller is not ours to answer for. One that does not exist is not either
      // in a cluster; read from files, every object is ours (StatusOptions::report_missing_parents).
      const bool missing = gw == in_.objects.gateways.end();
      if (!missing && !in_.managed_classes.count(gw->gateway_class_name)) continue;
      RouteParentStatus parent;
      parent.parent_ref = reference(ref.group, ref.kind, gw_ns, ref.name, ref.section_name, ref.port);
      const std::string ref_id = ref.group + "/" + ref.kind + "/" + gw_ns + "/" + ref.name +
                                 (ref.section_name ? "#" + *ref.section_name : "") +
                                 (ref.port ? ":" + std::to_string(*ref.port) : "");
      if (!seen.insert(ref_id).second) continue;
      parent.missing_gateway = missing;
      const Condition accepted = missing ? condition("Accepted", false, "NoMatchingParent",
                                                     "Gateway " + key(gw_ns, ref.name) + " does not exist")
                                         : accept(route, route_id, *gw, ref);
      parent.conditions = {accepted, resolved};
      set_generation(parent.conditions, route.metadata.generation);
      out.parents.push_back(std::move(parent));
    }
    return out;
  }

  // --- policies (GEP-713) ---

  // The ancestor of each MirrorPolicy entry is the targeted HTTPRoute (with the rule's sectionName), one
  // per targetRef, rather than the route's Gateways: whether a policy applies is decided per route rule,
  // so TargetNotFound and Conflicted belong to a route. docs/status.md says more.
  PolicyStatus mirror_policy(const MirrorPolicyOutcome& outcome) const {
    const config::MirrorPolicy& p = *outcome.policy;
    PolicyStatus out{object_ref("mirrorgate.io", "MirrorPolicy", p.metadata), {}};
    for (const auto& t : outcome.targets) {
      ObjectRef ref =
          reference(t.ref.group, t.ref.kind, p.metadata.namespace_, t.ref.name, t.ref.section_name);
      const bool accepted = t.reason == PolicyTargetReason::kAccepted;
      out.ancestors.push_back(ancestor(
          std::move(ref), condition("Accepted", accepted, std::string(reason_name(t.reason)), t.message),
          p.metadata.generation));
    }
    return out;
  }

  // One ancestor per targeted Gateway or listener.
  PolicyStatus client_traffic_policy(const config::ClientTrafficPolicy& p) const {
    PolicyStatus out{object_ref("mirrorgate.io", "ClientTrafficPolicy", p.metadata), {}};
    const auto it = in_.client_traffic.ancestors.find(key(p.metadata.namespace_, p.metadata.name));
    if (it == in_.client_traffic.ancestors.end()) return out;
    for (const auto& a : it->second) {
      ObjectRef ref = reference(std::string(kGatewayGroup), "Gateway", a.gateway_namespace, a.gateway_name,
                                a.section_name);
      out.ancestors.push_back(ancestor(std::move(ref), condition("Accepted", a.accepted, a.reason, a.message),
                                       p.metadata.generation));
    }
    return out;
  }

  // A backend whose BackendTLSPolicy has no usable CA gets 500s (translator.cpp): the route says why.
  std::optional<BackendRefProblem> backend_tls_problem_of(const config::HTTPRoute& route,
                                                          const config::BackendObjectReference& ref) const {
    const std::string ns = ref.namespace_.value_or(route.metadata.namespace_);
    const config::ServicePort* port = service_port(ns, ref);
    if (!port) return std::nullopt;
    const BackendTlsOutcome* tls = in_.backend_tls.for_port(ns, ref.name, port->name);
    if (!tls || tls->context) return std::nullopt;
    return BackendRefProblem{"InvalidBackendTLSPolicy", backend_tls_problem(*tls)};
  }

  // The port of a core Service a backendRef names, or null.
  const config::ServicePort* service_port(const std::string& ns, const config::BackendObjectReference& ref) const {
    if (!ref.group.empty() || ref.kind != "Service" || !ref.port) return nullptr;
    const auto svc = in_.services.find(key(ns, ref.name));
    if (svc == in_.services.end()) return nullptr;
    for (const auto& p : svc->second->ports)
      if (p.port == *ref.port) return &p;
    return nullptr;
  }

  // GEP-713 ancestors of a BackendTLSPolicy: our Gateways that routes using a targeted Service port hang
  // from, each with Accepted and ResolvedRefs. A Gateway whose routes reach only targets another policy
  // holds is Conflicted there.
  PolicyStatus backend_tls_policy(const BackendTlsOutcome& o) const {
    const config::BackendTLSPolicy& p = *o.policy;
    PolicyStatus out{object_ref(std::string(kGatewayGroup), "BackendTLSPolicy", p.metadata), {}};
    std::map<std::string, std::pair<const config::Gateway*, bool>> gateways;  // id -> (gateway, holds a target)
    auto visit = [&](const config::HTTPRoute& route, const config::BackendObjectReference& ref) {
      const std::string ns = ref.namespace_.value_or(route.metadata.namespace_);
      if (ns != p.metadata.namespace_) return;
      const config::ServicePort* port = service_port(ns, ref);
      if (!port) return;
      for (size_t t = 0; t < p.target_refs.size(); ++t) {
        const auto& target = p.target_refs[t];
        if (target.name != ref.name || (target.section_name && *target.section_name != port->name)) continue;
        for (const auto& parent : route.parent_refs) {
          if (parent.group != kGatewayGroup || parent.kind != "Gateway") continue;
          const std::string gw_ns = parent.namespace_.value_or(route.metadata.namespace_);
          for (const auto& gw : in_.objects.gateways)
            if (gw.metadata.namespace_ == gw_ns && gw.metadata.name == parent.name &&
                in_.managed_classes.count(gw.gateway_class_name)) {
              auto& entry = gateways[key(gw_ns, gw.metadata.name)];
              entry.first = &gw;
              entry.second = entry.second || o.conflicted_by[t].empty();
            }
        }
      }
    };
    for (const auto& route : in_.objects.http_routes)
      for (const auto& rule : route.rules) {
        for (const auto& f : rule.filters)
          if (f.type == "RequestMirror" && f.request_mirror) visit(route, f.request_mirror->backend_ref);
        for (const auto& br : rule.backend_refs) visit(route, br.ref);
      }
    for (const auto& [id, entry] : gateways) {
      const config::Gateway& gw = *entry.first;
      ObjectRef ref = reference(std::string(kGatewayGroup), "Gateway", gw.metadata.namespace_, gw.metadata.name,
                                std::nullopt);
      Condition accepted = condition("Accepted", o.accepted, o.accepted_reason, o.accepted_message);
      if (!entry.second) {
        std::string winners;
        for (const auto& w : o.conflicted_by)
          if (!w.empty() && winners.find(w) == std::string::npos) winners += (winners.empty() ? "" : ", ") + w;
        accepted = condition("Accepted", false, "Conflicted",
                             "BackendTLSPolicy " + winners +
                                 " targets the same Service port and takes precedence (older creationTimestamp, then name)");
      }
      Condition resolved = condition("ResolvedRefs", o.resolved_refs, o.refs_reason,
                                     o.resolved_refs ? "all caCertificateRefs resolved" : o.refs_message);
      accepted.observed_generation = resolved.observed_generation = p.metadata.generation;
      out.ancestors.push_back(PolicyAncestorStatus{std::move(ref), {std::move(accepted), std::move(resolved)}});
    }
    return out;
  }

  static PolicyAncestorStatus ancestor(ObjectRef ref, Condition accepted, int64_t generation) {
    accepted.observed_generation = generation;
    return PolicyAncestorStatus{std::move(ref), {std::move(accepted)}};
  }

  const StatusInputs& in_;
  std::map<std::string, std::vector<ListenerState>> listeners_;  // "ns/name" of our Gateways
};

}  // namespace

StatusSnapshot build_status(const StatusInputs& in) {
  return StatusBuilder(in).run();
}

}  // namespace mg::route
