"""Response comparison: a MirrorPolicy's responseComparison compares each sampled mirror response with
the primary's; matches and mismatches are counted in /metrics, and the last mismatches are listed with
their differences at admin /mirrors/diff and by `mirrorgate mirrors --diff`.

The v1 (primary) and v2 (mirror) echo pods answer the same JSON except for the fields naming the pod
and the Service, the X-Mirrorgate-Mirror header the copy carries, and the copy's traceparent (the same
trace, a span of its own).

Loopback block 127.0.30.0/24: gateway .1, v1 pod .2, v2 pod .3, refusing mirror endpoint .4."""

import json
import subprocess

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.30"
V1 = "infra-backend-v1-6c8d9f7b5-df1a1"
V2 = "infra-backend-v2-7f9b8c6d4-df2b2"
COMPARISONS = "mirrorgate_mirror_comparisons_total"
# What differs between v1's and v2's echo of the same request.
POD_FIELDS = ["/pod", "/service", "/headers/X-Mirrorgate-Mirror", "/headers/Traceparent"]


def policy_yaml(name: str, route: str, ignore: list[str], percent: int = 100) -> str:
    ignore_line = f"\n    ignoreJSONPaths: {json.dumps(ignore)}" if ignore else ""
    return f"""apiVersion: mirrorgate.io/v1alpha1
kind: MirrorPolicy
metadata:
  name: {name}
  namespace: default
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: {route}
  responseComparison:
    percent: {percent}
    headers: [content-type]{ignore_line}
    maxBodySize: 64Ki
"""


