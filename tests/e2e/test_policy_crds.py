"""Our CRDs (charts/mirrorgate/crds) reject exactly what the gateway's loader rejects.

Each case is one MirrorPolicy or ClientTrafficPolicy, given to both judges: `mirrorgate status -c FILE` (the
loader of file mode, which the Kubernetes provider uses too) and the real API server (`kubectl apply
--dry-run=server`, strict field validation, our OpenAPI schemas and CEL rules). They must agree, and agree with
the verdict the case states, so a rule added to one side only fails here. Also: the status mirrorgate computes
for a policy is accepted by the CRD's status schema, written through the /status subresource."""

import json
import os
import shutil
import tempfile
import textwrap
import unittest
from pathlib import Path

import kube
import mgtest

ASAN_VARIANT = os.environ.get("MG_GATEWAY_BIN", "").endswith("-asan")
GW = "gateway.networking.k8s.io"
OK, REJECTED = True, False

ROUTE_REF = f"{{group: {GW}, kind: HTTPRoute, name: mirror}}"
GATEWAY_REF = f"{{group: {GW}, kind: Gateway, name: mirror-gateway}}"


def many(item: str, n: int) -> str:
    return "[" + ", ".join(item.format(i=i) for i in range(n)) + "]"


# (verdict, spec fields after targetRefs) for a MirrorPolicy targeting HTTPRoute "mirror".
MIRROR_POLICY_CASES = [
    (OK, ""),
    (OK, "timeout: 500ms"),
    (OK, "timeout: 1m30s"),
    (OK, "timeout: 00001s"),
    (OK, "timeout: 1h1m1s1ms"),
    (REJECTED, "timeout: 0s"),
    (REJECTED, "timeout: 0ms0s"),
    (REJECTED, "timeout: 100000s"),
    (REJECTED, "timeout: 1s1s1s1s1s"),
    (REJECTED, "timeout: 1.5s"),
    (REJECTED, "timeout: 5"),
    (REJECTED, 'timeout: ""'),
    (OK, "maxInFlight: 1"),
    (OK, "maxInFlight: 1000000"),
    (REJECTED, "maxInFlight: 0"),
    (REJECTED, "maxInFlight: 1000001"),
    (REJECTED, "maxInFlight: -1"),
    (REJECTED, 'maxInFlight: "5"'),
    (REJECTED, "maxInFlight: 1.5"),
    (OK, "maxBytesInFlight: 1"),
    (OK, "maxBytesInFlight: 64Mi"),
    (OK, "maxBytesInFlight: 1k"),
    (OK, 'maxBytesInFlight: "65536"'),
    (OK, "maxBytesInFlight: 4611686018427387904"),
    (OK, 'maxBytesInFlight: "4611686018427387904"'),
    (OK, "maxBytesInFlight: 4194304Ti"),
    (REJECTED, "maxBytesInFlight: 4611686018427387905"),
    (REJECTED, 'maxBytesInFlight: "4611686018427387905"'),
    (REJECTED, "maxBytesInFlight: 4194305Ti"),
    (REJECTED, "maxBytesInFlight: 0"),
    (REJECTED, "maxBytesInFlight: 0Ki"),
    (REJECTED, "maxBytesInFlight: -1"),
    (REJECTED, 'maxBytesInFlight: "-1"'),
    (REJECTED, "maxBytesInFlight: 1K"),
    (REJECTED, "maxBytesInFlight: 1Ei"),
    (REJECTED, "maxBytesInFlight: 1.5Mi"),
    (REJECTED, "maxBytesInFlight: '1e3'"),
    (OK, "maxBodySize: 0"),
    (OK, 'maxBodySize: "0"'),
    (OK, "maxBodySize: 8Mi"),
    (REJECTED, "maxBodySize: 8MB"),
    (REJECTED, "maxBodySize: -8"),
    (OK, 'hostSuffix: "-shadow"'),
    (OK, "hostSuffix: .shadow"),
    (OK, "hostSuffix: a.b-c"),
    (OK, "hostSuffix: " + "a" * 63),
    (REJECTED, "hostSuffix: " + "a" * 64),
    (REJECTED, "hostSuffix: Shadow"),
    (REJECTED, "hostSuffix: a..b"),
    (REJECTED, "hostSuffix: a."),
    (REJECTED, 'hostSuffix: ""'),
    (REJECTED, "hostSuffix: a_b"),
    (OK, "requestHeaderModifier: {}"),
    (OK, "requestHeaderModifier: {set: [{name: X-Env, value: shadow}], add: [{name: Host, value: x}]}"),
    (OK, 'requestHeaderModifier: {set: [{name: X-Env, value: ""}]}'),
    (OK, "requestHeaderModifier: {remove: [Authorization, Cookie]}"),
    # Two actions on one header: loaded, and Invalid in the status (not applied), so accepted by both.
    (OK, "requestHeaderModifier: {set: [{name: X-A, value: '1'}], remove: [x-a]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: X Env, value: shadow}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: X-Env}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: X-Env, value: 1}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: X-Request-Id, value: x}]}"),
    (REJECTED, "requestHeaderModifier: {add: [{name: content-length, value: '1'}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: X-Mirrorgate-Mirror, value: x}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: Traceparent, value: x}]}"),
    (REJECTED, "requestHeaderModifier: {remove: [Host]}"),
    (REJECTED, "requestHeaderModifier: {remove: [Transfer-Encoding]}"),
    (REJECTED, "requestHeaderModifier: {remove: [bad header]}"),
    (REJECTED, "requestHeaderModifier: {rmove: [Cookie]}"),
    (OK, "requestHeaderModifier: {set: [{name: " + "x" * 256 + ", value: v}]}"),
    (REJECTED, "requestHeaderModifier: {set: [{name: " + "x" * 257 + ", value: v}]}"),
    (REJECTED, "requestHeaderModifier: {remove: [" + "x" * 257 + "]}"),
    (OK, "requestHeaderModifier: {set: " + many("{{name: X-{i}, value: v}}", 16) + "}"),
    (REJECTED, "requestHeaderModifier: {set: " + many("{{name: X-{i}, value: v}}", 17) + "}"),
    (REJECTED, "requestHeaderModifier: {remove: " + many("X-{i}", 17) + "}"),
    (OK, "allowedMethods: [GET, HEAD]"),
    (OK, "allowedMethods: [PURGE, purge]"),
    (OK, "allowedMethods: " + many("M{i}", 16)),
    (REJECTED, "allowedMethods: " + many("M{i}", 17)),
    (REJECTED, "allowedMethods: []"),
    (REJECTED, "allowedMethods: [get]"),
    (REJECTED, "allowedMethods: [Post]"),
    (REJECTED, "allowedMethods: [GET, GET]"),
    (REJECTED, "allowedMethods: [G ET]"),
    (REJECTED, "allowedMethods: [" + "M" * 257 + "]"),
    (OK, "responseComparison: {}"),
    (OK, "responseComparison: {percent: 0, headers: [content-type], ignoreJSONPaths: [/pod, /a~0~1, /],"
         " maxBodySize: 64Ki}"),
    (OK, "responseComparison: {headers: " + many("h-{i}", 32) + "}"),
    (REJECTED, "responseComparison: {headers: " + many("h-{i}", 33) + "}"),
    (REJECTED, "responseComparison: {percent: 101}"),
    (REJECTED, "responseComparison: {percent: -1}"),
    (REJECTED, "responseComparison: {headers: [content-type, Content-Type]}"),
    (REJECTED, "responseComparison: {headers: []}"),
    (REJECTED, "responseComparison: {headers: [bad header]}"),
    (REJECTED, "responseComparison: {headers: [" + "h" * 257 + "]}"),
    (REJECTED, "responseComparison: {ignoreJSONPaths: [pod]}"),
    (REJECTED, "responseComparison: {ignoreJSONPaths: ['/a~2']}"),
    (REJECTED, "responseComparison: {ignoreJSONPaths: [/a, /a]}"),
    (REJECTED, "responseComparison: {ignoreJSONPaths: []}"),
    (REJECTED, "responseComparison: {maxBodySize: 64KB}"),
    (REJECTED, "responseComparison: {precent: 5}"),
    # Fields wrong only together: loaded, Invalid in the status.
    (OK, "maxBodySize: 2Mi\nmaxBytesInFlight: 1Mi"),
    (REJECTED, "maxInFlights: 5"),
]

