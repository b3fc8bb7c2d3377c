"""mirrorgate against a real API server (kube.py: kube-apiserver and etcd built from the Kubernetes
modules), driven by kubectl as a platform engineer would drive it.

The seed scenario applied with kubectl (examples/mirror, the pods' addresses rewritten); the request
routed and mirrored; status written back and visible in kubectl; a route edited, added and deleted with
kubectl; an endpoint removed; the API server stopped and restarted under a client loop with no failed
request; a watch that expired (etcd compaction) listed again; a Secret rotated; a client CA read from the
ConfigMap a Gateway names; RBAC that forbids a kind; two replicas with leader election, the leader killed.

Pods are mirrorgate-echo processes with 10.244.N.x addresses in a network namespace this test creates
(podnet.py): the API server refuses loopback addresses in EndpointSlices. Gateways listen on
127.0.37.0/24."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid

import kube
import mgtest
import podnet
from mgtest import get, wait_for
from test_tls import make_certificate, secret_yaml

NET = "127.0.37"
CONTROLLER = "mirrorgate.io/gateway-controller"
# Expiring a watch needs one served from etcd: the API server's watch cache keeps old versions a while.
APISERVER_ARGS = ["--watch-cache-sizes=httproutes.gateway.networking.k8s.io#0"]


def example(name: str) -> str:
    return (mgtest.EXAMPLE_DIR / name).read_text()


class KubernetesProvider(kube.KubeTestCase):
    APISERVER_ARGS = APISERVER_ARGS
    pods = None

    @classmethod
    def start(cls):
        cls.pods = podnet.PodNetwork()
        cls.v1 = [cls.pods.echo(cls.cluster, f"infra-backend-v1-6d8f7c9b5-{s}", "infra-backend-v1")
                  for s in ("a1b2c", "d3e4f")]
        cls.v2 = [cls.pods.echo(cls.cluster, f"infra-backend-v2-7c9d8e6f4-{s}", "infra-backend-v2")
                  for s in ("g5h6i", "j7k8l")]
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        # The examples as they are, but for the Gateway's address and the pods' addresses.
        gateway = example("gateway.yaml").replace("value: 127.0.0.1", f"value: {cls.gw_ip}") \
            .replace("port: 8080\n    allowedRoutes", f"port: {cls.gw_port}\n    allowedRoutes")
        backends = example("backends.yaml")
        for old, pod in zip(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"], cls.v1 + cls.v2):
            backends = backends.replace(f"- {old}\n", f"- {pod.ip}\n")
        cls.kube.apply(gateway)
        cls.kube.apply(backends)
        for p in cls.v1 + cls.v2:
            p.wait_ready()
        cls.gw = cls.start_gateway("mirrorgate")
        cls.gw.wait_ready()

    @classmethod
    def stop(cls):
        cls.cluster.close()  # the pods first, then their network
        if cls.pods:
            cls.pods.close()

    @classmethod
    def start_gateway(cls, name: str, kubeconfig=None, extra_args=None) -> mgtest.Gateway:
        return cls.cluster.gateway(None, admin_ip=f"{NET}.1", name=name, extra_args=[
            "--kubeconfig", str(kubeconfig or cls.kube.kubeconfig), *(extra_args or [])])

    # --- helpers

    def request(self, path: str, **kw) -> mgtest.Response:
        return get(self.gw_ip, self.gw_port, path, timeout=5, **kw)

    def pod_of(self, path: str) -> str:
        r = self.request(path)
        self.assertEqual(r.status, 200, r)
        return r.json()["pod"]

    def route_parent(self, name: str) -> dict | None:
        route = self.kube.get("httproute", name, "-n", "default")
        ours = [p for p in route.get("status", {}).get("parents", []) if p["controllerName"] == CONTROLLER]
        return ours[0] if ours else None

    @staticmethod
    def condition(conditions: list[dict], type_: str) -> dict:
        return next(c for c in conditions if c["type"] == type_)

    def route_yaml(self, name: str, prefix: str, backend: str) -> str:
        return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: default}}
spec:
  parentRefs: [{{name: mirror-gateway}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]
    backendRefs: [{{name: {backend}, port: 8080}}]
"""

    # --- the seed scenario

    def test_seed_scenario_routes_to_v1_and_mirrors_to_v2(self):
        marker = uuid.uuid4().hex
        r = self.request(f"/mirror?k8s={marker}")
        self.assertEqual(r.status, 200, r)
        self.assertIn(r.json()["pod"], [p.pod for p in self.v1])
        request_id = r.json()["headers"]["X-Request-Id"][0]
        wait_for(lambda: any(p.has_echoed(f"/mirror?k8s={marker}") for p in self.v2), 10,
                 "the copy in a v2 pod's log")
        copies = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10, "the copy's log line")
        self.assertIn(copies[0]["upstream_host"].split(":")[0], [p.ip for p in self.v2])

    def test_status_is_written_back_and_visible_in_kubectl(self):
        def accepted():
            parent = self.route_parent("mirror")
            return parent and self.condition(parent["conditions"], "Accepted")["status"] == "True" and parent
        parent = wait_for(accepted, 15, "HTTPRoute mirror Accepted in its status")
        self.assertEqual(self.condition(parent["conditions"], "ResolvedRefs")["status"], "True")
        self.assertEqual(parent["parentRef"]["name"], "mirror-gateway")
        # Other tests add and remove routes: wait for the count to settle at the seed's one route.
        gateway = wait_for(lambda: (g := self.kube.get("gateway", "mirror-gateway", "-n", "default"))
                           ["status"]["listeners"][0]["attachedRoutes"] == 1 and g, 15, "attachedRoutes 1")
        self.assertEqual(self.condition(gateway["status"]["conditions"], "Programmed")["status"], "True")
        self.assertEqual(gateway["status"]["addresses"][0]["value"], self.gw_ip)
        cls = self.kube.get("gatewayclass", "mirrorgate")
        self.assertEqual(self.condition(cls["status"]["conditions"], "Accepted")["status"], "True")
        self.assertTrue(cls["status"]["supportedFeatures"])
        listing = self.kube.kubectl("get", "gateway", "-A").stdout
        self.assertRegex(listing, rf"mirror-gateway\s+mirrorgate\s+{self.gw_ip}\s+True")
        described = self.kube.kubectl("describe", "httproute", "mirror", "-n", "default").stdout
        self.assertIn("attached to listener http", described)
        # Nothing changed since: the writer leaves the objects alone (no write loop on its own writes).
        version = self.kube.get("httproute", "mirror", "-n", "default")["metadata"]["resourceVersion"]
        time.sleep(2)
        self.assertEqual(self.kube.get("httproute", "mirror", "-n", "default")["metadata"]["resourceVersion"], version)

    def test_a_route_that_cannot_attach_says_why_in_kubectl(self):
        self.kube.apply(self.route_yaml("orphan", "/orphan", "infra-backend-v1")
                        .replace("name: mirror-gateway", "name: mirror-gateway, sectionName: nope"))
        try:
            parent = wait_for(lambda: self.route_parent("orphan"), 15, "status of HTTPRoute orphan")
            accepted = self.condition(parent["conditions"], "Accepted")
            self.assertEqual((accepted["status"], accepted["reason"]), ("False", "NoMatchingParent"))
            self.assertEqual(self.request("/orphan").status, 404)
        finally:
            self.kube.delete("httproute", "orphan", "-n", "default")

    def test_a_second_gateway_on_the_same_address_and_port_says_port_unavailable(self):
        # Same address and port as mirror-gateway, created later: its listener cannot have the port; its
        # other listener, and mirror-gateway, keep serving. (creationTimestamp has whole seconds; a tie goes
        # to the first by name, which mirror-gateway also is.)
        spare = mgtest.free_port(self.gw_ip)
        self.kube.apply(f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: second-gateway, namespace: default}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: "{self.gw_ip}"}}]
  listeners:
  - {{name: taken, port: {self.gw_port}, protocol: HTTP}}
  - {{name: spare, port: {spare}, protocol: HTTP}}
