"""The local control plane (scripts/cluster.sh, tests/e2e/kube.py) is a real Kubernetes API server.

It proves what later cluster tests lean on: objects go through the API server's own validation (the upstream
Gateway API CRDs' schemas and CEL, ours, core validation of EndpointSlices), RBAC is enforced for a
non-admin client certificate, etcd compaction expires old resourceVersions, objects outlive a restart of the
API server, and `down` leaves nothing running. Nothing here runs mirrorgate, so the file runs once, in the
plain variant."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import unittest

import kube
import mgtest

ASAN_VARIANT = os.environ.get("MG_GATEWAY_BIN", "").endswith("-asan")
SKIP_REASON = "the control plane has no sanitizer variant: this file runs in the plain variant only"

GROUP = "gateway.networking.k8s.io"


def pod_slices() -> str:
    """examples/mirror/backends.yaml with pod addresses outside the loopback range, which the API server refuses
    in EndpointSlices (the pods of later tests live in a network namespace at 10.244.0.0/24)."""
    text = (mgtest.EXAMPLE_DIR / "backends.yaml").read_text()
    return re.sub(r"^(  - )127\.0\.0\.(\d+)$", r"\g<1>10.244.0.\2", text, flags=re.MULTILINE)


def bogus_route(path_type: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: {GROUP}/v1
        kind: HTTPRoute
        metadata: {{name: bogus, namespace: default}}
        spec:
          parentRefs: [{{name: mirror-gateway}}]
          rules:
          - matches: [{{path: {{type: {path_type}, value: /x}}}}]
            backendRefs: [{{name: infra-backend-v1, port: 8080}}]
        """)


