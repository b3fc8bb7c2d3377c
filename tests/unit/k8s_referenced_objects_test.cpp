// The Secrets and ConfigMaps the provider reads: only those a Gateway of our classes names, wherever it
// names them.

#include <gtest/gtest.h>

#include "config/loader.h"
#include "k8s/referenced_objects.h"

namespace mg::k8s {
namespace {

TEST(K8sReferencedObjects, CertificatesAndClientCaBundlesOfOurGatewaysAndNothingElse) {
  const config::ObjectSet objects = config::load_string(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mirrorgate}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: theirs}
spec: {controllerName: example.com/another-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: someone-elses, namespace: apps}
spec:
  gatewayClassName: theirs
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    tls: {certificateRefs: [{name: their-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: apps}
spec:
  gatewayClassName: mirrorgate
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{group: "", kind: ConfigMap, name: default-ca}]
      perPort:
      - port: 8443
        tls:
          validation:
            caCertificateRefs: [{group: "", kind: Secret, name: port-ca, namespace: pki}]
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    tls:
      certificateRefs: [{name: web-cert}, {kind: Secret, group: "", name: shared-cert, namespace: certs}]
  - name: plain
    protocol: HTTP
    port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: legacy, namespace: other}
spec:
  gatewayClassName: mirrorgate
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    tls:
      certificateRefs: [{name: legacy-cert}, {group: example.com, kind: Vault, name: not-core}]
      frontendValidation:
        caCertificateRefs: [{group: "", kind: ConfigMap, name: legacy-ca}, {group: "", kind: Service, name: odd}]
---
apiVersion: v1
kind: Secret
metadata: {name: unnamed, namespace: apps}
data: {}
)",
                                                        "test");
  const std::set<ReferencedObject> expected = {
      {"ConfigMap", "apps", "default-ca"},  {"Secret", "pki", "port-ca"},       {"Secret", "apps", "web-cert"},
      {"Secret", "certs", "shared-cert"},   {"Secret", "other", "legacy-cert"}, {"ConfigMap", "other", "legacy-ca"},
  };
  EXPECT_EQ(referenced_objects(objects, "mirrorgate.io/gateway-controller"), expected);
}

TEST(K8sReferencedObjects, CaConfigMapsOfBackendTlsPoliciesInTheirNamespace) {
  const config::ObjectSet objects = config::load_string(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: app-tls, namespace: apps}
spec:
  targetRefs: [{group: "", kind: Service, name: app}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: app-ca}, {group: "", kind: Secret, name: not-read}]
    hostname: app.example.org
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: system, namespace: apps}
spec:
  targetRefs: [{group: "", kind: Service, name: other}]
  validation: {wellKnownCACertificates: System, hostname: other.example.org}
)",
                                                        "test");
  const std::set<ReferencedObject> expected = {{"ConfigMap", "apps", "app-ca"}};
  EXPECT_EQ(referenced_objects(objects, "mirrorgate.io/gateway-controller"), expected);
}

}  // namespace
}  // namespace mg::k8s
