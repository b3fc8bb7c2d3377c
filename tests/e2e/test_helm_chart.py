"""The Helm chart (charts/mirrorgate) and the manifest rendered from it (deploy/mirrorgate.yaml), against a
real API server (kube.py: kube-apiserver and etcd built from the Kubernetes modules, the Gateway API CRDs and
ours installed).

- `helm lint` passes, with the default values and with others;
- what `helm template` renders is accepted by the API server (`kubectl apply --dry-run=server`: schemas,
  strict field validation, admission), without a warning (the pods meet the "restricted" Pod Security
  Standard of the namespace's label), for the defaults and for values that take the other branches;
- deploy/mirrorgate.yaml is what deploy/render.sh renders now;
- the chart's RBAC is enough: its ServiceAccount, ClusterRoles, Roles and bindings applied for real, the
  gateway runs as that ServiceAccount (a TokenRequest token in a kubeconfig, as a pod's projected token)
  with the Deployment's own arguments, and reads every kind without an error, writes the status of every
  kind it writes, reads the Secret its HTTPS listener names and holds the Lease;
- and no more than enough: the ClusterRole's rules are exactly the documented ones, and the ServiceAccount
  may not read Secrets outside the release namespace, nor pods, nor write anything but status and its Lease.

This cluster runs no workloads: the gateway runs here as a process, its Gateway on 127.0.39.1. The
Deployment runs as pods in tests/e2e/test_chart_pods.py."""

from __future__ import annotations

import base64
import json
import subprocess

import kube
import mgtest
from mgtest import wait_for
from test_tls import make_certificate, secret_yaml

NET = "127.0.39"
RELEASE = "mirrorgate"
NAMESPACE = "mirrorgate-system"
CHART = mgtest.SOURCE_DIR / "charts" / "mirrorgate"
DEPLOY = mgtest.SOURCE_DIR / "deploy" / "mirrorgate.yaml"
RENDER = mgtest.SOURCE_DIR / "deploy" / "render.sh"
CONTROLLER = "mirrorgate.io/gateway-controller"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{RELEASE}"
# Namespaces that exist besides the release's (RoleBindings of other values go there).
OTHER_NAMESPACES = ["team-a", "team-b"]

