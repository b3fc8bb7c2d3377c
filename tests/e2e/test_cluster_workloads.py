"""Workloads in the local cluster (scripts/cluster.sh with kube-controller-manager and the process-kubelet):
a Deployment of the conformance echo image becomes Running, Ready pods (mirrorgate-echo processes in the
cluster's pod network namespace), an EndpointSlice lists them, `kubectl logs` reads their output, a deleted
pod is replaced, scaling to 0 stops the processes, an image the process-kubelet cannot map leaves its pod
waiting with the reason, and mirrorgate, given the cluster and an address pool, routes a request through a
Gateway's status address to one of the pods.

Loopback block 127.0.90.0/24 (the Gateway address pool and the admin port); pods at 10.244.200.0/24."""

import json
import os
import subprocess
import textwrap
import unittest

import kube
import mgtest
from mgtest import get, wait_for

NET = "127.0.90"
SUBNET = "10.244.200"
ECHO_IMAGE = "gcr.io/k8s-staging-gateway-api/echo-basic:v20231214-v1.0.0-140-gf544a46e"
ASAN_VARIANT = os.environ.get("MG_GATEWAY_BIN", "").endswith("-asan")
TIMEOUT = 60


def deployment_yaml(name: str, replicas: int, image: str = ECHO_IMAGE) -> str:
    """As the conformance suite's base manifests write their echo backends."""
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: default, labels: {{app: {name}}}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              terminationGracePeriodSeconds: 10
              containers:
              - name: {name}
                image: {image}
                env:
                - name: POD_NAME
                  valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
                - name: NAMESPACE
                  valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}
                resources: {{requests: {{cpu: 10m}}}}
        """)


def gateway_yaml() -> str:
    return textwrap.dedent("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: workloads, namespace: default}
        spec:
          gatewayClassName: mirrorgate
          listeners: [{name: http, protocol: HTTP, port: 8080}]
        """)


