#include "route/certificates.h"

#include <algorithm>

#include "route/references.h"

namespace mg::route {

std::optional<std::string> secret_value(const config::Secret& secret, const std::string& key) {
  if (auto it = secret.string_data.find(key); it != secret.string_data.end()) return it->second;
  if (auto it = secret.data.find(key); it != secret.data.end()) return net::decode_base64(it->second);
  return std::nullopt;
}

namespace {

// Mode AllowInsecureFallback: clients without a valid certificate are let through.
bool insecure(const config::FrontendTLSValidation& v) { return v.mode.value_or("") == "AllowInsecureFallback"; }

// The client certificate validation that governs a listener: Gateway spec.tls.frontend's entry for its
// port, else its default, else the listener's own tls.frontendValidation (the experimental field before
// Gateway API v1.5). nullptr: none.
const config::FrontendTLSValidation* client_validation(const config::Gateway& gw, const config::Listener& l) {
  if (gw.tls_frontend) {
    for (const auto& p : gw.tls_frontend->per_port)
      if (p.port == l.port) return &p.validation;
    if (gw.tls_frontend->default_validation) return &*gw.tls_frontend->default_validation;
  }
  if (l.tls && l.tls->frontend_validation) return &*l.tls->frontend_validation;
  return nullptr;
}

// Fills the served certificate's client CA bundle from caCertificateRefs: ConfigMaps (Core) or Secrets,
// key ca.crt, in the Gateway's namespace or one whose ReferenceGrant admits them; each one that does not
// resolve is a problem. Returns false when none of them does.
template <typename Problem>
bool resolve_client_validation(const config::ObjectSet& set, const config::Gateway& gw, const config::Listener& l,
                               net::TlsCertificate& served, Problem&& problem) {
  const config::FrontendTLSValidation* v = client_validation(gw, l);
  if (!v) return true;
  if (v->ca_certificate_refs.empty()) {
    problem("NoValidCACertificate", "client certificate validation without caCertificateRefs");
    return false;
  }
  std::string bundle;
  for (const auto& ref : v->ca_certificate_refs) {
    const std::string ns = ref.namespace_.value_or(gw.metadata.namespace_);
    const std::string what = "caCertificateRef " + ref.kind + " " + ns + "/" + ref.name;
    if (!ref.group.empty() || (ref.kind != "ConfigMap" && ref.kind != "Secret")) {
      problem("InvalidCACertificateKind", what + " is not a core ConfigMap or Secret");
      continue;
    }
    if (ns != gw.metadata.namespace_ &&
        !reference_granted(set, "Gateway", gw.metadata.namespace_, ref.kind, ns, ref.name)) {
      problem("RefNotPermitted", what + " is in another namespace and no ReferenceGrant in " + ns + " allows it");
      continue;
    }
    std::optional<std::string> pem;
    bool found = false;
    if (ref.kind == "ConfigMap") {
      for (const auto& cm : set.config_maps)
        if (cm.metadata.namespace_ == ns && cm.metadata.name == ref.name) {
          found = true;
          if (auto it = cm.data.find("ca.crt"); it != cm.data.end()) pem = it->second;
        }
    } else {
      for (const auto& s : set.secrets)
        if (s.metadata.namespace_ == ns && s.metadata.name == ref.name) {
          found = true;
          pem = secret_value(s, "ca.crt");
        }
    }
    if (!found) {
      problem("InvalidCACertificateRef", what + " not found");
      continue;
    }
    if (!pem) {
      problem("InvalidCACertificateRef", what + " has no ca.crt");
      continue;
    }
    if (std::string error = net::check_ca_bundle(*pem); !error.empty()) {
      problem("InvalidCACertificateRef", what + ": " + error);
      continue;
    }
    bundle += *pem;
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  }
  const bool any_valid = !bundle.empty();
  served.client_ca_pem = std::move(bundle);
  served.client_certificate_optional = insecure(*v);
  return any_valid;
}

}  // namespace

bool allows_insecure_frontend_fallback(const config::Gateway& gw) {
  if (gw.tls_frontend) {
    if (gw.tls_frontend->default_validation && insecure(*gw.tls_frontend->default_validation)) return true;
    if (std::any_of(gw.tls_frontend->per_port.begin(), gw.tls_frontend->per_port.end(),
                    [](const config::GatewayFrontendPort& p) { return insecure(p.validation); }))
      return true;
  }
  // A listener's own tls.frontendValidation (the older field) lets clients through just the same.
  return std::any_of(gw.listeners.begin(), gw.listeners.end(), [&](const config::Listener& l) {
    const config::FrontendTLSValidation* v = client_validation(gw, l);
    return v && insecure(*v);
  });
}

ListenerCertificate resolve_listener_certificate(const config::ObjectSet& set, const config::Gateway& gw,
                                                 const config::Listener& l) {
  ListenerCertificate out;
  auto problem = [&](std::string reason, std::string message) {
    if (out.reason.empty()) out.reason = std::move(reason);
    out.problems.push_back(std::move(message));
  };
  if (!l.tls) return out;
  std::optional<net::TlsCertificate> served;
  for (const auto& ref : l.tls->certificate_refs) {
    const std::string ns = ref.namespace_.value_or(gw.metadata.namespace_);
    const std::string what = "certificateRef " + ref.kind + " " + ns + "/" + ref.name;
    if (!ref.group.empty() || ref.kind != "Secret") {
      problem("InvalidCertificateRef", what + " is not a core Secret");
      continue;
    }
    if (ns != gw.metadata.namespace_ &&
        !reference_granted(set, "Gateway", gw.metadata.namespace_, "Secret", ns, ref.name)) {
      problem("RefNotPermitted",
              what + " is in another namespace and no ReferenceGrant in " + ns + " allows it");
      continue;
    }
    const auto secret = std::find_if(set.secrets.begin(), set.secrets.end(), [&](const config::Secret& s) {
      return s.metadata.namespace_ == ns && s.metadata.name == ref.name;
    });
    if (secret == set.secrets.end()) {
      problem("InvalidCertificateRef", what + " not found");
      continue;
    }
    const bool has_pair = (secret->data.count("tls.crt") || secret->string_data.count("tls.crt")) &&
                          (secret->data.count("tls.key") || secret->string_data.count("tls.key"));
    if (!has_pair) {
      problem("InvalidCertificateRef", what + " has no tls.crt and tls.key");
      continue;
    }
    const auto crt = secret_value(*secret, "tls.crt"), key = secret_value(*secret, "tls.key");
    if (!crt || !key) {
      problem("InvalidCertificateRef", what + ": tls.crt or tls.key is not valid base64");
      continue;
    }
    if (std::string error = net::check_certificate(*crt, *key); !error.empty()) {
      problem("InvalidCertificateRef", what + ": " + error);
      continue;
    }
    if (!served) served = net::TlsCertificate{l.name, l.hostname.value_or(""), {}};
    served->pairs.push_back(net::CertificatePair{*crt, *key});
  }
  if (l.tls->certificate_refs.empty() && l.tls->mode == "Terminate")
    problem("InvalidCertificateRef", "no certificateRefs: TLS needs a certificate");
  const bool certificates_valid = out.problems.empty();
  // A caCertificateRef that does not resolve is reported (ResolvedRefs=False) but, while another one
  // gives a CA, the listener serves with the CAs it has: the Gateway API takes a listener out only when
  // all of them are invalid (Accepted=False, NoValidCACertificate).
  if (served && l.tls->mode == "Terminate")
    out.no_valid_ca_certificate = !resolve_client_validation(set, gw, l, *served, problem);
  if (certificates_valid && !out.no_valid_ca_certificate) out.certificate = std::move(served);
  return out;
}

}  // namespace mg::route
