// Loading ClientTrafficPolicy (mirrorgate.io/v1alpha1): values as written, and every mistake named by
// file, line, object and field path.

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace mg::config {
namespace {

std::string load_error(const std::string& yaml) {
  try {
    load_string(yaml, "policy.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return {};
}

// A policy with `spec_tail` appended under spec (after its targetRefs); line 9 is the first line of it.
std::string policy(
    const std::string& spec_tail,
    const std::string& target = "{group: gateway.networking.k8s.io, kind: Gateway, name: gw}") {
  return "apiVersion: mirrorgate.io/v1alpha1\n"
         "kind: ClientTrafficPolicy\n"
         "metadata:\n"
         "  name: strict\n"
         "  namespace: gateway-ns\n"
         "spec:\n"
         "  targetRefs:\n"
         "  - " +
         target + "\n" + spec_tail;
}

TEST(ClientTrafficPolicyLoader, LoadsQuantitiesDurationsAndTargets) {
  const ObjectSet set = load_string(policy("  limits:\n"
                                           "    maxRequestLineSize: 1024\n"
                                           "    maxHeaderSize: 64Ki\n"
                                           "    maxHeaders: 10\n"
                                           "    maxRequestBodySize: 10Mi\n"
                                           "  timeouts: {requestHeader: 10s, idle: 1m30s}\n",
                                           "{group: gateway.networking.k8s.io, kind: Gateway, name: gw, "
                                           "sectionName: http}"),
                                    "policy.yaml");
  ASSERT_EQ(set.client_traffic_policies.size(), 1u);
  const ClientTrafficPolicy& p = set.client_traffic_policies[0];
  EXPECT_EQ(p.metadata.namespace_, "gateway-ns");
  ASSERT_EQ(p.target_refs.size(), 1u);
  EXPECT_EQ(p.target_refs[0].name, "gw");
  EXPECT_EQ(p.target_refs[0].section_name, "http");
  EXPECT_EQ(p.limits.max_request_line_size, 1024u);
  EXPECT_EQ(p.limits.max_header_size, 65536u);
  EXPECT_EQ(p.limits.max_headers, 10u);
  EXPECT_EQ(p.limits.max_request_body_size, 10u << 20);
  ASSERT_TRUE(p.timeouts.request_header);
  EXPECT_EQ(p.timeouts.request_header->milliseconds, 10000);
  ASSERT_TRUE(p.timeouts.idle);
  EXPECT_EQ(p.timeouts.idle->milliseconds, 90000);
}

TEST(ClientTrafficPolicyLoader, LeavesUnsetFieldsUnset) {
  const ObjectSet set = load_string(policy("  limits: {maxRequestBodySize: 0}\n"), "policy.yaml");
  const ClientTrafficPolicy& p = set.client_traffic_policies.at(0);
  EXPECT_EQ(p.limits.max_request_body_size, 0u);  // 0: unlimited, as --max-request-body 0
  EXPECT_FALSE(p.limits.max_request_line_size);
  EXPECT_FALSE(p.limits.max_header_size);
  EXPECT_FALSE(p.limits.max_headers);
  EXPECT_FALSE(p.timeouts.request_header);
  EXPECT_FALSE(p.timeouts.idle);
}

TEST(ClientTrafficPolicyLoader, RejectsUnknownFieldWithPath) {
  EXPECT_EQ(load_error(policy("  limits:\n    maxHeader: 10\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.limits.maxHeader: unknown field");
  EXPECT_EQ(load_error(policy("  timeout: {idle: 5s}\n")),
            "policy.yaml:9: ClientTrafficPolicy gateway-ns/strict: spec.timeout: unknown field");
}

TEST(ClientTrafficPolicyLoader, RejectsMalformedByteSize) {
  EXPECT_EQ(
      load_error(policy("  limits:\n    maxRequestBodySize: 10MB\n")),
      "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.limits.maxRequestBodySize: invalid byte "
      "size \"10MB\" (an integer, or a quantity such as \"64Ki\", \"8Mi\")");
}

TEST(ClientTrafficPolicyLoader, RejectsZeroSizesAndCounts) {
  EXPECT_EQ(
      load_error(policy("  limits:\n    maxHeaderSize: 0\n")),
      "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.limits.maxHeaderSize: must be at least "
      "1 byte");
  EXPECT_EQ(
      load_error(policy("  limits:\n    maxHeaders: 0\n")),
      "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.limits.maxHeaders: must be between 1 "
      "and 1000000, got 0");
  EXPECT_EQ(
      load_error(policy("  limits:\n    maxHeaders: 8Ki\n")),
      "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.limits.maxHeaders: expected an integer, "
      "got \"8Ki\"");
}

TEST(ClientTrafficPolicyLoader, RejectsBadOrZeroDurations) {
  EXPECT_EQ(
      load_error(policy("  timeouts:\n    requestHeader: 0s\n")),
      "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.timeouts.requestHeader: must be longer "
      "than 0s");
  EXPECT_EQ(load_error(policy("  timeouts:\n    idle: 1.5s\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.timeouts.idle: invalid duration "
            "\"1.5s\" (e.g. \"500ms\", \"10s\", \"1m30s\")");
}

TEST(ClientTrafficPolicyLoader, RejectsTargetsOtherThanGateways) {
  EXPECT_EQ(
      load_error(policy("", "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}")),
      "policy.yaml:8: ClientTrafficPolicy gateway-ns/strict: spec.targetRefs[0]: unsupported target "
      "gateway.networking.k8s.io/HTTPRoute (supported: kind Gateway of group gateway.networking.k8s.io)");
  EXPECT_EQ(
      load_error(policy("", "{kind: Gateway, name: gw}")),
      "policy.yaml:8: ClientTrafficPolicy gateway-ns/strict: spec.targetRefs[0].group: required field is "
      "missing");
}

TEST(ClientTrafficPolicyLoader, RejectsMissingTargetRefsAndOtherApiVersions) {
  EXPECT_EQ(load_error("apiVersion: mirrorgate.io/v1alpha1\nkind: ClientTrafficPolicy\nmetadata: {name: p}\n"
                       "spec:\n  limits: {maxHeaders: 10}\n"),
            "policy.yaml:5: ClientTrafficPolicy default/p: spec.targetRefs: required field is missing");
  EXPECT_EQ(load_error("apiVersion: mirrorgate.io/v1\nkind: ClientTrafficPolicy\nmetadata: {name: p}\n"),
            "policy.yaml:1: ClientTrafficPolicy: unsupported apiVersion \"mirrorgate.io/v1\" (supported: "
            "mirrorgate.io/v1alpha1)");
}

}  // namespace
}  // namespace mg::config

namespace mg::config {
namespace {

TEST(ClientTrafficPolicyLoader, LoadsTlsSettings) {
  const ObjectSet set = load_string(policy("  tls:\n"
                                           "    minVersion: \"1.2\"\n"
                                           "    maxVersion: Auto\n"
                                           "    ciphers: [ECDHE-RSA-AES128-GCM-SHA256]\n"
                                           "    alpnProtocols: [http/1.1, http/1.0]\n"),
                                    "policy.yaml");
  const ClientTrafficPolicy& p = set.client_traffic_policies.at(0);
  ASSERT_TRUE(p.tls);
  EXPECT_EQ(p.tls->min_version, "1.2");
  EXPECT_EQ(p.tls->max_version, std::nullopt);  // Auto
  EXPECT_EQ(p.tls->ciphers, std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256"});
  EXPECT_EQ(p.tls->alpn_protocols, (std::vector<std::string>{"http/1.1", "http/1.0"}));
  EXPECT_FALSE(load_string(policy(""), "policy.yaml").client_traffic_policies.at(0).tls);
}

TEST(ClientTrafficPolicyLoader, RejectsBadTlsSettings) {
  EXPECT_EQ(load_error(policy("  tls:\n    minVersion: \"1.1\"\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.minVersion: TLS 1.1 is not supported "
            "(deprecated by RFC 8996); use 1.2 or 1.3");
  EXPECT_EQ(load_error(policy("  tls:\n    maxVersion: \"1.4\"\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.maxVersion: unknown TLS version "
            "\"1.4\" (Auto, 1.2 or 1.3)");
  EXPECT_EQ(load_error(policy("  tls:\n    minVersion: \"1.3\"\n    maxVersion: \"1.2\"\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.minVersion: minVersion 1.3 is above "
            "maxVersion 1.2");
  EXPECT_EQ(load_error(policy("  tls:\n    ciphers: [\"HIGH:!aNULL\"]\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.ciphers[0]: \"HIGH:!aNULL\" is not a "
            "cipher suite name (one OpenSSL name an entry, e.g. ECDHE-RSA-AES128-GCM-SHA256)");
  EXPECT_EQ(load_error(policy("  tls:\n    alpnProtocols: [spdy/3]\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.alpnProtocols[0]: unknown ALPN "
            "protocol \"spdy/3\" (h2, http/1.1 or http/1.0)");
  EXPECT_EQ(load_error(policy("  tls:\n    ecdhCurves: [X25519]\n")),
            "policy.yaml:10: ClientTrafficPolicy gateway-ns/strict: spec.tls.ecdhCurves: unknown field");
}

}  // namespace
}  // namespace mg::config
