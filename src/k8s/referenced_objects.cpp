#include "k8s/referenced_objects.h"

namespace mg::k8s {

namespace {

void add_ca_refs(const config::FrontendTLSValidation& v, const std::string& gateway_namespace,
                 std::set<ReferencedObject>& out) {
  for (const auto& ref : v.ca_certificate_refs)
    if (ref.group.empty() && (ref.kind == "ConfigMap" || ref.kind == "Secret"))
      out.insert({ref.kind, ref.namespace_.value_or(gateway_namespace), ref.name});
}

}  // namespace

std::set<ReferencedObject> referenced_objects(const config::ObjectSet& objects, std::string_view controller_name) {
  std::set<std::string_view> our_classes;
  for (const auto& gc : objects.gateway_classes)
    if (gc.controller_name == controller_name) our_classes.insert(gc.metadata.name);
  std::set<ReferencedObject> out;
  for (const auto& gw : objects.gateways) {
    if (!our_classes.count(gw.gateway_class_name)) continue;
    const std::string& ns = gw.metadata.namespace_;
    for (const auto& listener : gw.listeners) {
      if (!listener.tls) continue;
      for (const auto& ref : listener.tls->certificate_refs)
        if (ref.group.empty() && (ref.kind.empty() || ref.kind == "Secret"))
          out.insert({"Secret", ref.namespace_.value_or(ns), ref.name});
      if (listener.tls->frontend_validation) add_ca_refs(*listener.tls->frontend_validation, ns, out);
    }
    if (gw.tls_frontend) {
      if (gw.tls_frontend->default_validation) add_ca_refs(*gw.tls_frontend->default_validation, ns, out);
      for (const auto& port : gw.tls_frontend->per_port) add_ca_refs(port.validation, ns, out);
    }
  }
  // BackendTLSPolicies' CA bundles: any policy may govern a Service our routes use, so all are read
  // (ConfigMaps in the policy's own namespace; other kinds are refused by the translator).
  for (const auto& policy : objects.backend_tls_policies)
    for (const auto& ref : policy.validation.ca_certificate_refs)
      if (ref.group.empty() && ref.kind == "ConfigMap")
        out.insert({"ConfigMap", policy.metadata.namespace_, ref.name});
  return out;
}

}  // namespace mg::k8s