# What the gateway does on the API server (docs/kubernetes.md, "Permissions"); a rule added to the chart
# must be added here too, on purpose.
CLUSTER_ROLE_RULES = [
    (["gateway.networking.k8s.io"], ["gatewayclasses", "gateways", "httproutes", "tlsroutes", "backendtlspolicies"],
     ["get", "list", "watch"]),
    (["gateway.networking.k8s.io"], ["referencegrants"], ["list", "watch"]),
    (["gateway.networking.k8s.io"],
     ["gatewayclasses/status", "gateways/status", "httproutes/status", "tlsroutes/status",
      "backendtlspolicies/status"], ["patch"]),
    (["mirrorgate.io"], ["mirrorpolicies", "clienttrafficpolicies"], ["get", "list", "watch"]),
    (["mirrorgate.io"], ["mirrorpolicies/status", "clienttrafficpolicies/status"], ["patch"]),
    ([""], ["namespaces", "services"], ["list", "watch"]),
    (["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
]


def namespace_yaml(name: str) -> str:
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/warn-version: latest
"""


def items(listing: dict) -> list[dict]:
    return listing["items"] if listing.get("kind") == "List" else [listing]


def rules_of(role: dict) -> list[tuple]:
    return sorted((sorted(r.get("apiGroups", [])), sorted(r.get("resources", [])), sorted(r["verbs"]),
                   sorted(r.get("resourceNames", []))) for r in role["rules"])


class HelmChart(kube.KubeTestCase):
    @classmethod
    def start(cls):
        # The release namespace as deploy/mirrorgate.yaml makes it (restricted), warning about any pod
        # template that would not be admitted.
        for ns in [NAMESPACE, *OTHER_NAMESPACES]:
            cls.kube.apply(namespace_yaml(ns))

    # --- helpers

    def render(self, *args: str) -> str:
        return self.kube.helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args).stdout

    def dry_run(self, manifest: str, *args: str) -> list[dict]:
        """kubectl apply --dry-run=server: the objects as the API server would store them. Fails on an error
        and on any warning (Pod Security, unknown or duplicate fields, deprecated APIs)."""
        result = self.kube.kubectl("apply", "--dry-run=server", *args, "-o", "json", "-f", "-", input=manifest)
        # kubectl's own note that an object exists without its last-applied annotation (our CRDs, which the
        # control plane installed server-side) is about how the object was made, not about the manifest.
        warnings = [line for line in result.stderr.splitlines()
                    if line.strip() and "kubectl.kubernetes.io/last-applied-configuration annotation" not in line]
        self.assertEqual(warnings, [], "the API server warned")
        return items(json.loads(result.stdout))

    @staticmethod
    def of_kind(objects: list[dict], kind: str) -> list[dict]:
        return [o for o in objects if o["kind"] == kind]

    @staticmethod
    def container(objects: list[dict]) -> dict:
        (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        return container

    def can_i(self, *args: str) -> bool:
        result = self.kube.kubectl("auth", "can-i", *args, "--as", SERVICE_ACCOUNT, check=False)
        answer = result.stdout.strip()
        self.assertIn(answer, ("yes", "no"), result)
        return answer == "yes"

    @staticmethod
    def condition(conditions: list[dict], type_: str) -> dict:
        return next((c for c in conditions if c["type"] == type_), {})

    # --- the chart

    def test_helm_lint_passes(self):
        for values in ([], ["--set", "replicas=1", "--set", "watchNamespaces={team-a,team-b}"],
                       ["--set", "rbac.clusterWideSecrets=true", "--set", "gatewayClass.create=false"]):
            with self.subTest(values=values):
                result = self.kube.helm("lint", "--strict", str(CHART), *values)
                self.assertIn("1 chart(s) linted, 0 chart(s) failed", result.stdout)
                self.assertNotIn("[WARNING]", result.stdout)
                self.assertNotIn("[ERROR]", result.stdout)

    def test_defaults_pass_server_side_validation(self):
        objects = self.dry_run(self.render())
        kinds = sorted(o["kind"] for o in objects)
        self.assertEqual(kinds, sorted(["ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRoleBinding",
                                        "RoleBinding", "Role", "RoleBinding", "Service", "Deployment",
                                        "PodDisruptionBudget", "GatewayClass"]))
        deployment = self.of_kind(objects, "Deployment")[0]
        self.assertEqual(deployment["spec"]["replicas"], 2)
        pod = deployment["spec"]["template"]["spec"]
        c = self.container(objects)
        self.assertIn("--leader-elect", c["args"])
        self.assertIn(f"--leader-elect-resource-namespace={NAMESPACE}", c["args"])
        self.assertIn("--admin=0.0.0.0:9901", c["args"])
        # Off loopback the admin listener asks for a token: the chart mounts it from a Secret the user makes.
        self.assertIn("--admin-token-file=/etc/mirrorgate/admin/token", c["args"])
        volume = next(v for v in pod["volumes"] if v["name"] == "admin-token")
        self.assertEqual(volume["secret"]["secretName"], f"{RELEASE}-admin-token")
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(c[probe]["httpGet"]["path"], "/ready")
            self.assertEqual(c[probe]["httpGet"]["port"], "admin")
        self.assertIn({"name": "admin", "containerPort": 9901, "protocol": "TCP"}, c["ports"])
        security = c["securityContext"]
        self.assertEqual((security["runAsNonRoot"], security["runAsUser"], security["readOnlyRootFilesystem"],
                          security["allowPrivilegeEscalation"]), (True, 65532, True, False))
        self.assertEqual(security["capabilities"], {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
        self.assertEqual(pod["serviceAccountName"], RELEASE)
        self.assertEqual(deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"], "9901")
        self.assertTrue(c["resources"]["requests"] and c["resources"]["limits"])
        service = self.of_kind(objects, "Service")[0]
        self.assertEqual(service["spec"]["type"], "LoadBalancer")
        self.assertEqual([(p["name"], p["port"]) for p in service["spec"]["ports"]], [("http", 80), ("https", 443)])
        gateway_class = self.of_kind(objects, "GatewayClass")[0]
        self.assertEqual((gateway_class["metadata"]["name"], gateway_class["spec"]["controllerName"]),
                         ("mirrorgate", CONTROLLER))
        secret_bindings = [b for b in self.of_kind(objects, "RoleBinding") if b["roleRef"]["name"].endswith("-secrets")]
        self.assertEqual([b["metadata"]["namespace"] for b in secret_bindings], [NAMESPACE])

    def test_other_values_pass_server_side_validation(self):
        # One replica, some namespaces: no election (no Lease Role), Secrets of those namespaces.
        objects = self.dry_run(self.render(
            "--set", "replicas=1", "--set", "watchNamespaces={team-a,team-b}", "--set", "logLevel=debug",
            "--set", "extraArgs={--drain-timeout,10}", "--set", "service.type=ClusterIP",
            "--set", "podDisruptionBudget.minAvailable=1", "--set", "controllerName=example.com/edge",
            "--set", "gatewayClass.name=edge", "--set", "workers=null"))
        args = self.container(objects)["args"]
        self.assertNotIn("--leader-elect", args)
        self.assertEqual(self.of_kind(objects, "Role"), [])
        self.assertIn("--watch-namespace=team-a", args)
        self.assertIn("--watch-namespace=team-b", args)
        self.assertEqual(args[-2:], ["--drain-timeout", "10"])
        self.assertFalse([a for a in args if a.startswith("--workers")])
        self.assertEqual(sorted(b["metadata"]["namespace"] for b in self.of_kind(objects, "RoleBinding")),
                         OTHER_NAMESPACES)
        self.assertEqual(self.of_kind(objects, "PodDisruptionBudget")[0]["spec"]["minAvailable"], 1)
        self.assertEqual(self.of_kind(objects, "GatewayClass")[0]["spec"]["controllerName"], "example.com/edge")
        # Cluster-wide Secrets, election with one replica, no GatewayClass, a NodePort Service.
        objects = self.dry_run(self.render(
            "--set", "replicas=1", "--set", "leaderElection.enabled=true", "--set", "rbac.clusterWideSecrets=true",
            "--set", "gatewayClass.create=false", "--set", "podDisruptionBudget.enabled=false",
            "--set", "service.type=NodePort", "--set", "service.externalTrafficPolicy=Local"))
        self.assertIn("--leader-elect", self.container(objects)["args"])
        self.assertEqual(len(self.of_kind(objects, "Role")), 1)
        self.assertEqual(self.of_kind(objects, "GatewayClass") + self.of_kind(objects, "PodDisruptionBudget"), [])
        (cluster_role,) = self.of_kind(objects, "ClusterRole")
        self.assertIn({"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list", "watch"]},
                      cluster_role["rules"])
        self.assertEqual([b["roleRef"]["name"] for b in self.of_kind(objects, "RoleBinding")],
                         [f"{RELEASE}-leader-election"])
        # An admin token in the values: the chart makes the Secret named, and mounts that one.
        objects = self.dry_run(self.render("--set", "admin.token=not-a-real-token",
                                           "--set", "admin.tokenSecret=edge-admin"))
        (secret,) = self.of_kind(objects, "Secret")
        self.assertEqual(secret["metadata"]["name"], "edge-admin")
        self.assertEqual(base64.b64decode(secret["data"]["token"]).decode(), "not-a-real-token")
        (deployment,) = self.of_kind(objects, "Deployment")
        volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "admin-token")
        self.assertEqual(volume["secret"]["secretName"], "edge-admin")

    def test_deploy_manifest_is_a_fresh_render_and_valid(self):
        fresh = subprocess.run([str(RENDER), "-"], env=self.kube.env, capture_output=True, text=True, timeout=120)
        self.assertEqual(fresh.returncode, 0, fresh.stderr)
        self.assertTrue(fresh.stdout == DEPLOY.read_text(),
                        "deploy/mirrorgate.yaml differs from a fresh render: run deploy/render.sh")
        objects = self.dry_run(DEPLOY.read_text())
        kinds = [o["kind"] for o in objects]
        self.assertEqual(kinds[:3], ["Namespace", "CustomResourceDefinition", "CustomResourceDefinition"])
        self.assertIn("Deployment", kinds)

    # --- the RBAC, for real

    def apply_chart_rbac(self):
        """The chart's ServiceAccount, RBAC and GatewayClass, applied for real (default values)."""
        self.kube.apply(self.render("--show-only", "templates/serviceaccount.yaml", "--show-only",
                                    "templates/rbac.yaml", "--show-only", "templates/gatewayclass.yaml"))

    def test_cluster_role_is_exactly_the_documented_rules(self):
        self.apply_chart_rbac()
        role = self.kube.get("clusterrole", RELEASE)
        self.assertEqual(rules_of(role), sorted((sorted(g), sorted(r), sorted(v), []) for g, r, v in CLUSTER_ROLE_RULES))
        self.assertEqual(rules_of(self.kube.get("clusterrole", f"{RELEASE}-secrets")),
                         [([""], ["configmaps", "secrets"], ["get", "list", "watch"], [])])
        self.assertEqual(rules_of(self.kube.get("role", f"{RELEASE}-leader-election", "-n", NAMESPACE)),
                         sorted([(["coordination.k8s.io"], ["leases"], ["create"], []),
                                 (["coordination.k8s.io"], ["leases"], ["get", "update"], ["mirrorgate-leader"])]))

    def test_service_account_may_not_read_other_secrets_pods_or_write_objects(self):
        self.apply_chart_rbac()
        # What it may (so that the refusals below are about permissions, not about a wrong user name).
        wait_for(lambda: self.can_i("list", "secrets", "-n", NAMESPACE), 15, "the bindings to take effect")
        self.assertTrue(self.can_i("watch", "httproutes.gateway.networking.k8s.io", "--all-namespaces"))
        self.assertTrue(self.can_i("patch", "gateways.gateway.networking.k8s.io", "--subresource=status", "-n", "default"))
        self.assertTrue(self.can_i("update", "leases.coordination.k8s.io/mirrorgate-leader", "-n", NAMESPACE))
        refused = [
            ("list", "secrets", "--all-namespaces"),
            ("get", "secrets", "-n", "default"),
            ("list", "secrets", "-n", "team-a"),
            ("get", "pods", "-n", NAMESPACE),
            ("list", "pods", "--all-namespaces"),
            ("list", "configmaps", "--all-namespaces"),
            ("update", "gateways.gateway.networking.k8s.io", "-n", "default"),
            ("patch", "httproutes.gateway.networking.k8s.io", "-n", "default"),
            ("create", "httproutes.gateway.networking.k8s.io", "-n", "default"),
            ("delete", "gatewayclasses.gateway.networking.k8s.io"),
            ("update", "gateways.gateway.networking.k8s.io", "--subresource=status", "-n", "default"),
            ("create", "secrets", "-n", NAMESPACE),
            ("update", "leases.coordination.k8s.io/other-lease", "-n", NAMESPACE),
            ("create", "leases.coordination.k8s.io", "-n", "default"),
            ("delete", "leases.coordination.k8s.io/mirrorgate-leader", "-n", NAMESPACE),
            ("update", "endpointslices.discovery.k8s.io", "-n", "default"),
            ("create", "events", "-n", NAMESPACE),
        ]
        allowed = [args for args in refused if self.can_i(*args)]
        self.assertEqual(allowed, [], f"{SERVICE_ACCOUNT} may do more than it needs")

    def test_gateway_runs_as_the_chart_service_account(self):
        self.apply_chart_rbac()
        # As a pod's projected token: a TokenRequest for the ServiceAccount, bound to nothing else.
        token = self.kube.service_account_token(RELEASE, NAMESPACE, create=False)
        kubeconfig = self.cluster.dir / "service-account.kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "pod",
            "clusters": [{"name": "cluster", "cluster": {"server": self.kube.server,
                                                         "certificate-authority": str(self.kube.ca_file)}}],
            "users": [{"name": "sa", "user": {"token": token}}],
            "contexts": [{"name": "pod", "context": {"cluster": "cluster", "user": "sa", "namespace": NAMESPACE}}]}))
        kubeconfig.chmod(0o600)

        ip = f"{NET}.1"
        http_port, https_port = wait_for(lambda: len(ports := {mgtest.free_port(ip), mgtest.free_port(ip)}) == 2
                                         and sorted(ports), 5, "two free ports")
        host = "chart.example.com"
        crt, key = make_certificate(self.cluster.dir, host)
        self.kube.apply(secret_yaml("chart-cert", crt, key).replace("namespace: default", f"namespace: {NAMESPACE}"))
        self.kube.apply(f"""apiVersion: v1
kind: Service
metadata: {{name: backend, namespace: {NAMESPACE}}}
spec:
  selector: {{app: backend}}
  ports: [{{name: http, port: 8080, targetPort: 3000}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: edge, namespace: {NAMESPACE}}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: {ip}}}]
  listeners:
  - {{name: http, protocol: HTTP, port: {http_port}}}
  - name: https
    protocol: HTTPS
    port: {https_port}
    hostname: {host}
    tls: {{certificateRefs: [{{name: chart-cert}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  parentRefs: [{{name: edge}}]
  rules:
  - backendRefs: [{{name: backend, port: 8080}}]
    filters:
    - type: RequestMirror
      requestMirror: {{backendRef: {{name: backend, port: 8080}}}}
---
apiVersion: mirrorgate.io/v1alpha1
kind: MirrorPolicy
metadata: {{name: web-mirror, namespace: {NAMESPACE}}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: web}}]
  timeout: 2s
---
apiVersion: mirrorgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {{name: edge-limits, namespace: {NAMESPACE}}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: edge}}]
  limits: {{maxHeaders: 50}}
""")
        # The Deployment's own arguments (but the admin address, its token file and the access log, which the
        # test picks).
        # Permissions in force (the authorizer follows new bindings within a moment), so that any refusal
        # the gateway meets below is a permission the chart lacks.
        for check in (("list", "referencegrants.gateway.networking.k8s.io", "--all-namespaces"),
                      ("patch", "clienttrafficpolicies.mirrorgate.io", "--subresource=status", "-n", NAMESPACE),
                      ("watch", "secrets", "-n", NAMESPACE), ("create", "leases.coordination.k8s.io", "-n", NAMESPACE)):
            wait_for(lambda: self.can_i(*check), 15, f"can-i {' '.join(check)}")
        args = [a for a in self.container(self.dry_run(self.render("--show-only", "templates/deployment.yaml")))["args"]
                if not a.startswith(("--admin=", "--admin-token-file=", "--access-log=", "--workers="))]
        self.assertIn("--leader-elect", args)
        gw = self.cluster.gateway(None, admin_ip=ip, name="chart-gateway",
                                  extra_args=["--kubeconfig", str(kubeconfig), *args])
        try:
            gw.wait_ready()
            # Just-made bindings may take the authorizer a moment: watches may fail at first, and recover.
            wait_for(lambda: gw.admin("/status").json()["kubernetesWatchErrors"] == [], 20,
                     "every watch to list without an error")
            wait_for(lambda: gw.metrics().get("mirrorgate_kubernetes_status_writer") == 1, 20, "the Lease")
            lease = self.kube.get("lease", "mirrorgate-leader", "-n", NAMESPACE)["spec"]
            self.assertTrue(lease["holderIdentity"])
            # Renewed (an update), not only created: every retry period, 2 s.
            wait_for(lambda: self.kube.get("lease", "mirrorgate-leader", "-n", NAMESPACE)["spec"]["renewTime"]
                     != lease["renewTime"], 10, "the leader to renew its Lease")

            def ours(entries: list[dict]) -> dict:
                return next((e for e in entries if e.get("controllerName") == CONTROLLER), {})

            def route_accepted():
                status = self.kube.get("httproute", "web", "-n", NAMESPACE).get("status", {})
                return self.condition(ours(status.get("parents", [])).get("conditions", []), "Accepted") \
                    .get("status") == "True"
            wait_for(route_accepted, 20, "HTTPRoute web Accepted by our controller, in its status")

            def gateway_programmed():
                status = self.kube.get("gateway", "edge", "-n", NAMESPACE).get("status", {})
                https = next((l for l in status.get("listeners", []) if l["name"] == "https"), {})
                return (self.condition(status.get("conditions", []), "Programmed").get("status") == "True"
                        and self.condition(https.get("conditions", []), "ResolvedRefs").get("status") == "True")
            wait_for(gateway_programmed, 20, "Gateway edge Programmed, its HTTPS listener's Secret resolved")
            self.assertTrue(mgtest.port_open(ip, https_port), "the HTTPS listener with the Secret's certificate")
            wait_for(lambda: self.condition(self.kube.get("gatewayclass", "mirrorgate").get("status", {})
                                            .get("conditions", []), "Accepted").get("status") == "True",
                     20, "GatewayClass mirrorgate Accepted")
            for kind, name in (("mirrorpolicy", "web-mirror"), ("clienttrafficpolicy", "edge-limits")):
                wait_for(lambda: self.condition(ours(self.kube.get(kind, name, "-n", NAMESPACE).get("status", {})
                                                     .get("ancestors", [])).get("conditions", []),
                                                "Accepted").get("status") == "True",
                         20, f"{kind} {name}: our ancestor status Accepted")
            self.assertEqual(gw.admin("/status").json()["kubernetesWatchErrors"], [])
            log = gw.stderr()
            self.assertNotIn("Forbidden", log)
            self.assertNotIn("RBAC", log)
            self.assertTrue(gw.alive())
        finally:
            gw.stop()


if __name__ == "__main__":
    mgtest.main()