def mirror_policy(name: str, extra: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: mirrorgate.io/v1alpha1
        kind: MirrorPolicy
        metadata: {{name: {name}, namespace: default}}
        spec:
          targetRefs: [{{group: {GROUP}, kind: HTTPRoute, name: mirror}}]
        """) + textwrap.indent(textwrap.dedent(extra), "  ")


@unittest.skipIf(ASAN_VARIANT, SKIP_REASON)
class ControlPlane(unittest.TestCase):
    cluster: kube.Cluster

    @classmethod
    def setUpClass(cls):
        cls.cluster = kube.Cluster()
        cls.cluster.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.down()

    def setUp(self):
        self.c = self.cluster

    def apply_seed_scenario(self):
        self.c.apply((mgtest.EXAMPLE_DIR / "gateway.yaml").read_text())
        self.c.apply(pod_slices())

    def test_seed_scenario_applies_and_lists(self):
        # examples/mirror as it is: everything but the EndpointSlices, whose loopback pod addresses core
        # validation refuses, as a cluster would.
        r = self.c.kubectl("apply", "-f", str(mgtest.EXAMPLE_DIR), check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("may not be in the loopback range", r.stderr)
        for created in ["gatewayclass.gateway.networking.k8s.io/mirrorgate", "service/infra-backend-v1",
                        "gateway.gateway.networking.k8s.io/mirror-gateway",
                        "httproute.gateway.networking.k8s.io/mirror"]:
            self.assertRegex(r.stdout, rf"{re.escape(created)} (created|unchanged|configured)")
        self.apply_seed_scenario()

        listed = self.c.kubectl("get", "gateway,httproute", "-A").stdout
        self.assertRegex(listed, r"default\s+gateway.gateway.networking.k8s.io/mirror-gateway\s+mirrorgate")
        self.assertRegex(listed, r"default\s+httproute.gateway.networking.k8s.io/mirror\b")
        route = self.c.get("httproute", "mirror", "-n", "default")
        mirror = route["spec"]["rules"][0]["filters"][0]
        self.assertEqual(mirror["type"], "RequestMirror")
        self.assertEqual(mirror["requestMirror"]["backendRef"]["name"], "infra-backend-v2")
        # The CRD's defaults were applied server-side: parentRefs group and kind, backendRef weight.
        self.assertEqual(route["spec"]["parentRefs"][0]["kind"], "Gateway")
        self.assertEqual(route["spec"]["rules"][0]["backendRefs"][0]["weight"], 1)
        slices = self.c.get("endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=infra-backend-v1")
        addresses = sorted(a for s in slices["items"] for e in s["endpoints"] for a in e["addresses"])
        self.assertEqual(addresses, ["10.244.0.2", "10.244.0.3"])

    def test_invalid_httproute_is_rejected_by_the_upstream_schema(self):
        self.apply_seed_scenario()
        r = self.c.apply(bogus_route("Bogus"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('spec.rules[0].matches[0].path.type: Unsupported value: "Bogus"', r.stderr)
        # The same route with a valid type goes in: it was the type, nothing else.
        self.c.apply(bogus_route("Exact"))
        self.c.delete("httproute", "bogus", "-n", "default")
        # An unknown field is refused too (kubectl's server-side field validation is strict).
        r = self.c.apply(bogus_route("Exact").replace("backendRefs:", "backendRfes:"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.rules[0].backendRfes"', r.stderr)

    def test_mirror_policy_is_validated_by_our_schema(self):
        self.apply_seed_scenario()
        self.c.apply((mgtest.SOURCE_DIR / "examples" / "mirror-policy" / "mirror-policy.yaml").read_text())
        self.assertEqual(self.c.get("mirrorpolicy", "mirror-shadow", "-n", "default")["spec"]["maxInFlight"], 128)
        cases = {
            "maxInFlight: 0": "spec.maxInFlight: Invalid value: 0: spec.maxInFlight in body should be greater "
                              "than or equal to 1",
            "timeout: 0s": 'spec.timeout: Invalid value: "0s": must be longer than 0s',
            "allowedMethods: [get]": 'spec.allowedMethods[0]: Invalid value: "get": methods are case-sensitive',
            "hostSuffix: Shadow": "spec.hostSuffix: Invalid value: \"Shadow\"",
            "maxBodySize: 8MB": "spec.maxBodySize: Invalid value: \"8MB\"",
            "requestHeaderModifier: {remove: [Host]}": 'spec.requestHeaderModifier.remove[0]: Invalid value: '
                                                       '"Host": is set by the gateway',
        }
        for extra, message in cases.items():
            with self.subTest(extra):
                r = self.c.apply(mirror_policy("invalid", extra + "\n"), check=False)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(message, r.stderr)
        wrong_target = mirror_policy("invalid", "").replace("kind: HTTPRoute", "kind: Gateway")
        r = self.c.apply(wrong_target, check=False)
        self.assertIn('spec.targetRefs[0].kind: Unsupported value: "Gateway": supported values: "HTTPRoute"',
                      r.stderr)
        r = self.c.kubectl("get", "mirrorpolicy", "invalid", "-n", "default", check=False)
        self.assertIn("NotFound", r.stderr)
        # Status is a subresource: the gateway writes it with /status, a spec write leaves it alone.
        crd = self.c.get("crd", "mirrorpolicies.mirrorgate.io")
        self.assertEqual(crd["spec"]["versions"][0]["subresources"], {"status": {}})

    def test_compaction_expires_old_resource_versions(self):
        self.apply_seed_scenario()
        rv0 = self.c.get("gateway", "mirror-gateway", "-n", "default")["metadata"]["resourceVersion"]
        for i in range(3):
            self.c.kubectl("annotate", "gateway", "mirror-gateway", "-n", "default", f"test/n={i}", "--overwrite")
        path = f"/apis/{GROUP}/v1/namespaces/default/gateways"
        listed = json.loads(self.c.kubectl("get", "--raw", f"{path}?resourceVersion={rv0}"
                                           "&resourceVersionMatch=Exact").stdout)
        self.assertEqual(listed["metadata"]["resourceVersion"], rv0)

        revision = self.c.compact_etcd()
        self.assertGreater(revision, int(rv0))

        # The API server serves that list from a snapshot of its watch cache until it learns of the compaction
        # (it polls every 15 s), then answers as etcd does.
        def expired():
            r = self.c.kubectl("get", "--raw", f"{path}?resourceVersion={rv0}&resourceVersionMatch=Exact",
                               check=False)
            return r.returncode != 0 and "Expired" in r.stderr and "too old" in r.stderr
        mgtest.wait_for(expired, 40, f"a list at resourceVersion {rv0} to be 410 Expired after compaction")
        # A watch from a version older than the watch cache holds ends at once with a 410 Gone event, which a
        # reflector answers with a relist.
        event = json.loads(self.c.kubectl("get", "--raw", f"{path}?watch=1&resourceVersion=1").stdout)
        self.assertEqual(event["type"], "ERROR")
        self.assertEqual((event["object"]["code"], event["object"]["reason"]), (410, "Expired"))

    def test_rbac_is_enforced_for_a_user_certificate(self):
        user = self.c.user_kubeconfig("mirrorgate-test-user", ["mirrorgate-testers"])
        whoami = self.c.kubectl("auth", "whoami", "-o", "json", kubeconfig=user)
        info = json.loads(whoami.stdout)["status"]["userInfo"]
        self.assertEqual(info["username"], "mirrorgate-test-user")
        self.assertIn("mirrorgate-testers", info["groups"])
        r = self.c.kubectl("get", "secrets", "-n", "default", kubeconfig=user, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('secrets is forbidden: User "mirrorgate-test-user" cannot list resource "secrets"', r.stderr)
        # Not a client that can do nothing: a binding for its group is what lets it read.
        self.c.kubectl("create", "role", "secret-reader", "-n", "default", "--verb=list", "--resource=secrets")
        self.c.kubectl("create", "rolebinding", "secret-reader", "-n", "default", "--role=secret-reader",
                       "--group=mirrorgate-testers")
        mgtest.wait_for(lambda: self.c.kubectl("get", "secrets", "-n", "default", kubeconfig=user,
                                               check=False).returncode == 0, 10, "the role binding to apply")
        r = self.c.kubectl("get", "secrets", "-n", "kube-system", kubeconfig=user, check=False)
        self.assertIn("forbidden", r.stderr)

    def test_service_account_tokens_authenticate(self):
        # What a pod's projected token is: signed with the cluster's service-account key, checked by the API
        # server, subject to RBAC like any user.
        token = self.c.service_account_token("token-test")

        def as_token(*args):
            return self.c.kubectl(f"--server={self.c.server}", f"--certificate-authority={self.c.ca_file}",
                                  f"--token={token}", *args, kubeconfig="/dev/null", check=False)
        r = as_token("auth", "whoami", "-o", "json")
        self.assertEqual(json.loads(r.stdout)["status"]["userInfo"]["username"],
                         "system:serviceaccount:default:token-test", r.stderr)
        r = as_token("get", "httproutes")
        self.assertIn('User "system:serviceaccount:default:token-test" cannot list resource "httproutes"',
                      r.stderr)

    def test_objects_outlive_an_apiserver_restart(self):
        self.apply_seed_scenario()
        user = self.c.user_kubeconfig("restart-user", ["system:masters"])
        before = self.c.get("httproute", "mirror", "-n", "default")["metadata"]
        etcd_pid = self.c.pids()["etcd"]
        self.addCleanup(self.c.start_apiserver)  # for the other tests, should this one fail half-way
        self.c.stop_apiserver()
        self.assertFalse(self.c.apiserver_running())
        r = self.c.kubectl("get", "httproutes", "-A", "--request-timeout=3s", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"The connection to the server 127.0.0.1:{self.c.api_port} was refused", r.stderr)
        self.c.start_apiserver()
        self.assertTrue(self.c.apiserver_running())
        self.assertEqual(self.c.pids()["etcd"], etcd_pid)
        # Same object (uid, resourceVersion), and a kubeconfig made before the restart still works: same CA,
        # same port.
        after = self.c.get("httproute", "mirror", "-n", "default", kubeconfig=user)["metadata"]
        self.assertEqual((after["uid"], after["resourceVersion"]), (before["uid"], before["resourceVersion"]))
        # The new API server's watch cache starts at the current revision: a watch from before the restart is
        # told to relist.
        event = json.loads(self.c.kubectl("get", "--raw", f"/apis/{GROUP}/v1/httproutes?watch=1&resourceVersion="
                                          f"{int(before['resourceVersion']) - 1}").stdout)
        self.assertEqual((event["type"], event["object"]["code"]), ("ERROR", 410))

    def test_helm_and_kubectl_of_the_pinned_releases(self):
        version = json.loads(self.c.kubectl("version", "-o", "json").stdout)
        self.assertEqual(version["clientVersion"]["gitVersion"], "v1.37.2")
        self.assertEqual(version["serverVersion"]["gitVersion"], "v1.37.2")
        self.assertIn('Version:"v4.3.2"', self.c.helm("version").stdout)
        crd = self.c.get("crd", f"httproutes.{GROUP}")
        self.assertEqual(crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"], "v1.6.3")
        self.assertEqual(crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"], "standard")


@unittest.skipIf(ASAN_VARIANT, SKIP_REASON)
class LifeCycle(unittest.TestCase):
    def test_up_is_idempotent_and_down_leaves_no_process(self):
        with kube.Cluster() as c:
            pids = c.pids()
            self.assertEqual(sorted(pids), ["apiserver", "etcd"])
            self.assertTrue(c.apiserver_running())
            again = c.script("up", timeout=kube.UP_TIMEOUT)
            self.assertEqual(c.pids(), pids, "a second up started another cluster")
            self.assertEqual(again.stdout.splitlines()[-2:],
                             [f"export KUBECONFIG={c.kubeconfig}", f"export PATH={c.bin_dir}:$PATH"])
            c.down()
            kube.wait_gone(pids.values(), timeout=5)
            self.assertFalse(c.dir.exists())
            for port in (c.api_port, c.etcd_port, c.etcd_peer_port):
                with self.assertRaises(OSError, msg=f"127.0.0.1:{port} still accepts connections"):
                    mgtest.http_request("127.0.0.1", port, timeout=1)
            status = c.script("status", timeout=30, check=False)
            self.assertEqual(status.returncode, 3, status.stdout)

    def test_sigterm_to_the_test_process_stops_its_cluster(self):
        # A test process killed by ctest's timeout (SIGTERM) takes its control plane with it.
        code = textwrap.dedent("""\
            import sys, time
            sys.path.insert(0, sys.argv[1])
            import kube
            c = kube.Cluster()
            c.__enter__()
            print(c.dir, *c.pids().values(), flush=True)
            time.sleep(600)
            """)
        p = subprocess.Popen([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             text=True, start_new_session=True)
        try:
            ready, _, _ = select.select([p.stdout], [], [], kube.UP_TIMEOUT)
            self.assertTrue(ready, "the child's cluster did not come up")
            line = p.stdout.readline().split()
            self.assertEqual(len(line), 3, p.stderr.read() if p.poll() is not None else line)
            state_dir, pids = line[0], [int(x) for x in line[1:]]
            self.assertTrue(all(kube.process_alive(pid) for pid in pids))
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            kube.wait_gone(pids, timeout=10)
            self.assertFalse(os.path.exists(state_dir))
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