# (verdict, the whole spec) for a MirrorPolicy: targetRefs themselves.
MIRROR_POLICY_TARGETS = [
    (OK, f"targetRefs: [{ROUTE_REF}]"),
    (OK, f"targetRefs: [{{group: {GW}, kind: HTTPRoute, name: mirror, sectionName: checkout}}, {ROUTE_REF}]"),
    # A SectionName, as the ancestor's sectionName in status must be: the API server would refuse that status.
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: HTTPRoute, name: mirror, sectionName: Check_Out}}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: HTTPRoute, name: mirror, sectionName: ''}}]"),
    (OK, "targetRefs: " + many(f"{{{{group: {GW}, kind: HTTPRoute, name: r{{i}}}}}}", 16)),
    (REJECTED, "targetRefs: " + many(f"{{{{group: {GW}, kind: HTTPRoute, name: r{{i}}}}}}", 17)),
    (REJECTED, "targetRefs: []"),
    (REJECTED, "timeout: 1s"),
    (REJECTED, f"targetRefs: [{ROUTE_REF}, {ROUTE_REF}]"),
    (REJECTED, f"targetRefs: [{GATEWAY_REF}]"),
    (REJECTED, "targetRefs: [{group: '', kind: HTTPRoute, name: mirror}]"),
    (REJECTED, "targetRefs: [{kind: HTTPRoute, name: mirror}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, name: mirror}}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: HTTPRoute}}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: HTTPRoute, name: mirror, namespace: other}}]"),
]

