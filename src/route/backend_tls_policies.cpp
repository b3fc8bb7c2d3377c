#include "route/backend_tls_policies.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace mg::route {
namespace {

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The CA bundle of the policy's caCertificateRefs; refs that do not resolve are recorded on `out`.
std::string resolve_ca_bundle(const config::ObjectSet& set, const config::BackendTLSPolicy& p,
                              BackendTlsOutcome& out) {
  std::string bundle;
  std::vector<std::string> problems;
  auto problem = [&](const std::string& reason, std::string message) {
    if (out.resolved_refs) out.refs_reason = reason;
    out.resolved_refs = false;
    problems.push_back(std::move(message));
  };
  for (const auto& ref : p.validation.ca_certificate_refs) {
    const std::string what = "caCertificateRef " + (ref.group.empty() ? "" : ref.group + "/") + ref.kind + " " + ref.name;
    if (!ref.group.empty() || ref.kind != "ConfigMap") {
      problem("InvalidKind", what + ": only ConfigMap (core group) is supported");
      continue;
    }
    const auto cm = std::find_if(set.config_maps.begin(), set.config_maps.end(), [&](const auto& c) {
      return c.metadata.namespace_ == p.metadata.namespace_ && c.metadata.name == ref.name;
    });
    if (cm == set.config_maps.end()) {
      problem("InvalidCACertificateRef", what + " not found in namespace " + p.metadata.namespace_);
      continue;
    }
    const auto pem = cm->data.find("ca.crt");
    if (pem == cm->data.end()) {
      problem("InvalidCACertificateRef", what + " has no key ca.crt");
      continue;
    }
    if (std::string error = net::check_upstream_ca_bundle(pem->second); !error.empty()) {
      problem("InvalidCACertificateRef", what + ": " + error);
      continue;
    }
    bundle += pem->second;
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  }
  for (const auto& m : problems) out.refs_message += (out.refs_message.empty() ? "" : "; ") + m;
  return bundle;
}

void build(const config::ObjectSet& set, const config::BackendTLSPolicy& p, BackendTlsOutcome& out) {
  out.policy = &p;
  out.id = key(p.metadata.namespace_, p.metadata.name);
  out.conflicted_by.assign(p.target_refs.size(), "");
  if (!p.metadata.refused.empty()) {
    out.accepted = false;
    out.accepted_reason = "Invalid";
    out.accepted_message = p.metadata.refused;
    return;
  }
  net::UpstreamTlsSettings settings;
  settings.policy = out.id;
  settings.hostname = p.validation.hostname;
  for (const auto& san : p.validation.subject_alt_names)
    (san.type == "URI" ? settings.san_uris : settings.san_hostnames).push_back(san.type == "URI" ? san.uri : san.hostname);
  const bool system = p.validation.well_known_ca_certificates.has_value();
  if (!system) {
    settings.ca_pem = resolve_ca_bundle(set, p, out);
    if (settings.ca_pem.empty()) {
      out.accepted = false;
      out.accepted_reason = "NoValidCACertificate";
      out.accepted_message = "no caCertificateRef gives a usable CA certificate (" + out.refs_message + ")";
      return;
    }
  }
  try {
    out.context = std::make_shared<const net::UpstreamTlsContext>(std::move(settings));
  } catch (const std::exception& e) {
    out.accepted = false;
    out.accepted_reason = "NoValidCACertificate";
    out.accepted_message = e.what();
    return;
  }
  out.accepted_message = system ? "verifies backends against the system's CA certificates"
                                : "verifies backends against the CA certificates of its caCertificateRefs";
  if (!out.resolved_refs) out.accepted_message += " that resolved";
}

}  // namespace

const BackendTlsOutcome* BackendTlsResolution::for_port(const std::string& service_namespace,
                                                        const std::string& service,
                                                        const std::string& port_name) const {
  const auto svc = winners.find(key(service_namespace, service));
  if (svc == winners.end()) return nullptr;
  auto it = port_name.empty() ? svc->second.end() : svc->second.find(port_name);
  if (it == svc->second.end()) it = svc->second.find("");
  return it == svc->second.end() ? nullptr : &outcomes[it->second];
}

BackendTlsResolution resolve_backend_tls_policies(const config::ObjectSet& objects) {
  BackendTlsResolution out;
  out.outcomes.resize(objects.backend_tls_policies.size());
  for (size_t i = 0; i < objects.backend_tls_policies.size(); ++i)
    build(objects, objects.backend_tls_policies[i], out.outcomes[i]);
  // Oldest first, then by name: the first to claim a target keeps it.
  std::vector<size_t> order(out.outcomes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& ma = objects.backend_tls_policies[a].metadata;
    const auto& mb = objects.backend_tls_policies[b].metadata;
    return std::tie(ma.creation_timestamp, ma.namespace_, ma.name) < std::tie(mb.creation_timestamp, mb.namespace_, mb.name);
  });
  for (size_t i : order) {
    BackendTlsOutcome& o = out.outcomes[i];
    const config::BackendTLSPolicy& p = *o.policy;
    if (!p.metadata.refused.empty()) continue;  // an unusable policy claims nothing
    for (size_t t = 0; t < p.target_refs.size(); ++t) {
      const auto& ref = p.target_refs[t];
      auto& ports = out.winners[key(p.metadata.namespace_, ref.name)];
      const auto [it, inserted] = ports.try_emplace(ref.section_name.value_or(""), i);
      if (!inserted && it->second != i) o.conflicted_by[t] = out.outcomes[it->second].id;
    }
  }
  return out;
}

std::string backend_tls_problem(const BackendTlsOutcome& outcome) {
  if (outcome.context) return "";
  return "has BackendTLSPolicy " + outcome.id + " that is not accepted (" + outcome.accepted_reason + ": " +
         outcome.accepted_message + ")";
}

}  // namespace mg::route