class MirrorDiff(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        refused_port = mgtest.free_port(f"{NET}.4")
        cls.v2_ip, cls.v2_port = f"{NET}.3", 3000
        config = c.config_dir() / "diff.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("diff-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("ignoring", "diff-gateway", "/ignoring", "infra-backend-v1", mirror="infra-backend-v2"),
            mgtest.route_yaml("strict", "diff-gateway", "/strict", "infra-backend-v1", mirror="infra-backend-v2"),
            mgtest.route_yaml("retry", "diff-gateway", "/retry", "infra-backend-v1", mirror="infra-backend-v2"),
            mgtest.route_yaml("refused", "diff-gateway", "/refused", "infra-backend-v1", mirror="refusing"),
            mgtest.route_yaml("plain", "diff-gateway", "/plain", "infra-backend-v1", mirror="infra-backend-v2"),
            mgtest.route_yaml("unsampled", "diff-gateway", "/unsampled", "infra-backend-v1",
                              mirror="infra-backend-v2"),
            policy_yaml("compare-ignoring", "ignoring", POD_FIELDS),
            policy_yaml("compare-strict", "strict", []),
            policy_yaml("compare-retry", "retry", POD_FIELDS),
            policy_yaml("compare-refused", "refused", []),
            policy_yaml("compare-none", "unsampled", [], percent=0),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("infra-backend-v2"),
            mgtest.service_yaml("refusing", target_port=refused_port),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
            mgtest.endpointslice_yaml("infra-backend-v2", [(cls.v2_ip, V2, True)]),
            mgtest.endpointslice_yaml("refusing", [(f"{NET}.4", "refusing-5b7c8d9f6-r3fu5", True)],
                                      port=refused_port),
        ))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.v2 = c.echo(V2, cls.v2_ip, cls.v2_port)
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.v2.wait_ready()
        cls.gw.wait_ready()

    def comparisons(self, route: str, result: str | None = None) -> float:
        labels = {"route": f"default/{route}"}
        if result:
            labels["result"] = result
        return self.gw.metrics().get(COMPARISONS, **labels)

    def diff_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([mgtest.GATEWAY_BIN, "mirrors", "--diff", "--admin",
                               f"{self.gw_ip}:{self.gw.admin_port}", *args],
                              capture_output=True, text=True, timeout=20)

    def mismatches(self, request_id: str) -> list[dict]:
        r = self.gw.admin(f"/mirrors/diff?request_id={request_id}")
        self.assertEqual(r.status, 200, r)
        return r.json()["mismatches"]

    def send(self, path: str, expect_status: int = 200) -> str:
        r = get(self.gw_ip, self.gw_port, path)
        self.assertEqual(r.status, expect_status, r)
        rid = r.header("X-Request-Id")
        self.assertTrue(rid, r)
        return rid

    def test_ignored_fields_make_the_responses_match(self):
        before = self.comparisons("ignoring")
        rids = [self.send(f"/ignoring?n={i}&t={unique_id()}") for i in range(5)]
        wait_for(lambda: self.comparisons("ignoring") >= before + 5, 10, "5 comparisons on default/ignoring")
        self.assertEqual(self.comparisons("ignoring", "mismatch"), 0, self.gw.metrics().text)
        self.assertEqual(self.comparisons("ignoring", "skipped"), 0)
        self.assertGreaterEqual(self.comparisons("ignoring", "match"), 5)
        for rid in rids:
            self.assertEqual(self.mismatches(rid), [])

    def test_mismatch_is_listed_with_its_differences(self):
        rid = self.send(f"/strict?t={unique_id()}")
        wait_for(lambda: self.mismatches(rid), 10, f"/mirrors/diff to list {rid}")
        [m] = self.mismatches(rid)
        self.assertEqual(m["route"], "default/strict")
        self.assertEqual(m["mirror_backend"], "default/infra-backend-v2:8080")
        self.assertEqual(m["primary_pod"], V1)
        self.assertEqual(m["mirror_pod"], V2)
        self.assertEqual(m["mirror_host"], f"{self.v2_ip}:{self.v2_port}")
        self.assertEqual((m["primary_status"], m["mirror_status"]), (200, 200))
        diffs = m["differences"]
        self.assertIn(f'/pod: primary "{V1}", mirror "{V2}"', diffs)
        self.assertIn('/service: primary "infra-backend-v1", mirror "infra-backend-v2"', diffs)
        self.assertTrue(any(d.startswith("/headers/X-Mirrorgate-Mirror: only in mirror") for d in diffs), diffs)
        [trace] = [d for d in diffs if d.startswith("/headers/Traceparent/0: ")]
        primary_span, mirror_span = (v.split("-") for v in trace.split('"')[1::2])
        self.assertEqual(primary_span[1], mirror_span[1], trace)  # one trace
        self.assertNotEqual(primary_span[2], mirror_span[2], trace)  # two spans
        self.assertEqual(len(diffs), 4, diffs)
        self.assertGreaterEqual(self.comparisons("strict", "mismatch"), 1)

        table = self.diff_cli("--request-id", rid)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn(rid, table.stdout)
        self.assertIn(f"primary {V1}", table.stdout)
        self.assertIn(f"mirror {V2}", table.stdout)
        self.assertIn(f'- /pod: primary "{V1}", mirror "{V2}"', table.stdout)
        rows = [json.loads(line) for line in self.diff_cli("--request-id", rid, "--json").stdout.splitlines()]
        self.assertEqual([r["request_id"] for r in rows], [rid])
        self.assertEqual(rows[0]["differences"], diffs)

    def test_status_mismatch(self):
        # /retry/ counts attempts per pod: one attempt straight at v2 first, so the gateway's request is v1's
        # first (failing, 503) and v2's second (succeeding, 200).
        query = f"uuid={unique_id()}&succeedAfter=1&responseCode=503"
        self.assertEqual(get(self.v2_ip, self.v2_port, f"/retry/?{query}").status, 503)
        rid = self.send(f"/retry/?{query}", expect_status=503)
        wait_for(lambda: self.mismatches(rid), 10, f"/mirrors/diff to list {rid}")
        [m] = self.mismatches(rid)
        self.assertEqual((m["primary_status"], m["mirror_status"]), (503, 200))
        self.assertEqual(m["differences"][0], "status: primary 503, mirror 200")
        out = self.diff_cli("--request-id", rid)
        self.assertIn("status: primary 503, mirror 200", out.stdout)

    def test_failed_copy_is_counted_skipped(self):
        before = self.comparisons("refused", "skipped")
        self.send(f"/refused?t={unique_id()}")
        wait_for(lambda: self.comparisons("refused", "skipped") >= before + 1, 10, "a skipped comparison")
        self.assertEqual(self.comparisons("refused", "match") + self.comparisons("refused", "mismatch"), 0)

    def test_mirror_without_policy_is_not_compared(self):
        rid = self.send(f"/plain?t={unique_id()}")
        completed = "mirrorgate_mirror_copies_completed_total"
        wait_for(lambda: self.gw.metrics().get(completed, route="default/plain") >= 1, 10, "the plain copy")
        self.assertEqual([s for s in self.gw.metrics().series(COMPARISONS) if s[0]["route"] == "default/plain"], [])
        self.assertEqual(self.mismatches(rid), [])

    def test_percent_zero_compares_nothing(self):
        completed = "mirrorgate_mirror_copies_completed_total"
        for i in range(5):
            self.send(f"/unsampled?n={i}&t={unique_id()}")
        wait_for(lambda: self.gw.metrics().get(completed, route="default/unsampled") >= 5, 10, "5 unsampled copies")
        self.assertEqual(self.comparisons("unsampled"), 0)

    def test_cli_says_when_a_request_has_no_mismatch(self):
        out = self.diff_cli("--request-id", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(out.returncode, 3, out)
        self.assertIn("no mismatch recorded", out.stderr)


if __name__ == "__main__":
    mgtest.main()
