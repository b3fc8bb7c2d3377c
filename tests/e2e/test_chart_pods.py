"""The Helm chart run as pods in the local cluster (docs/cluster.md, docs/kubernetes.md "In the local cluster"):
`helm template | kubectl apply` with two replicas and leader election, the Deployment's pods run by the
process-kubelet (mirrorgate's image mapped to the mirrorgate binary), each gateway in-cluster, from its pod's
service account: a TokenRequest token bound to the pod, ca.crt from kube-root-ca.crt and the namespace in the
projected kube-api-access volume, KUBERNETES_SERVICE_HOST/PORT pointing at the process-kubelet's relay to the
API server. Then the seed scenario (examples/mirror, with echo Deployments for infra-backend-v1 and -v2): a
request to a gateway pod's address gets v1's answer, its copy reaches v2 (the v2 pod's log), the Gateway and
HTTPRoute status is written, and the Lease names one of the two pods.

Without the token, the environment or the relay, the gateways cannot reach the API server: they are never
Ready, nothing is served and no status is written. Pods at 10.244.220.0/24; no loopback address."""

import base64
import json
import os
import secrets
import textwrap
import unittest
import uuid

import kube
import mgtest
from mgtest import get, wait_for

SUBNET = "10.244.220"
RELEASE = "mirrorgate"
NAMESPACE = "mirrorgate-system"
CHART = mgtest.SOURCE_DIR / "charts" / "mirrorgate"
CONTROLLER = "mirrorgate.io/gateway-controller"
ECHO_IMAGE = "gcr.io/k8s-staging-gateway-api/echo-basic:v20231214-v1.0.0-140-gf544a46e"
ASAN_VARIANT = os.environ.get("MG_GATEWAY_BIN", "").endswith("-asan")
TIMEOUT = 45

# The chart's values for the local cluster: two replicas electing a leader, an admin token made by the chart,
# and no load balancer to publish (there is none: Gateways that ask for no address bind 0.0.0.0 in each pod
# and are reached at the pods' addresses). The seed scenario's listener port is the Service's.
VALUES = textwrap.dedent("""\
    replicas: 2
    leaderElection: {enabled: true}
    service:
      publish: false
      ports: [{name: http, port: 8080}]
    workers: 1
    """)


