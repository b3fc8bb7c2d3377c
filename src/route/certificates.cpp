#include "route/certificates.h"

#include <algorithm>

#include "route/references.h"

namespace mg::route {

std::optional<std::string> secret_value(const config::Secret& secret, const std::string& key) {
  if (auto it = secret.string_data.find(key); it != secret.string_data.end()) return it->second;
  if (auto it = secret.data.find(key); it != secret.data.end()) return net::decode_base64(it->second);
  return std::nullopt;
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
  if (out.problems.empty()) out.certificate = std::move(served);
  return out;
}

}  // namespace mg::route