""")
        try:
            def listener(name):
                status = self.kube.get("gateway", "second-gateway", "-n", "default").get("status", {})
                return next((l for l in status.get("listeners", []) if l["name"] == name), None)
            taken = wait_for(lambda: listener("taken"), 15, "status of Gateway second-gateway")
            accepted = self.condition(taken["conditions"], "Accepted")
            self.assertEqual((accepted["status"], accepted["reason"]), ("False", "PortUnavailable"), accepted)
            self.assertIn("default/mirror-gateway", accepted["message"])
            self.assertEqual(self.condition(listener("spare")["conditions"], "Programmed")["status"], "True")
            # The port stays mirror-gateway's, and the spare port serves the second Gateway (no route: 404).
            for _ in range(20):
                self.assertEqual(self.request("/mirror").status, 200)
            wait_for(lambda: get(self.gw_ip, spare, "/", timeout=2).status == 404, 10, "the spare listener")
        finally:
            self.kube.delete("gateway", "second-gateway", "-n", "default")

    def test_route_added_edited_and_deleted_with_kubectl(self):
        self.kube.apply(self.route_yaml("extra", "/extra", "infra-backend-v1"))
        try:
            wait_for(lambda: self.request("/extra").status == 200, 10, "the new route to serve")
            self.assertIn(self.pod_of("/extra"), [p.pod for p in self.v1])
            self.kube.apply(self.route_yaml("extra", "/extra", "infra-backend-v2"))
            wait_for(lambda: self.pod_of("/extra") in [p.pod for p in self.v2], 10, "the edit to reach traffic")
        finally:
            self.kube.delete("httproute", "extra", "-n", "default")
        wait_for(lambda: self.request("/extra").status == 404, 10, "the deleted route to stop matching")
        self.assertEqual(self.request("/mirror").status, 200)

    def test_a_burst_of_a_thousand_applies_is_a_handful_of_translations(self):
        routes = "\n---\n".join(self.route_yaml(f"burst-{i}", f"/burst-{i}", "infra-backend-v1")
                                 .replace("namespace: default}", "namespace: default, labels: {burst: 'yes'}}")
                                 for i in range(1000))
        before = self.gw.metrics().get("mirrorgate_kubernetes_snapshots_total")
        started = time.monotonic()
        self.kube.kubectl("apply", "-f", "-", input=routes, timeout=300)
        burst = time.monotonic() - started
        try:
            wait_for(lambda: self.request("/burst-999").status == 200, 30, "the last route of the burst")
            snapshots = self.gw.metrics().get("mirrorgate_kubernetes_snapshots_total") - before
            # kubectl creates them one by one over several seconds; once a batch holds ten changes it
            # waits for 250 ms of quiet, at most 1 s: one to a few snapshots per second of the burst
            # (the API server pauses now and then), nowhere near one per object.
            self.assertLessEqual(snapshots, burst * 3 + 5, f"{snapshots} snapshots for 1,000 applies in {burst:.1f} s")
            print(f"1,000 applies in {burst:.1f} s: {snapshots:.0f} snapshots")
            self.assertEqual(self.request("/burst-0").status, 200)
        finally:
            self.kube.kubectl("delete", "httproute", "-n", "default", "-l", "burst=yes", "--wait=false", timeout=300)
        wait_for(lambda: self.request("/burst-999").status == 404, 30, "the burst's routes to go")

    def test_endpoint_removed_leaves_rotation(self):
        slice_name = "infra-backend-v1-k7r2m"
        original = self.kube.get("endpointslice", slice_name, "-n", "default")
        kept = self.v1[0]
        patch = {"endpoints": [e for e in original["endpoints"] if e["addresses"] == [kept.ip]]}
        self.kube.kubectl("patch", "endpointslice", slice_name, "-n", "default", "--type=merge",
                          "-p", json.dumps(patch))
        try:
            def only_kept():
                return all(self.pod_of("/mirror") == kept.pod for _ in range(6))
            wait_for(only_kept, 10, "the removed endpoint to leave the rotation")
            self.assertIn("routes not translated again", self.gw.stderr())
        finally:
            self.kube.kubectl("patch", "endpointslice", slice_name, "-n", "default", "--type=merge",
                              "-p", json.dumps({"endpoints": original["endpoints"]}))
        wait_for(lambda: {self.pod_of("/mirror") for _ in range(8)} == {p.pod for p in self.v1}, 10,
                 "both v1 pods back in the rotation")

    def test_api_server_restart_under_load_loses_no_request_and_resyncs(self):
        stop = threading.Event()
        outcomes: list[int] = []

        def client_loop():
            while not stop.is_set():
                try:
                    outcomes.append(self.request("/mirror").status)
                except OSError:
                    outcomes.append(0)
                time.sleep(0.01)

        loop = threading.Thread(target=client_loop)
        loop.start()
        try:
            time.sleep(0.5)
            self.kube.stop_apiserver()
            wait_for(lambda: self.gw.metrics().get("mirrorgate_kubernetes_api_disconnected_seconds") > 0, 15,
                     "the gateway to notice the API server is gone")
            self.assertEqual(self.gw.admin("/ready").status, 200)
            time.sleep(2)
            self.kube.start_apiserver()
            wait_for(lambda: self.gw.metrics().get("mirrorgate_kubernetes_api_disconnected_seconds") == 0, 60,
                     "the gateway to reconnect")
        finally:
            stop.set()
            loop.join(10)
        self.assertGreater(len(outcomes), 50)
        self.assertEqual([s for s in outcomes if s != 200], [], "every request answered 200")
        self.assertIn("unreachable", self.gw.stderr())
        self.assertIn("answers again", self.gw.stderr())
        # Resynced: a change made now reaches traffic.
        self.kube.apply(self.route_yaml("after-restart", "/after-restart", "infra-backend-v2"))
        try:
            wait_for(lambda: self.request("/after-restart").status == 200, 15, "a change after the restart")
        finally:
            self.kube.delete("httproute", "after-restart", "-n", "default")

    def test_expired_watch_lists_again(self):
        # The HTTPRoute watch is served from etcd (APISERVER_ARGS). Other writes move etcd's revision past
        # the watch's version; a compaction there makes that version unservable; an API server restart
        # makes the gateway watch again from it: 410 Gone, and the gateway lists instead.
        for i in range(3):
            self.kube.apply(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bump-{i}, namespace: default}}\n")
        self.kube.stop_apiserver()
        self.kube.compact_etcd()
        self.kube.start_apiserver()
        wait_for(lambda: "watch of httproutes.gateway.networking.k8s.io in all namespaces expired"
                 in self.gw.stderr(), 30, "the expired watch to be noticed")
        self.kube.apply(self.route_yaml("after-expiry", "/after-expiry", "infra-backend-v1"))
        try:
            wait_for(lambda: self.request("/after-expiry").status == 200, 15, "a change after the relist")
        finally:
            self.kube.delete("httproute", "after-expiry", "-n", "default")
        self.assertEqual(self.request("/mirror").status, 200)

    def test_secret_rotated_changes_the_served_certificate(self):
        host = "secure.example.com"
        tls_ip, tls_port = f"{NET}.2", mgtest.free_port(f"{NET}.2")
        first_crt, first_key = make_certificate(self.cluster.dir, host)
        self.kube.apply(secret_yaml("secure-cert", first_crt, first_key))
        # A Secret no listener names: never read (the gateway may not even be allowed to).
        self.kube.apply(secret_yaml("unrelated", first_crt, first_key))
        self.kube.apply(f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: secure, namespace: default}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: {tls_ip}}}]
  listeners:
  - name: https
    protocol: HTTPS
    port: {tls_port}
    hostname: {host}
    tls: {{certificateRefs: [{{name: secure-cert}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: secure, namespace: default}}
spec:
  parentRefs: [{{name: secure}}]
  rules: [{{backendRefs: [{{name: infra-backend-v1, port: 8080}}]}}]
""")

        def served(trusted: str) -> bytes | None:
            ctx = ssl.create_default_context(cadata=trusted)
            try:
                with socket.create_connection((tls_ip, tls_port), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname=host) as tls:
                        return tls.getpeercert(binary_form=True)
            except (OSError, ssl.SSLError):
                return None
        try:
            first = wait_for(lambda: served(first_crt), 15, "the HTTPS listener with the first certificate")
            (self.cluster.dir / "rotated").mkdir(exist_ok=True)
            second_crt, second_key = make_certificate(self.cluster.dir / "rotated", host)
            self.kube.apply(secret_yaml("secure-cert", second_crt, second_key))
            second = wait_for(lambda: served(second_crt), 15, "the rotated certificate")
            self.assertNotEqual(first, second)
            config = self.gw.admin("/config_dump").body.decode()
            self.assertNotIn("BEGIN PRIVATE KEY", config)
            self.assertEqual(self.request("/mirror").status, 200, "the HTTP Gateway is untouched")
        finally:
            self.kube.delete("gateway", "secure", "-n", "default")
            self.kube.delete("httproute", "secure", "-n", "default")
            self.kube.delete("secret", "secure-cert", "-n", "default")
            self.kube.delete("secret", "unrelated", "-n", "default")
        wait_for(lambda: not mgtest.port_open(tls_ip, tls_port), 15, "the deleted Gateway's listener to close")

    def test_client_certificate_ca_is_read_from_the_configmap_a_gateway_names(self):
        # Only the ConfigMap named in caCertificateRefs is read (a watch of its own, as for Secrets): the
        # listener is programmed with its CA and refuses a client without a certificate it signed.
        host, client_host = "mtls.example.com", "client.example.com"
        ip, port = f"{NET}.3", mgtest.free_port(f"{NET}.3")
        d = self.cluster.dir / "mtls"
        d.mkdir(exist_ok=True)
        server_crt, server_key = make_certificate(d, host)
        client_crt, _ = make_certificate(d, client_host)  # self-signed: its own CA
        self.kube.apply(secret_yaml("mtls-server", server_crt, server_key))
        self.kube.apply(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "client-ca", "namespace": "default"},
                                    "data": {"ca.crt": client_crt}}))
        self.kube.apply(f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: mtls, namespace: default}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: {ip}}}]
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{{group: "", kind: ConfigMap, name: client-ca}}]
  listeners:
  - name: https
    protocol: HTTPS
    port: {port}
    hostname: {host}
    tls: {{certificateRefs: [{{name: mtls-server}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: mtls, namespace: default}}
spec:
  parentRefs: [{{name: mtls}}]
  rules: [{{backendRefs: [{{name: infra-backend-v1, port: 8080}}]}}]
""")

        def status_of_request(with_certificate: bool) -> int | None:
            ctx = ssl.create_default_context(cadata=server_crt)
            if with_certificate:
                ctx.load_cert_chain(d / f"{client_host}.crt", d / f"{client_host}.key")
            try:
                with socket.create_connection((ip, port), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname=host) as tls:
                        tls.sendall(f"GET /mtls HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                        return int(tls.recv(64).split(b" ")[1])
            except (OSError, ssl.SSLError, IndexError, ValueError):
                return None
        try:
            wait_for(lambda: status_of_request(True) == 200, 15, "the HTTPS listener validating client certificates")
            self.assertIsNone(status_of_request(False), "a client without a certificate is refused")
            def refs_resolved():
                listener = self.kube.get("gateway", "mtls", "-n", "default")["status"]["listeners"][0]
                return any(c["type"] == "ResolvedRefs" and c["status"] == "True" for c in listener["conditions"])
            wait_for(refs_resolved, 10, "ResolvedRefs True on the listener in kubectl")
        finally:
            self.kube.delete("gateway", "mtls", "-n", "default")
            self.kube.delete("httproute", "mtls", "-n", "default")
            self.kube.delete("secret", "mtls-server", "-n", "default")
            self.kube.delete("configmap", "client-ca", "-n", "default")
        wait_for(lambda: not mgtest.port_open(ip, port), 15, "the deleted Gateway's listener to close")

    def test_backend_tls_policy_status_follows_its_ca_config_map(self):
        # The policy's CA ConfigMap is read by a watch of its own: missing, the policy says
        # NoValidCACertificate in kubectl; created, Accepted and ResolvedRefs. No traffic: the Service has no pods.
        d = self.cluster.dir / "btls"
        d.mkdir(exist_ok=True)
        ca_crt, _ = make_certificate(d, "btls-ca.example.com")
        self.kube.apply("""apiVersion: v1
kind: Service
metadata: {name: btls-backend, namespace: default}
spec:
  ports: [{name: https, port: 8443, targetPort: 8443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: btls, namespace: default}
spec:
  parentRefs: [{name: mirror-gateway}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /btls}}]
    backendRefs: [{name: btls-backend, port: 8443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: btls, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: btls-backend}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: btls-ca}]
    hostname: btls-backend.example.com
