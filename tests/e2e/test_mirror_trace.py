"""Proof in one command: `mirrorgate mirrors` answers "was this request mirrored, to which pod, and what
did it answer?", /mirrors keeps the outcomes, and `mirrorgate status` / admin /status show the computed
Gateway API status (including a mirror backend that cannot be resolved).

Loopback block 127.0.23.0/24: gateway .1, v1 pod .2, v2 pod .3, refusing mirror endpoint .4."""

import json
import subprocess
import time

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.23"
V1 = "infra-backend-v1-7d9c6b5f4-tr4c1"
V2 = "infra-backend-v2-5d4f8b7c9d-tr4c2"


class MirrorTrace(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        refused_port = mgtest.free_port(f"{NET}.4")
        cls.config = c.config_dir() / "trace.yaml"
        cls.config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("trace-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("mirror", "trace-gateway", "/mirror", "infra-backend-v1", mirror="infra-backend-v2"),
            mgtest.route_yaml("refused", "trace-gateway", "/refused", "infra-backend-v1", mirror="refusing"),
            mgtest.route_yaml("ghost", "trace-gateway", "/ghost", "infra-backend-v1", mirror="no-such-mirror"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("infra-backend-v2"),
            mgtest.service_yaml("refusing", target_port=refused_port),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
            mgtest.endpointslice_yaml("infra-backend-v2", [(f"{NET}.3", V2, True)]),
            mgtest.endpointslice_yaml("refusing", [(f"{NET}.4", "refusing-5b7c8d9f6-r3fu5", True)],
                                      port=refused_port),
        ))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.v2 = c.echo(V2, f"{NET}.3")
        cls.gw = c.gateway(cls.config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.v2.wait_ready()
        cls.gw.wait_ready()

    def mirrors_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([mgtest.GATEWAY_BIN, "mirrors", "--admin", f"{self.gw_ip}:{self.gw.admin_port}",
                               *args], capture_output=True, text=True, timeout=20)

    def request_id_of(self, path: str) -> str:
        r = get(self.gw_ip, self.gw_port, path)
        self.assertEqual(r.status, 200, r)
        return r.json()["headers"]["X-Request-Id"][0]

    def test_cli_names_the_mirror_pod_and_its_answer(self):
        rid = self.request_id_of(f"/mirror?trace={unique_id()}")
        wait_for(lambda: self.mirrors_cli("--request-id", rid, "--json").returncode == 0, 10,
                 f"mirrorgate mirrors to find {rid}")
        out = self.mirrors_cli("--request-id", rid, "--json")
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(len(rows), 1, out.stdout)
        row = rows[0]
        self.assertEqual(row["request_id"], rid)
        self.assertEqual(row["route"], "default/mirror")
        self.assertEqual(row["primary_pod"], V1)
        self.assertEqual(row["mirror_pod"], V2)
        self.assertEqual(row["mirror_host"], f"{NET}.3:3000")
        self.assertEqual(row["status"], 200)
        self.assertEqual(row["outcome"], "completed")
        table = self.mirrors_cli("--request-id", rid)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn(V2, table.stdout)
        self.assertIn("completed", table.stdout)

    def test_cli_shows_the_primarys_status_and_latency_beside_the_copy(self):
        rid = self.request_id_of(f"/mirror?primary={unique_id()}")
        row = wait_for(lambda: next((json.loads(line) for line in self.mirrors_cli(
            "--request-id", rid, "--json").stdout.splitlines() if "primary_status" in line), None), 10,
                       f"the primary's outcome of {rid}")
        self.assertEqual(row["primary_status"], 200)
        self.assertGreater(row["primary_latency_ms"], 0)
        self.assertGreater(row["primary_bytes"], 0)
        self.assertEqual(row["primary_pod"], V1)
        self.assertRegex(row["trace_id"], r"^[0-9a-f]{32}$")
        table = self.mirrors_cli("--request-id", rid).stdout
        self.assertIn("PRIMARY ", table.splitlines()[0])
        self.assertRegex(table.splitlines()[1], rf"{V1} \({NET}\.2:3000\)\s+200 \d+\.\dms\s+{V2}")

    def test_cli_reports_failed_copy_with_reason(self):
        rid = self.request_id_of(f"/refused?trace={unique_id()}")
        wait_for(lambda: self.mirrors_cli("--request-id", rid, "--json").returncode == 0, 10,
                 f"mirrorgate mirrors to find {rid}")
        row = json.loads(self.mirrors_cli("--request-id", rid, "--json").stdout.splitlines()[0])
        self.assertEqual(row["outcome"], "failed")
        self.assertEqual(row["reason"], "connect")

    def test_follow_with_limit_zero_prints_only_new_copies(self):
        old = self.request_id_of(f"/mirror?before-follow={unique_id()}")
        wait_for(lambda: self.mirrors_cli("--request-id", old, "--json").returncode == 0, 10, "the older copy")
        follower = subprocess.Popen([mgtest.GATEWAY_BIN, "mirrors", "--admin", f"{self.gw_ip}:{self.gw.admin_port}",
                                     "-f", "--limit", "0", "--follow-seconds", "4", "--json"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: follower.poll() is None and follower.kill())
        time.sleep(1.0)  # its first poll marks where "new" begins
        new = self.request_id_of(f"/mirror?after-follow={unique_id()}")
        out, err = follower.communicate(timeout=20)
        ids = [json.loads(line)["request_id"] for line in out.splitlines()]
        self.assertIn(new, ids, out + err)
        self.assertNotIn(old, ids, out)

    def test_cli_says_when_a_request_was_not_mirrored(self):
        out = self.mirrors_cli("--request-id", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(out.returncode, 3, out)
        self.assertIn("was not mirrored", out.stderr)

    def test_cli_fails_clearly_without_a_gateway(self):
        out = subprocess.run([mgtest.GATEWAY_BIN, "mirrors", "--admin", f"{NET}.9:1"], capture_output=True,
                             text=True, timeout=20)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot connect", out.stderr)

    def test_status_shows_accepted_route_and_unresolved_mirror(self):
        r = self.gw.admin("/status")
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        routes = {i["metadata"]["name"]: i for i in items if i["kind"] == "HTTPRoute"}
        accepted = {c["type"]: c for c in routes["mirror"]["status"]["parents"][0]["conditions"]}
        self.assertEqual(accepted["Accepted"]["status"], "True")
        self.assertEqual(accepted["ResolvedRefs"]["status"], "True")
        ghost = {c["type"]: c for c in routes["ghost"]["status"]["parents"][0]["conditions"]}
        self.assertEqual(ghost["ResolvedRefs"]["status"], "False", ghost)
        self.assertEqual(ghost["ResolvedRefs"]["reason"], "BackendNotFound", ghost)

    def test_status_command_prints_yaml(self):
        out = subprocess.run([mgtest.GATEWAY_BIN, "status", "-c", str(self.config)], capture_output=True,
                             text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("kind: HTTPRoute", out.stdout)
        self.assertIn("reason: BackendNotFound", out.stdout)


if __name__ == "__main__":
    mgtest.main()
