// BackendTLSPolicy: decoding (the v1 CRD's rules), attachment to Service ports (sectionName precedence,
// the oldest of two policies on one target), CA references and their reasons, what the translator gives
// each cluster, and the policy's GEP-713 status.

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "net/upstream_tls.h"
#include "route/backend_tls_policies.h"
#include "route/translator.h"
#include "test_certificate.h"

namespace mg::route {
namespace {

const std::string kBase = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mg}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: mg
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec:
  ports:
  - {name: https, port: 443, targetPort: 8443}
  - {name: other, port: 8443, targetPort: 9443}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /a}}]
    backendRefs: [{name: app, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /b}}]
    backendRefs: [{name: app, port: 8443}]
)";

std::string indented(std::string_view pem, const std::string& pad) {
  std::string out;
  size_t start = 0;
  while (start < pem.size()) {
    const size_t end = pem.find('\n', start);
    out += pad + std::string(pem.substr(start, end - start)) + "\n";
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string config_map(const std::string& name, std::string_view pem) {
  return "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name +
         ", namespace: default}\ndata:\n  ca.crt: |\n" + indented(pem, "    ");
}

std::string policy(const std::string& name, const std::string& validation, const std::string& section = "",
                   const std::string& created = "") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: " + name +
         ", namespace: default" + (created.empty() ? "" : ", creationTimestamp: \"" + created + "\"") +
         "}\nspec:\n  targetRefs:\n  - {group: \"\", kind: Service, name: app" +
         (section.empty() ? "" : ", sectionName: " + section) + "}\n  validation:\n" + validation;
}

const std::string kGoodCa =
    "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: ca}]\n    hostname: app.example.org\n";

config::ObjectSet load(const std::string& extra) { return config::load_string(kBase + extra, "test.yaml"); }

std::string load_error(const std::string& extra) {
  try {
    load(extra);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return {};
}

TEST(BackendTlsPolicyLoader, DecodesTargetsCaRefsHostnameAndSubjectAltNames) {
  const auto set = load(policy("p",
                               "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: ca}]\n"
                               "    hostname: app.example.org\n"
                               "    subjectAltNames:\n"
                               "    - {type: Hostname, hostname: \"*.example.org\"}\n"
                               "    - {type: URI, uri: \"spiffe://example.org/app\"}\n",
                               "https"));
  ASSERT_EQ(set.backend_tls_policies.size(), 1u);
  const auto& p = set.backend_tls_policies[0];
  ASSERT_EQ(p.target_refs.size(), 1u);
  EXPECT_EQ(p.target_refs[0].kind, "Service");
  EXPECT_EQ(p.target_refs[0].section_name, "https");
  EXPECT_EQ(p.validation.hostname, "app.example.org");
  ASSERT_EQ(p.validation.ca_certificate_refs.size(), 1u);
  EXPECT_EQ(p.validation.ca_certificate_refs[0].name, "ca");
  ASSERT_EQ(p.validation.subject_alt_names.size(), 2u);
  EXPECT_EQ(p.validation.subject_alt_names[0].hostname, "*.example.org");
  EXPECT_EQ(p.validation.subject_alt_names[1].uri, "spiffe://example.org/app");
}

TEST(BackendTlsPolicyLoader, RefusesWhatTheCrdRefuses) {
  EXPECT_NE(load_error(policy("p", "    hostname: app.example.org\n"))
                .find("must specify either caCertificateRefs or wellKnownCACertificates"),
            std::string::npos);
  EXPECT_NE(load_error(policy("p", "    wellKnownCACertificates: System\n" + kGoodCa))
                .find("must not contain both"),
            std::string::npos);
  EXPECT_NE(load_error(policy("p", "    wellKnownCACertificates: Mozilla\n    hostname: a.example.org\n"))
                .find("unsupported value \"Mozilla\""),
            std::string::npos);
  EXPECT_NE(load_error(policy("p", "    wellKnownCACertificates: System\n    hostname: \"*.example.org\"\n"))
                .find("invalid hostname"),
            std::string::npos);
  EXPECT_NE(load_error(policy("p", kGoodCa + "    subjectAltNames: [{type: URI, hostname: a.example.org}]\n"))
                .find("type URI takes uri"),
            std::string::npos);
  const std::string gateway_target =
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p}\nspec:\n"
      "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n  validation:\n" +
      kGoodCa;
  EXPECT_NE(load_error(gateway_target).find("unsupported target"), std::string::npos);
}

TEST(BackendTlsPolicy, ValidPolicyGivesTheClusterATlsContext) {
  const auto set = load(config_map("ca", test::kCertPem) + policy("p", kGoodCa));
  const auto r = resolve_backend_tls_policies(set);
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_TRUE(r.outcomes[0].accepted);
  EXPECT_TRUE(r.outcomes[0].resolved_refs);
  ASSERT_TRUE(r.outcomes[0].context);
  EXPECT_EQ(r.outcomes[0].context->settings().hostname, "app.example.org");
  const auto table = translate(set);
  ASSERT_EQ(table->clusters.size(), 2u);
  for (const auto& c : table->clusters) EXPECT_TRUE(c.tls) << c.name;  // no sectionName: every port
}

TEST(BackendTlsPolicy, SectionNameCoversItsPortOnlyAndBeatsAWholeServicePolicy) {
  const auto set = load(config_map("ca", test::kCertPem) + policy("port", kGoodCa, "https") +
                        policy("whole", "    wellKnownCACertificates: System\n    hostname: whole.example.org\n"));
  const auto r = resolve_backend_tls_policies(set);
  EXPECT_EQ(r.for_port("default", "app", "https")->id, "default/port");
  EXPECT_EQ(r.for_port("default", "app", "other")->id, "default/whole");
  EXPECT_EQ(r.for_port("default", "else", "https"), nullptr);
  const auto only = load(config_map("ca", test::kCertPem) + policy("port", kGoodCa, "https"));
  const auto table = translate(only);
  for (const auto& c : table->clusters) EXPECT_EQ(c.tls != nullptr, c.port.name == "https") << c.name;
}

TEST(BackendTlsPolicy, OldestPolicyWinsThenName) {
  const auto set = load(config_map("ca", test::kCertPem) + policy("b-new", kGoodCa, "", "2025-01-01T00:00:00Z") +
                        policy("a-old", kGoodCa, "", "2024-01-01T00:00:00Z") +
                        policy("c-old", kGoodCa, "", "2024-01-01T00:00:00Z"));
  const auto r = resolve_backend_tls_policies(set);
  EXPECT_EQ(r.for_port("default", "app", "https")->id, "default/a-old");
  EXPECT_EQ(r.outcomes[0].conflicted_by[0], "default/a-old");  // b-new
  EXPECT_EQ(r.outcomes[1].conflicted_by[0], "");                // a-old holds it
  EXPECT_EQ(r.outcomes[2].conflicted_by[0], "default/a-old");  // c-old: as old, but later by name
}

TEST(BackendTlsPolicy, CaReferenceReasons) {
  struct Case {
    std::string objects, ref, accepted_reason, refs_reason;
  };
  const Case cases[] = {
      {"", "{group: \"\", kind: ConfigMap, name: nowhere}", "NoValidCACertificate", "InvalidCACertificateRef"},
      {"", "{group: \"\", kind: Secret, name: ca}", "NoValidCACertificate", "InvalidKind"},
      {config_map("ca", "not a certificate\n"), "{group: \"\", kind: ConfigMap, name: ca}", "NoValidCACertificate",
       "InvalidCACertificateRef"},
      {"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca}\ndata: {other: x}\n",
       "{group: \"\", kind: ConfigMap, name: ca}", "NoValidCACertificate", "InvalidCACertificateRef"},
  };
  for (const auto& c : cases) {
    const auto set = load(c.objects + policy("p", "    caCertificateRefs: [" + c.ref + "]\n    hostname: a.example.org\n"));
    const auto r = resolve_backend_tls_policies(set);
    ASSERT_EQ(r.outcomes.size(), 1u);
    EXPECT_FALSE(r.outcomes[0].accepted) << c.ref;
    EXPECT_EQ(r.outcomes[0].accepted_reason, c.accepted_reason) << c.ref;
    EXPECT_FALSE(r.outcomes[0].resolved_refs) << c.ref;
    EXPECT_EQ(r.outcomes[0].refs_reason, c.refs_reason) << c.ref;
    EXPECT_EQ(r.outcomes[0].context, nullptr) << c.ref;
    // The backends it governs are not served in plain text instead: the route's rules get 500.
    const auto table = translate(set);
    EXPECT_TRUE(table->clusters.empty()) << c.ref;
  }
}

TEST(BackendTlsPolicy, OneGoodCaOfTwoIsUsedAndTheBadOneReported) {
  const auto set = load(config_map("ca", test::kCertPem) +
                        policy("p", "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: ca}, "
                                    "{group: \"\", kind: ConfigMap, name: nowhere}]\n    hostname: a.example.org\n"));
  const auto r = resolve_backend_tls_policies(set);
  EXPECT_TRUE(r.outcomes[0].accepted);
  EXPECT_FALSE(r.outcomes[0].resolved_refs);
  EXPECT_EQ(r.outcomes[0].refs_reason, "InvalidCACertificateRef");
  EXPECT_NE(r.outcomes[0].refs_message.find("nowhere"), std::string::npos);
  EXPECT_TRUE(r.outcomes[0].context);
}

// The status of a policy as the translator writes it: one ancestor per Gateway of the routes using it.
TEST(BackendTlsPolicy, StatusNamesTheGatewayWithAcceptedAndResolvedRefs) {
  const auto set = load(config_map("ca", test::kCertPem) + policy("good", kGoodCa, "https") +
                        policy("bad", "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: nowhere}]\n"
                                      "    hostname: a.example.org\n",
                               "other") +
                        policy("late", kGoodCa, "https", "2030-01-01T00:00:00Z"));
  const auto table = translate(set);
  const StatusSnapshot& status = *table->status;
  auto conditions_of = [&](const std::string& name) {
    for (const auto& p : status.policies)
      if (p.object.kind == "BackendTLSPolicy" && p.object.name == name) {
        EXPECT_EQ(p.ancestors.size(), 1u) << name;
        if (p.ancestors.empty()) return std::vector<Condition>{};
        EXPECT_EQ(p.ancestors[0].ancestor_ref.name, "gw");
        return p.ancestors[0].conditions;
      }
    ADD_FAILURE() << "no status for " << name;
    return std::vector<Condition>{};
  };
  const auto good = conditions_of("good");
  ASSERT_EQ(good.size(), 2u);
  EXPECT_EQ(good[0].reason, "Accepted");
  EXPECT_EQ(good[1].reason, "ResolvedRefs");
  EXPECT_EQ(good[0].observed_generation, 1);
  const auto bad = conditions_of("bad");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].reason, "NoValidCACertificate");
  EXPECT_EQ(bad[1].reason, "InvalidCACertificateRef");
  const auto late = conditions_of("late");
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].reason, "Conflicted");
  // The route: its rule to the port of the bad policy has a backend that is not served.
  for (const auto& r : status.http_routes) {
    ASSERT_EQ(r.parents.size(), 1u);
    for (const auto& c : r.parents[0].conditions)
      if (c.type == "ResolvedRefs") {
        EXPECT_EQ(c.reason, "InvalidBackendTLSPolicy") << c.message;
      }
  }
}

TEST(UpstreamTlsContext, RefusesABundleWithoutCertificates) {
  EXPECT_EQ(net::check_upstream_ca_bundle(test::kCertPem), "");
  EXPECT_NE(net::check_upstream_ca_bundle("garbage"), "");
  EXPECT_NE(net::check_upstream_ca_bundle(std::string(test::kCertPem) + "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"), "");
  EXPECT_THROW(net::UpstreamTlsContext(net::UpstreamTlsSettings{"p", "garbage", "a", {}, {}}), std::runtime_error);
}

}  // namespace
}  // namespace mg::route
