#pragma once
// BackendTLSPolicy attachment (GEP-1897): which policy governs which Service port, its CA bundle, and
// its conditions. A pure function of the objects, shared by the translator (which gives each cluster
// its TLS context, or answers 500 for a backend whose policy has no usable CA) and by status (the
// policy's ancestors, the routes' ResolvedRefs), so the two can never disagree. The rules, in short:
//  - a policy targets a Service in its own namespace, or one port of it (sectionName = the port's name);
//  - for a port, a policy naming it beats one naming the whole Service;
//  - two policies on the same target: the oldest (creationTimestamp, then name) wins, the other is
//    Accepted=False/Conflicted;
//  - caCertificateRefs name ConfigMaps (key ca.crt) in the policy's namespace: another kind is
//    ResolvedRefs=False/InvalidKind, a missing one or one without a parsable ca.crt
//    ResolvedRefs=False/InvalidCACertificateRef; with no usable CA left the policy is
//    Accepted=False/NoValidCACertificate and its backends get 500 (never plain text instead of TLS).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "net/upstream_tls.h"

namespace mg::route {

struct BackendTlsOutcome {
  const config::BackendTLSPolicy* policy = nullptr;
  std::string id;  // "namespace/name"
  // Accepted: Accepted, NoValidCACertificate, Invalid (refused by the loader); Conflicted is per target.
  bool accepted = true;
  std::string accepted_reason = "Accepted";
  std::string accepted_message;
  bool resolved_refs = true;
  std::string refs_reason = "ResolvedRefs";  // InvalidKind, InvalidCACertificateRef
  std::string refs_message;
  std::shared_ptr<const net::UpstreamTlsContext> context;  // null when the policy cannot be used
  // Target index -> the policy that took it instead ("" when this one holds it).
  std::vector<std::string> conflicted_by;
};

struct BackendTlsResolution {
  std::vector<BackendTlsOutcome> outcomes;  // in object order
  // "namespace/service" -> port name ("" = the whole Service) -> index into outcomes of the winner.
  std::map<std::string, std::map<std::string, size_t>> winners;

  // The policy governing a Service port, or nullptr when none does (the port speaks plain HTTP).
  const BackendTlsOutcome* for_port(const std::string& service_namespace, const std::string& service,
                                    const std::string& port_name) const;
};

BackendTlsResolution resolve_backend_tls_policies(const config::ObjectSet& objects);

// Why a Service port governed by `outcome` cannot be served; "" when it can.
std::string backend_tls_problem(const BackendTlsOutcome& outcome);

}  // namespace mg::route