# (verdict, spec fields after targetRefs) for a ClientTrafficPolicy targeting Gateway "mirror-gateway".
CLIENT_TRAFFIC_POLICY_CASES = [
    (OK, ""),
    (OK, "limits: {}\ntimeouts: {}"),
    (OK, "limits: {maxRequestLineSize: 8Ki, maxHeaderSize: 64Ki, maxHeaders: 100, maxRequestBodySize: 10Mi}"),
    (OK, "limits: {maxRequestLineSize: 1, maxHeaderSize: '1', maxHeaders: 1000000, maxRequestBodySize: 0}"),
    # maxRequestLineSize above maxHeaderSize: loaded, Invalid in the status.
    (OK, "limits: {maxRequestLineSize: 64Ki, maxHeaderSize: 8Ki}"),
    (REJECTED, "limits: {maxRequestLineSize: 0}"),
    (REJECTED, "limits: {maxHeaderSize: 0Mi}"),
    (REJECTED, "limits: {maxHeaders: 0}"),
    (REJECTED, "limits: {maxHeaders: 1000001}"),
    (REJECTED, "limits: {maxHeaders: '100'}"),
    (REJECTED, "limits: {maxRequestBodySize: -1}"),
    (REJECTED, "limits: {maxRequestBodySize: 10MB}"),
    (REJECTED, "limits: {maxBodySize: 1}"),
    (OK, "timeouts: {requestHeader: 10s, idle: 1m}"),
    (REJECTED, "timeouts: {requestHeader: 0s}"),
    (REJECTED, "timeouts: {idle: 0ms}"),
    (REJECTED, "timeouts: {idle: 10}"),
    (REJECTED, "timeouts: {idle: 1d}"),
    (REJECTED, "timeouts: {connect: 1s}"),
    (REJECTED, "limit: {}"),
    (OK, "tls: {}"),
    (OK, "tls: {minVersion: '1.2', maxVersion: '1.3', ciphers: [ECDHE-RSA-AES128-GCM-SHA256], "
         "alpnProtocols: [h2, http/1.1, http/1.0]}"),
    (OK, "tls: {minVersion: Auto, maxVersion: '1.2'}"),
    (OK, "tls: {minVersion: '1.3', maxVersion: Auto}"),
    # A name OpenSSL does not know: loaded, Invalid in the status.
    (OK, "tls: {ciphers: [NOT-A-CIPHER]}"),
    (REJECTED, "tls: {minVersion: '1.1'}"),
    (REJECTED, "tls: {maxVersion: '1.0'}"),
    (REJECTED, "tls: {minVersion: '1.3', maxVersion: '1.2'}"),
    (REJECTED, "tls: {ciphers: ['HIGH:!aNULL']}"),
    (REJECTED, "tls: {ciphers: ['']}"),
    (REJECTED, "tls: {alpnProtocols: [spdy/3]}"),
    (REJECTED, "tls: {alpnProtocols: [h2, h2]}"),
    (REJECTED, "tls: {ecdhCurves: [X25519]}"),
]

CLIENT_TRAFFIC_POLICY_TARGETS = [
    (OK, f"targetRefs: [{GATEWAY_REF}]"),
    (OK, f"targetRefs: [{GATEWAY_REF}, {GATEWAY_REF}]"),  # one status entry per distinct targetRef
    (OK, f"targetRefs: [{{group: {GW}, kind: Gateway, name: mirror-gateway, sectionName: http}}]"),
    (OK, f"targetRefs: [{{group: {GW}, kind: Gateway, name: mirror-gateway, sectionName: a.b-c}}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: Gateway, name: mirror-gateway, sectionName: HTTP}}]"),
    (REJECTED, f"targetRefs: [{{group: {GW}, kind: Gateway, name: mirror-gateway, sectionName: " + "s" * 254 + "}]"),
    (REJECTED, f"targetRefs: [{ROUTE_REF}]"),
    (REJECTED, "targetRefs: []"),
    (REJECTED, "limits: {}"),
]


def policy(kind: str, spec: str, name: str = "case") -> str:
    return f"apiVersion: mirrorgate.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}, namespace: default}}\n" \
           f"spec:\n{textwrap.indent(spec, '  ')}\n"


