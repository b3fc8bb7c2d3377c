#pragma once
// The certificate of an HTTPS listener, from its tls.certificateRefs: kubernetes.io/tls Secrets in the
// Gateway's namespace, or in another one that a ReferenceGrant opens to Gateways of this namespace
// (route/references.h).
// Shared by the translator (what is served) and status (what is reported), so the two agree.

#include <optional>
#include <string>
#include <vector>

#include "config/objects.h"
#include "net/tls_context.h"

namespace mg::route {

struct ListenerCertificate {
  // Set when every certificateRef resolved to a valid certificate/key pair; all are served (chosen by
  // SNI among their names and by the client's signature algorithms among their key types).
  std::optional<net::TlsCertificate> certificate;
  std::string reason;  // of the first problem: InvalidCertificateRef, RefNotPermitted, InvalidCACertificate*
  // Client certificate validation is asked for but none of its caCertificateRefs gives a CA: the listener
  // is not Accepted (NoValidCACertificate).
  bool no_valid_ca_certificate = false;
  std::vector<std::string> problems;  // one message per bad reference
};

// Whether the Gateway lets some listener take clients without a valid certificate (spec.tls.frontend
// default or perPort mode AllowInsecureFallback): reported by its InsecureFrontendValidationMode condition.
bool allows_insecure_frontend_fallback(const config::Gateway& gateway);

ListenerCertificate resolve_listener_certificate(const config::ObjectSet& set, const config::Gateway& gateway,
                                                 const config::Listener& listener);

// A Secret's value for `key`: data (base64-decoded) or stringData (plain); nullopt when absent or not base64.
std::optional<std::string> secret_value(const config::Secret& secret, const std::string& key);

}  // namespace mg::route
