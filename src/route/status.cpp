#include "route/status.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "route/status_snapshot.h"

namespace mg::route {
namespace {

using nlohmann::json;

constexpr std::string_view kApiVersion = "gateway.networking.k8s.io/v1";
constexpr std::string_view kPolicyApiVersion = "mirrorgate.io/v1alpha1";

json conditions_json(const std::vector<Condition>& cs) {
  json out = json::array();
  for (const auto& c : cs)
    out.push_back(json{{"type", c.type},
                       {"status", c.status ? "True" : "False"},
                       {"reason", c.reason},
                       {"message", c.message},
                       {"lastTransitionTime", c.last_transition_time},
                       {"observedGeneration", c.observed_generation}});
  return out;
}

json item(std::string_view api_version, const ObjectRef& o, json status) {
  json metadata{{"name", o.name}, {"generation", o.generation}};
  if (o.kind != "GatewayClass") metadata["namespace"] = o.namespace_;  // the only cluster-scoped kind
  return json{{"apiVersion", api_version},
              {"kind", o.kind},
              {"metadata", std::move(metadata)},
              {"status", std::move(status)}};
}

json reference(const ObjectRef& r) {
  json out{{"group", r.group}, {"kind", r.kind}, {"name", r.name}, {"namespace", r.namespace_}};
  if (r.section_name) out["sectionName"] = *r.section_name;
  if (r.port) out["port"] = *r.port;
  return out;
}

json gateway_class(const GatewayClassStatus& gc, const StatusOptions& options) {
  std::vector<std::string> names = options.supported_features;
  std::sort(names.begin(), names.end());  // the API lists them sorted
  json features = json::array();
  for (const auto& f : names) features.push_back(json{{"name", f}});
  return item(
      kApiVersion, gc.object,
      json{{"conditions", conditions_json(gc.conditions)}, {"supportedFeatures", std::move(features)}});
}

json gateway(const GatewayStatus& gw) {
  json listeners = json::array();
  for (const auto& l : gw.listeners) {
    json kinds = json::array();
    for (const auto& k : l.supported_kinds) kinds.push_back(json{{"group", k.group}, {"kind", k.kind}});
    listeners.push_back(json{{"name", l.name},
                             {"supportedKinds", std::move(kinds)},
                             {"attachedRoutes", l.attached_routes},
                             {"conditions", conditions_json(l.conditions)}});
  }
  json status{{"conditions", conditions_json(gw.conditions)}, {"listeners", std::move(listeners)}};
  if (!gw.addresses.empty()) {
    json addresses = json::array();
    for (const auto& a : gw.addresses) addresses.push_back(json{{"type", a.type}, {"value", a.value}});
    status["addresses"] = std::move(addresses);
  }
  return item(kApiVersion, gw.object, std::move(status));
}

json route_status(const RouteStatus& route, const std::string& controller, const StatusOptions& options) {
  json parents = json::array();
  for (const auto& p : route.parents) {
    if (p.missing_gateway && !options.report_missing_parents) continue;
    parents.push_back(json{{"parentRef", reference(p.parent_ref)},
                           {"controllerName", controller},
                           {"conditions", conditions_json(p.conditions)}});
  }
  return item(kApiVersion, route.object, json{{"parents", std::move(parents)}});
}

json policy(const PolicyStatus& p, const std::string& controller) {
  json ancestors = json::array();
  for (const auto& a : p.ancestors)
    ancestors.push_back(json{{"ancestorRef", reference(a.ancestor_ref)},
                             {"controllerName", controller},
                             {"conditions", conditions_json(a.conditions)}});
  return item(kPolicyApiVersion, p.object, json{{"ancestors", std::move(ancestors)}});
}

}  // namespace

json status_json(const RouteTable& table, const StatusOptions& options) {
  json items = json::array();
  if (const StatusSnapshot* s = table.status.get()) {
    for (const auto& gc : s->gateway_classes) items.push_back(gateway_class(gc, options));
    for (const auto& gw : s->gateways) items.push_back(gateway(gw));
    for (const auto* routes : {&s->http_routes, &s->tls_routes})
      for (const auto& r : *routes) items.push_back(route_status(r, s->controller_name, options));
    for (const auto& p : s->policies) items.push_back(policy(p, s->controller_name));
  }
  return json{{"items", std::move(items)}};
}

json compute_status(const config::ObjectSet& objects, const StatusOptions& options) {
  TranslateOptions translation;
  translation.controller_name = options.controller_name;
  translation.time = options.transition_time;
  translation.assigned_addresses = &options.gateway_addresses;
  translation.extra_route_problems = &options.route_problems;
  return status_json(*translate(objects, translation), options);
}

}  // namespace mg::route