""")
        seen = []

        def conditions():
            ancestors = self.kube.get("backendtlspolicy", "btls", "-n", "default").get("status", {}).get("ancestors", [])
            seen[:] = ancestors
            if len(ancestors) != 1 or ancestors[0]["ancestorRef"]["name"] != "mirror-gateway":
                return {}
            return {c["type"]: (c["status"], c["reason"]) for c in ancestors[0]["conditions"]}
        try:
            wait_for(lambda: conditions().get("Accepted") == ("False", "NoValidCACertificate"), 20,
                     "NoValidCACertificate in kubectl", interval=0.3, detail=lambda: seen)
            self.assertEqual(conditions()["ResolvedRefs"], ("False", "InvalidCACertificateRef"))
            self.kube.apply(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "btls-ca", "namespace": "default"},
                                        "data": {"ca.crt": ca_crt}}))
            wait_for(lambda: conditions() == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")},
                     20, "Accepted once the ConfigMap exists", interval=0.3, detail=lambda: seen)
        finally:
            self.kube.delete("backendtlspolicy", "btls", "-n", "default")
            self.kube.delete("httproute", "btls", "-n", "default")
            self.kube.delete("service", "btls-backend", "-n", "default")
            self.kube.delete("configmap", "btls-ca", "-n", "default", check=False)

    # --- replicas and permissions: gateways of a class with no Gateway, so that they bind nothing

    def lease_holder(self) -> str:
        lease = self.kube.get("lease", "mirrorgate-leader", "-n", "default")
        return lease["spec"].get("holderIdentity", "")

    def test_leader_election_one_writer_and_a_takeover_when_it_dies(self):
        controller = "mirrorgate.io/replica-test"
        self.kube.apply(f"""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: replicas}}