@unittest.skipIf(ASAN_VARIANT, "the cluster has no sanitizer variant: this file runs in the plain variant only")
class ClusterWorkloads(kube.KubeTestCase):
    WORKLOADS = True
    POD_SUBNET = f"{SUBNET}.0/24"

    @classmethod
    def start(cls):
        cls.kube.apply(mgtest.join_docs(deployment_yaml("echo", 2), mgtest.service_yaml("echo")))

    # --- helpers

    def pods(self, app: str) -> list[dict]:
        return self.kube.get("pods", "-n", "default", "-l", f"app={app}")["items"]

    @staticmethod
    def ready(pod: dict) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))

    def wait_ready_pods(self, app: str, n: int) -> list[dict]:
        found: list[dict] = []

        def enough():
            found[:] = [p for p in self.pods(app) if self.ready(p) and not p["metadata"].get("deletionTimestamp")]
            return len(found) == n
        wait_for(enough, TIMEOUT, f"{n} ready pods of {app}", interval=0.5,
                 detail=lambda: json.dumps([p.get("status") for p in self.pods(app)], indent=1))
        return found

    @staticmethod
    def pid(pod: dict) -> int:
        cid = pod["status"]["containerStatuses"][0]["containerID"]
        assert cid.startswith("process://"), cid
        return int(cid.removeprefix("process://"))

    def slice_addresses(self, service: str) -> set[str]:
        slices = self.kube.get("endpointslices", "-n", "default", "-l", f"kubernetes.io/service-name={service}")
        return {a for s in slices["items"] for e in (s.get("endpoints") or [])
                if e.get("conditions", {}).get("ready") for a in e["addresses"]}

    # --- tests (one cluster, in order)

    def test_1_deployment_pods_run_with_endpoints_and_logs(self):
        pods = self.wait_ready_pods("echo", 2)
        node = self.kube.get("node", "mirrorgate-node")
        self.assertIn({"type": "InternalIP", "address": f"{SUBNET}.1"}, node["status"]["addresses"])
        for p in pods:
            st = p["status"]
            self.assertEqual(st["phase"], "Running")
            self.assertEqual(p["spec"]["nodeName"], "mirrorgate-node")
            self.assertTrue(st["podIP"].startswith(f"{SUBNET}."), st)
            self.assertTrue(kube.process_alive(self.pid(p)))
            # The echo answers at the pod's address with the pod's own name and namespace (fieldRef env).
            r = get(st["podIP"], 3000, "/hello", timeout=5)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["pod"], r.json()["namespace"]), (p["metadata"]["name"], "default"))
        self.assertGreaterEqual(len(self.kube.pod_namespaces()), 2, "a network namespace per pod")
        ips = {p["status"]["podIP"] for p in pods}
        wait_for(lambda: self.slice_addresses("echo") == ips, TIMEOUT, "the EndpointSlice of echo lists both pods",
                 interval=0.5, detail=lambda: self.slice_addresses("echo"))
        # kubectl logs goes API server -> the process-kubelet's endpoint -> the echo's output.
        name = pods[0]["metadata"]["name"]
        logs = self.kube.kubectl("logs", name, "-n", "default").stdout
        self.assertIn("Starting server, listening on port 3000 (http)", logs)
        self.assertIn("Echoing back request made to /hello", logs)
        tail = self.kube.kubectl("logs", name, "-n", "default", "--tail=1").stdout
        self.assertEqual(tail.strip().splitlines(), logs.strip().splitlines()[-1:])

    def test_2_gateway_with_pool_address_reaches_a_pod(self):
        pods = {p["metadata"]["name"] for p in self.wait_ready_pods("echo", 2)}
        self.kube.apply(mgtest.join_docs(mgtest.gatewayclass_yaml(), gateway_yaml(),
                                         mgtest.route_yaml("workloads", "workloads", "/", "echo")))
        gw = self.cluster.gateway(None, admin_ip=f"{NET}.250", name="mirrorgate", extra_args=[
            "--kubeconfig", str(self.kube.kubeconfig), "--gateway-address-pool", f"{NET}.0/25"])
        gw.wait_ready()
        address: list[str] = []

        def has_address():
            st = self.kube.get("gateway", "workloads", "-n", "default").get("status", {})
            address[:] = [a["value"] for a in st.get("addresses", [])]
            return bool(address)
        wait_for(has_address, TIMEOUT, "an address in the Gateway's status", interval=0.5)
        self.assertTrue(address[0].startswith(f"{NET}."), address)

        def answered():
            try:
                r = get(address[0], 8080, "/through-gateway", timeout=2)
            except OSError:
                return False
            return r.status == 200 and r.json()["pod"] in pods
        wait_for(answered, TIMEOUT, f"a pod of echo through the Gateway at {address[0]}:8080", interval=0.5)

    def test_3_deleted_pod_is_replaced_and_its_process_stopped(self):
        pods = self.wait_ready_pods("echo", 2)
        victim = pods[0]
        pid = self.pid(victim)
        self.kube.kubectl("delete", "pod", victim["metadata"]["name"], "-n", "default", "--wait=true",
                          timeout=TIMEOUT)
        kube.wait_gone([pid], TIMEOUT)
        after = self.wait_ready_pods("echo", 2)
        self.assertNotIn(victim["metadata"]["name"], {p["metadata"]["name"] for p in after})

    def test_4_scaled_to_zero_stops_every_process(self):
        pids = [self.pid(p) for p in self.wait_ready_pods("echo", 2)]
        self.kube.kubectl("scale", "deployment", "echo", "-n", "default", "--replicas=0")
        kube.wait_gone(pids, TIMEOUT)
        wait_for(lambda: not self.pods("echo"), TIMEOUT, "the pods of echo gone", interval=0.5)
        wait_for(lambda: not self.slice_addresses("echo"), TIMEOUT, "the EndpointSlice of echo empty",
                 interval=0.5)

    def test_5_unmapped_image_waits_with_the_reason(self):
        self.kube.apply(deployment_yaml("nginx", 1, image="nginx:1.25"))
        waiting: list[dict] = []

        def reported():
            pods = self.pods("nginx")
            statuses = [s for p in pods for s in p.get("status", {}).get("containerStatuses", [])]
            waiting[:] = [s["state"]["waiting"] for s in statuses if "waiting" in s.get("state", {})]
            return bool(waiting)
        wait_for(reported, TIMEOUT, "the nginx pod's container waiting", interval=0.5)
        self.assertEqual(waiting[0]["reason"], "ImageNotMapped")
        self.assertIn('"nginx:1.25" is not one of them', waiting[0]["message"])
        pod = self.pods("nginx")[0]
        self.assertEqual(pod["status"]["phase"], "Pending")
        self.assertFalse(self.ready(pod))

    def test_6_secret_volume_is_written_as_files(self):
        self.kube.apply(textwrap.dedent(f"""\
            apiVersion: v1
            kind: Secret
            metadata: {{name: echo-tls, namespace: default}}
            stringData: {{tls.crt: "not really a certificate", tls.key: "nor a key"}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {{name: tls-echo, namespace: default, labels: {{app: tls-echo}}}}
            spec:
              containers:
              - name: echo
                image: {ECHO_IMAGE}
                env:
                - {{name: TLS_SERVER_CERT, value: /etc/secret-volume/crt}}
                - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
                volumeMounts: [{{name: secret-volume, mountPath: /etc/secret-volume}}]
              volumes:
              - name: secret-volume
                secret:
                  secretName: echo-tls
                  items: [{{key: tls.crt, path: crt}}]
            """))
        pod = self.wait_ready_pods("tls-echo", 1)[0]
        files = self.kube.dir / "node" / "pods" / f"default_tls-echo_{pod['metadata']['uid']}" / "volumes"
        self.assertEqual((files / "secret-volume" / "crt").read_text(), "not really a certificate")
        self.assertFalse((files / "secret-volume" / "tls.key").exists(), "only the items asked for")
        # mirrorgate-echo serves no HTTPS: the log says so instead of the pod pretending.
        logs = self.kube.kubectl("logs", "tls-echo", "-n", "default").stdout
        self.assertIn("mirrorgate-echo has no HTTPS listener", logs)

    def test_7_namespace_deletion_completes(self):
        self.kube.kubectl("create", "namespace", "doomed")
        self.kube.apply(deployment_yaml("echo", 1).replace("namespace: default", "namespace: doomed"))
        wait_for(lambda: any(self.ready(p) for p in self.kube.get("pods", "-n", "doomed")["items"]), TIMEOUT,
                 "a ready pod in namespace doomed", interval=0.5)
        pid = self.pid(self.kube.get("pods", "-n", "doomed")["items"][0])
        self.kube.kubectl("delete", "namespace", "doomed", "--wait=false")
        wait_for(lambda: self.kube.kubectl("get", "namespace", "doomed", check=False).returncode != 0, TIMEOUT,
                 "namespace doomed gone (its pods stopped and removed, its Deployment collected)", interval=0.5)
        kube.wait_gone([pid], 5)


@unittest.skipIf(ASAN_VARIANT, "the cluster has no sanitizer variant: this file runs in the plain variant only")
class ClusterDown(unittest.TestCase):
    def test_down_stops_pods_and_removes_their_network(self):
        with kube.Cluster(workloads=True, pod_subnet=f"{SUBNET[:-1]}1.0/24") as c:  # 10.244.201.0/24
            c.apply(deployment_yaml("echo", 1))
            pid_of = lambda: int(c.get("pods", "-l", "app=echo")["items"][0]["status"]["containerStatuses"][0]
                                 ["containerID"].removeprefix("process://"))
            pid = wait_for(pid_of, TIMEOUT, "the echo pod's process", interval=0.5)
            self.assertTrue(kube.process_alive(pid))
            self.assertEqual(len(c.pod_namespaces()), 1, "one network namespace per pod")
            c.down()
            self.assertFalse(kube.process_alive(pid), "the pod's process outlived down")
            self.assertEqual(c.pod_namespaces(), [])
            links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
            self.assertNotIn(f"mgk{c.api_port}", links, "the bridge and the pods' veth pairs are gone")
            self.assertFalse(c.dir.exists())


if __name__ == "__main__":
    mgtest.main()
