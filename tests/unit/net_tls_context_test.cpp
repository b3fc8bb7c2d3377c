#include "net/tls_context.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "route/certificates.h"
#include "route/translator.h"
#include "test_certificate.h"

namespace mg::net {
namespace {

TlsCertificate cert(std::string section, std::string hostname) {
  return TlsCertificate{std::move(section), std::move(hostname),
                        {CertificatePair{std::string(test::kCertPem), std::string(test::kKeyPem)}}};
}

TEST(TlsContext, DecodesBase64AsSecretsCarryIt) {
  EXPECT_EQ(decode_base64("Y2VydA=="), "cert");
  EXPECT_EQ(decode_base64("a2V5"), "key");
  EXPECT_EQ(decode_base64("Y2Vy\ndA==\n"), "cert");  // line-wrapped, as `base64` writes it
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64(test::kCertBase64), std::string(test::kCertPem));
  EXPECT_FALSE(decode_base64("Y2VydA=").has_value());   // truncated
  EXPECT_FALSE(decode_base64("Y2V*dA==").has_value());  // not in the alphabet
  EXPECT_FALSE(decode_base64("Y2==dA==").has_value());  // data after padding
}

TEST(TlsContext, SelectsCertificateBySni) {
  const std::vector<TlsCertificate> certs{cert("wild", "*.example.com"), cert("any", ""),
                                          cert("exact", "www.example.com"), cert("deeper", "*.a.example.com")};
  EXPECT_EQ(select_certificate(certs, "www.example.com"), 2u);  // exact beats wildcard
  EXPECT_EQ(select_certificate(certs, "WWW.Example.COM"), 2u);  // case-insensitive
  EXPECT_EQ(select_certificate(certs, "x.example.com"), 0u);
  EXPECT_EQ(select_certificate(certs, "x.a.example.com"), 3u);  // longest wildcard
  EXPECT_EQ(select_certificate(certs, "example.com"), 1u);      // a wildcard needs a label in front
  EXPECT_EQ(select_certificate(certs, "other.org"), 1u);        // the listener without hostname
  EXPECT_EQ(select_certificate(certs, ""), 1u);                 // no SNI
  const std::vector<TlsCertificate> named{cert("a", "a.org"), cert("b", "b.org")};
  EXPECT_EQ(select_certificate(named, "c.org"), 0u);  // then the first
  EXPECT_EQ(select_certificate(named, "b.org"), 1u);
}

TEST(TlsContext, ChecksThatKeyAndCertificateLoad) {
  EXPECT_EQ(check_certificate(test::kCertPem, test::kKeyPem), "");
  EXPECT_NE(check_certificate("cert", test::kKeyPem).find("tls.crt"), std::string::npos);
  EXPECT_NE(check_certificate(test::kCertPem, "key").find("tls.key"), std::string::npos);
  TlsServerContext ctx({cert("a", "a.org"), cert("b", "")});
  EXPECT_EQ(ctx.certificates().size(), 2u);
}

const std::string kTlsBase = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: mg
  listeners:
  - {name: a, port: 443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: cert}]}}
  - {name: b, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert, namespace: certs}]}}
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: ns}
type: kubernetes.io/tls
data: {tls.crt: )" + std::string(test::kCertBase64) + ", tls.key: " + std::string(test::kKeyBase64) + R"(}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: certs}
type: kubernetes.io/tls
stringData:
  tls.crt: |
)";

std::string indented(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out += "    " + std::string(text.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

std::string manifests(bool grant) {
  std::string text = kTlsBase + indented(test::kCertPem) + "  tls.key: |\n" + indented(test::kKeyPem);
  if (grant)
    text += R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: ns}]
  to: [{group: "", kind: Secret}]
)";
  return text;
}

TEST(TlsContext, SecretDataAndStringDataDecode) {
  const config::ObjectSet set = config::load_string(manifests(true), "t.yaml");
  ASSERT_EQ(set.secrets.size(), 2u);
  for (const auto& s : set.secrets) {
    EXPECT_EQ(route::secret_value(s, "tls.crt"), std::string(test::kCertPem)) << s.metadata.namespace_;
    EXPECT_EQ(route::secret_value(s, "tls.key"), std::string(test::kKeyPem)) << s.metadata.namespace_;
  }
}

TEST(TlsContext, HttpsSectionsOfOnePortShareOneTlsListener) {
  auto t = route::translate(config::load_string(manifests(true), "t.yaml"));
  ASSERT_EQ(t->listeners.size(), 2u) << (t->warnings.empty() ? "" : t->warnings[0]);
  const route::Listener& https = t->listeners[0].port == 443 ? t->listeners[0] : t->listeners[1];
  const route::Listener& http = t->listeners[0].port == 443 ? t->listeners[1] : t->listeners[0];
  ASSERT_NE(https.tls, nullptr);
  EXPECT_EQ(http.tls, nullptr);
  ASSERT_EQ(https.tls->certificates().size(), 2u);
  EXPECT_EQ(https.tls->certificates()[0].hostname, "a.example.com");
  EXPECT_EQ(https.section_names, (std::vector<std::string>{"a", "b"}));
}

TEST(TlsContext, CrossNamespaceSecretNeedsReferenceGrant) {
  const config::ObjectSet set = config::load_string(manifests(false), "t.yaml");
  const auto& gw = set.gateways[0];
  const route::ListenerCertificate b = route::resolve_listener_certificate(set, gw, gw.listeners[1]);
  EXPECT_FALSE(b.certificate.has_value());
  EXPECT_EQ(b.reason, "RefNotPermitted");
  EXPECT_TRUE(route::resolve_listener_certificate(set, gw, gw.listeners[0]).certificate.has_value());
  auto t = route::translate(set);
  const auto https = std::find_if(t->listeners.begin(), t->listeners.end(), [](auto& l) { return l.port == 443; });
  ASSERT_NE(https, t->listeners.end());
  EXPECT_EQ(https->section_names, (std::vector<std::string>{"a"}));  // b is not served
}

}  // namespace
}  // namespace mg::net