spec: {{controllerName: {controller}}}
""")
        args = ["--controller-name", controller, "--leader-elect", "--leader-elect-lease-duration", "3",
                "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.5"]
        a = self.start_gateway("replica-a", extra_args=args)
        b = self.start_gateway("replica-b", extra_args=args)
        try:
            a.wait_ready()
            b.wait_ready()

            def writers():
                return [g for g in (a, b) if g.metrics().get("mirrorgate_kubernetes_status_writer") == 1]
            leader = wait_for(lambda: len(writers()) == 1 and writers()[0], 15, "exactly one leader")
            other = b if leader is a else a
            wait_for(lambda: self.condition(self.kube.get("gatewayclass", "replicas").get("status", {})
                                            .get("conditions", [{}]), "Accepted").get("status") == "True",
                     15, "the leader to write the class's status")
            time.sleep(1.5)
            self.assertEqual(other.metrics().get("mirrorgate_kubernetes_status_writer"), 0, "one writer only")
            holder = self.lease_holder()
            leader.kill()  # no release: the others must wait for the lease to run out
            wait_for(lambda: other.metrics().get("mirrorgate_kubernetes_status_writer") == 1, 15,
                     "the other replica to take over")
            self.assertNotEqual(self.lease_holder(), holder)
            # Status writing resumed: a new generation of the class is observed by the new leader.
            self.kube.kubectl("patch", "gatewayclass", "replicas", "--type=merge",
                              "-p", '{"spec": {"description": "after the takeover"}}')
            generation = self.kube.get("gatewayclass", "replicas")["metadata"]["generation"]
            wait_for(lambda: self.condition(self.kube.get("gatewayclass", "replicas")["status"]["conditions"],
                                            "Accepted")["observedGeneration"] == generation, 15,
                     "the new leader to write status")
            self.assertIn("is now the leader", other.stderr())
        finally:
            a.stop()
            b.stop()
            self.kube.delete("gatewayclass", "replicas")

    def test_publish_service_puts_its_load_balancer_address_in_gateway_status(self):
        # The Service lives in a namespace the gateway does not watch: it is watched alone, by name. The
        # Gateway's only listener is TCP (not served), so that it binds nothing on this machine.
        controller = "mirrorgate.io/publish-test"
        self.kube.apply(f"""apiVersion: v1