def echo_deployment(name: str) -> str:
    """An echo Deployment for the seed scenario's Service `name` (examples/mirror/backends.yaml has the
    Services; the cluster's EndpointSlice controller lists the pods)."""
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: default}}
        spec:
          replicas: 2
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: echo
                image: {ECHO_IMAGE}
                env:
                - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
                - {{name: NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
                - {{name: SERVICE_NAME, value: {name}}}
        """)


def seed_scenario() -> str:
    """examples/mirror as a cluster has it: the Gateway without its loopback address (in a pod it binds
    0.0.0.0), the Services, and echo Deployments instead of the hand-written EndpointSlices."""
    gateway = (mgtest.EXAMPLE_DIR / "gateway.yaml").read_text()
    address = "  addresses:\n  - type: IPAddress\n    value: 127.0.0.1\n"
    assert address in gateway, "examples/mirror/gateway.yaml changed: adapt seed_scenario()"
    services = [d for d in (mgtest.EXAMPLE_DIR / "backends.yaml").read_text().split("\n---\n")
                if "kind: Service\n" in d]
    assert len(services) == 2, services
    return mgtest.join_docs(gateway.replace(address, ""), *[s + "\n" for s in services],
                            echo_deployment("infra-backend-v1"), echo_deployment("infra-backend-v2"))


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def condition(conditions: list[dict], type_: str) -> dict:
    return next((c for c in conditions if c["type"] == type_), {})


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@unittest.skipIf(ASAN_VARIANT, "the cluster has no sanitizer variant: this file runs in the plain variant only")
class ChartPods(kube.KubeTestCase):
    WORKLOADS = True
    POD_SUBNET = f"{SUBNET}.0/24"
    gateways_not_ready = ""  # why, once a test waited for the gateway pods in vain: the next ones fail at once

    @classmethod
    def start(cls):
        cls.kube.kubectl("create", "namespace", NAMESPACE)
        values = cls.cluster.dir / "values.yaml"
        values.write_text(VALUES)
        manifest = cls.kube.helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", str(values),
                                 "--set", f"admin.token={secrets.token_hex(16)}").stdout
        cls.kube.apply(mgtest.join_docs(manifest, seed_scenario()))

    # --- helpers

    def pods(self, namespace: str, selector: str) -> list[dict]:
        return [p for p in self.kube.get("pods", "-n", namespace, "-l", selector)["items"]
                if not p["metadata"].get("deletionTimestamp")]

    def wait_ready(self, namespace: str, selector: str, n: int) -> list[dict]:
        found: list[dict] = []

        def enough():
            found[:] = [p for p in self.pods(namespace, selector) if ready(p)]
            return len(found) == n
        wait_for(enough, TIMEOUT, f"{n} ready pods {selector} in {namespace}", interval=0.5,
                 detail=lambda: json.dumps([(p["metadata"]["name"], p.get("status", {}).get("containerStatuses"))
                                            for p in self.pods(namespace, selector)], indent=1)
                 + "\n" + self.gateway_logs())
        return found

    def gateway_pods(self) -> list[dict]:
        if self.gateways_not_ready:
            self.fail(f"the gateway pods did not become Ready (an earlier test waited): {self.gateways_not_ready}")
        try:
            return self.wait_ready(NAMESPACE, f"app.kubernetes.io/instance={RELEASE}", 2)
        except AssertionError as e:
            type(self).gateways_not_ready = str(e).splitlines()[0]
            raise

    def gateway_logs(self) -> str:
        out = []
        for p in self.pods(NAMESPACE, f"app.kubernetes.io/instance={RELEASE}"):
            r = self.kube.kubectl("logs", p["metadata"]["name"], "-n", NAMESPACE, "--tail=20", check=False)
            out.append(f"--- {p['metadata']['name']}:\n{r.stdout}{r.stderr}")
        return "\n".join(out)

    # --- tests (one cluster, in order)

    def test_1_gateway_pods_run_in_cluster_from_their_service_account(self):
        pods = self.gateway_pods()
        ca = self.kube.ca_file.read_text()
        for p in pods:
            name, uid = p["metadata"]["name"], p["metadata"]["uid"]
            self.assertTrue(p["status"]["podIP"].startswith(f"{SUBNET}."), p["status"])
            # The projected volume the ServiceAccount admission added, as the process-kubelet wrote it.
            (volume,) = [v["name"] for v in p["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
            files = self.kube.dir / "node" / "pods" / f"{NAMESPACE}_{name}_{uid}" / "volumes" / volume
            self.assertEqual((files / "ca.crt").read_text(), ca)
            self.assertEqual((files / "namespace").read_text(), NAMESPACE)
            claims = jwt_claims((files / "token").read_text())
            self.assertEqual(claims["sub"], f"system:serviceaccount:{NAMESPACE}:{RELEASE}")
            self.assertEqual((claims["kubernetes.io"]["pod"]["name"], claims["kubernetes.io"]["pod"]["uid"]),
                             (name, uid), "the token is bound to its pod")
            log = self.kube.kubectl("logs", name, "-n", NAMESPACE).stdout
            self.assertIn(f"in-cluster service account (https://{SUBNET}.1:443)", log)

    def test_2_seed_scenario_served_by_the_pods(self):
        gateways = self.gateway_pods()
        v1 = {p["metadata"]["name"] for p in self.wait_ready("default", "app=infra-backend-v1", 2)}
        v2 = [p["metadata"]["name"] for p in self.wait_ready("default", "app=infra-backend-v2", 2)]

        def route_accepted():
            parents = self.kube.get("httproute", "mirror", "-n", "default").get("status", {}).get("parents", [])
            ours = next((e for e in parents if e.get("controllerName") == CONTROLLER), {})
            return condition(ours.get("conditions", []), "Accepted").get("status") == "True"
        wait_for(route_accepted, TIMEOUT, "HTTPRoute mirror Accepted in its status", interval=0.5,
                 detail=self.gateway_logs)

        def gateway_programmed():
            status = self.kube.get("gateway", "mirror-gateway", "-n", "default").get("status", {})
            return condition(status.get("conditions", []), "Programmed").get("status") == "True"
        wait_for(gateway_programmed, TIMEOUT, "Gateway mirror-gateway Programmed in its status", interval=0.5,
                 detail=self.gateway_logs)

        # Every replica serves: each pod's address answers /mirror from a v1 pod, and the copy reaches v2.
        for p in gateways:
            ip = p["status"]["podIP"]
            demo_id = uuid.uuid4().hex
            path = f"/mirror?chart-id={demo_id}"

            def answered():
                try:
                    r = get(ip, 8080, path, timeout=2)
                except OSError:
                    return None
                return r if r.status == 200 else None
            r = wait_for(answered, TIMEOUT, f"200 from the gateway pod {ip}:8080", interval=0.5)
            self.assertIn(r.json()["pod"], v1, "v1's answer")
            self.assertEqual(r.json()["path"], path)

            def copy_logged():
                return any(f"Echoing back request made to {path}" in
                           self.kube.kubectl("logs", name, "-n", "default").stdout for name in v2)
            wait_for(copy_logged, TIMEOUT, f"a v2 pod's log line for the copy of {path}", interval=0.5)

    def test_3_lease_names_one_of_the_pods(self):
        names = {p["metadata"]["name"] for p in self.gateway_pods()}
        holder: list[str] = []

        def held():
            lease = self.kube.kubectl("get", "lease", f"{RELEASE}-leader", "-n", NAMESPACE, "-o", "json",
                                      check=False)
            if lease.returncode != 0:
                return False
            holder[:] = [json.loads(lease.stdout)["spec"].get("holderIdentity", "")]
            return bool(holder[0])
        wait_for(held, TIMEOUT, f"Lease {RELEASE}-leader held", interval=0.5)
        # client-go's identity: the hostname (the pod's name, in its own UTS namespace) and a random suffix.
        self.assertIn(holder[0].rsplit("_", 1)[0], names, holder[0])


if __name__ == "__main__":
    mgtest.main()