def json_stream(text: str) -> list:
    """The objects of concatenated JSON documents (kubectl -o json of several objects)."""
    decoder, objects, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return objects
        obj, i = decoder.raw_decode(text, i)
        objects.append(obj)


@unittest.skipIf(ASAN_VARIANT, "the API server side has no sanitizer variant: this file runs in the plain "
                               "variant only")
class PolicyCrds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = Path(tempfile.mkdtemp(prefix="mg-policy-crds-"))
        cls.cluster = kube.Cluster()
        cls.cluster.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.down()
        shutil.rmtree(cls.work, ignore_errors=True)

    def loader_accepts(self, text: str) -> bool:
        path = self.work / "case.yaml"
        path.write_text(text)
        r = kube._run([mgtest.GATEWAY_BIN, "status", "-c", str(path)], dict(os.environ), timeout=30)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertEqual(r.returncode == 1, "error: " in r.stderr, r.stderr)
        return r.returncode == 0

    def apiserver_accepts(self, text: str) -> tuple[bool, str]:
        r = self.cluster.apply(text, "--dry-run=server", check=False)
        return r.returncode == 0, r.stderr

    def check(self, kind: str, cases: list[tuple[bool, str]], prefix: str = ""):
        for verdict, fields in cases:
            spec = prefix + fields
            with self.subTest(kind=kind, spec=spec[:200]):
                text = policy(kind, spec)
                loader = self.loader_accepts(text)
                apiserver, why = self.apiserver_accepts(text)
                expected = (verdict, verdict)
                self.assertEqual((loader, apiserver), expected,
                                 f"expected (loader, API server) {expected}; loader "
                                 f"{'accepts' if loader else 'rejects'}, API server "
                                 f"{'accepts' if apiserver else 'rejects'} {why.strip()}\n{text}")

    def test_mirror_policy_fields(self):
        self.check("MirrorPolicy", MIRROR_POLICY_CASES, prefix=f"targetRefs: [{ROUTE_REF}]\n")

    def test_mirror_policy_target_refs(self):
        self.check("MirrorPolicy", MIRROR_POLICY_TARGETS)

    def test_client_traffic_policy_fields(self):
        self.check("ClientTrafficPolicy", CLIENT_TRAFFIC_POLICY_CASES, prefix=f"targetRefs: [{GATEWAY_REF}]\n")

    def test_client_traffic_policy_target_refs(self):
        self.check("ClientTrafficPolicy", CLIENT_TRAFFIC_POLICY_TARGETS)

    def test_documented_examples_are_accepted(self):
        example = (mgtest.SOURCE_DIR / "examples" / "mirror-policy" / "mirror-policy.yaml").read_text()
        self.assertTrue(self.loader_accepts(example))
        self.assertEqual(self.apiserver_accepts(example), (True, ""))

    def test_the_status_mirrorgate_computes_fits_the_status_schema(self):
        # The seed scenario with a MirrorPolicy (one target found, one not) and a ClientTrafficPolicy: what
        # `mirrorgate status` computes for the policies is written through /status and reads back the same.
        ctp = policy("ClientTrafficPolicy", f"targetRefs: [{GATEWAY_REF}, {{group: {GW}, kind: Gateway, "
                                            "name: mirror-gateway, sectionName: nope}]\nlimits: {maxHeaders: 50}", name="computed")
        mp = policy("MirrorPolicy", f"targetRefs: [{ROUTE_REF}, {{group: {GW}, kind: HTTPRoute, name: gone}}]\n"
                                    "timeout: 2s", name="computed")
        config = self.work / "status"
        config.mkdir()
        for f in ("gateway.yaml", "backends.yaml"):
            (config / f).write_text((mgtest.EXAMPLE_DIR / f).read_text())
        (config / "policies.yaml").write_text(mgtest.join_docs(mp, ctp))
        out = kube._run([mgtest.GATEWAY_BIN, "status", "-c", str(config)], dict(os.environ), timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        computed = json_stream(self.cluster.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                                                    input=out.stdout).stdout)
        policies = [o for o in computed if o["kind"] in ("MirrorPolicy", "ClientTrafficPolicy")]
        self.assertEqual(len(policies), 2, [o["kind"] for o in computed])
        self.cluster.apply(mgtest.join_docs(mp, ctp))
        for obj in policies:
            with self.subTest(kind=obj["kind"]):
                self.assertEqual(len(obj["status"]["ancestors"]), 2, obj["status"])
                self.cluster.kubectl("patch", obj["kind"].lower(), "computed", "-n", "default",
                                     "--subresource=status", "--type=merge",
                                     "-p", json.dumps({"status": obj["status"]}))
                stored = self.cluster.get(obj["kind"].lower(), "computed", "-n", "default")
                self.assertEqual(stored["status"], obj["status"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