kind: Namespace
metadata: {{name: lb-system}}
---
apiVersion: v1
kind: Service
metadata: {{name: gateway-lb, namespace: lb-system}}
spec:
  type: LoadBalancer
  ports: [{{name: http, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: published}}
spec: {{controllerName: {controller}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: published, namespace: default}}
spec:
  gatewayClassName: published
  listeners: [{{name: tcp, port: 5000, protocol: TCP}}]
""")
        g = self.start_gateway("published", extra_args=[
            "--controller-name", controller, "--watch-namespace", "default",
            "--publish-service", "lb-system/gateway-lb"])

        def gateway_status():
            return self.kube.get("gateway", "published", "-n", "default").get("status", {})
        try:
            g.wait_ready()
            programmed = wait_for(lambda: next((c for c in gateway_status().get("conditions", [])
                                                if c["type"] == "Programmed" and c["reason"] != "Pending"), None),
                                  15, "the Gateway's status")
            self.assertEqual(programmed["reason"], "AddressNotAssigned", programmed)
            self.assertIn("no load-balancer address yet", programmed["message"])
            self.assertNotIn("addresses", gateway_status())
            # What a cloud's load-balancer controller does once it has an address.
            self.kube.kubectl("patch", "service", "gateway-lb", "-n", "lb-system", "--subresource=status",
                              "--type=merge", "-p",
                              '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"},'
                              '{"hostname":"gw.example.com"}]}}}')
            addresses = wait_for(lambda: gateway_status().get("addresses"), 15, "status.addresses")
            self.assertEqual(addresses, [{"type": "IPAddress", "value": "203.0.113.7"},
                                         {"type": "Hostname", "value": "gw.example.com"}])
            listing = self.kube.kubectl("get", "gateway", "published", "-n", "default").stdout
            self.assertIn("203.0.113.7", listing)
        finally:
            g.stop()
            self.kube.delete("gateway", "published", "-n", "default")
            self.kube.delete("gatewayclass", "published")
            # No namespace controller here to finalize it: do not wait for it to go.
            self.kube.kubectl("delete", "namespace", "lb-system", "--wait=false")

    def test_forbidden_kind_is_a_clear_error_not_a_crash(self):
        # A ClusterRole without ReferenceGrants: the gateway serves the rest and says what is missing. It
        # has no Secrets either: no listener of its class names one, so none is ever read.
        rules = [{"apiGroups": ["gateway.networking.k8s.io"],
                  "resources": ["gatewayclasses", "gateways", "httproutes", "tlsroutes", "backendtlspolicies"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["gateway.networking.k8s.io"],
                  "resources": ["gatewayclasses/status", "gateways/status", "httproutes/status", "tlsroutes/status"],
                  "verbs": ["get", "patch", "update"]},
                 {"apiGroups": [""], "resources": ["namespaces", "services"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["mirrorgate.io"], "resources": ["mirrorpolicies", "clienttrafficpolicies"],
                  "verbs": ["get", "list", "watch"]}]
        self.kube.apply(json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                    "metadata": {"name": "limited-gateway"}, "rules": rules}))
        self.kube.apply(json.dumps({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "limited-gateway"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "limited-gateway"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "limited"}]}))
        kubeconfig = self.kube.user_kubeconfig("limited")
        g = self.start_gateway("limited", kubeconfig=kubeconfig,
                               extra_args=["--controller-name", "mirrorgate.io/limited-test"])
        try:
            g.wait_ready()
            wait_for(lambda: "referencegrants" in g.stderr() and "403 Forbidden" in g.stderr(), 15,
                     "the forbidden kind in the log")
            line = next(l for l in g.stderr().splitlines() if "referencegrants" in l and "403" in l)
            self.assertIn("RBAC", line)
            # A binding just made may take the authorizer a moment, and an API server an earlier test restarted
            # answers 429 "storage is (re)initializing" for a while: other kinds may fail at first and recover
            # after their backoff (up to 30 s, +-50 % jitter), so wait past one full backoff.
            seen = []

            def one_error_left():
                seen[:] = g.admin("/status").json()["kubernetesWatchErrors"]
                return len(seen) == 1 and list(seen)
            errors = wait_for(one_error_left, 60, "one watch error left", interval=0.5, detail=lambda: seen)
            self.assertIn("referencegrants", errors[0])  # and nothing about secrets
            self.assertEqual(g.metrics().get("mirrorgate_kubernetes_watch_errors"), 1, errors)
            self.assertTrue(g.alive())
        finally:
            g.stop()
            self.kube.delete("clusterrolebinding", "limited-gateway")
            self.kube.delete("clusterrole", "limited-gateway")


if __name__ == "__main__":
    mgtest.main()
