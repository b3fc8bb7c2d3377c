"""scripts/demo.sh --once proves the seed scenario and can be run twice in a row.

The demo uses the fixed addresses of examples/mirror (127.0.0.1:8080, admin 127.0.0.1:9901, pods
127.0.0.2-5:3000). It reuses the binaries under test through MG_GATEWAY_BIN / MG_ECHO_BIN."""

import os
import signal
import subprocess
import unittest

import mgtest

SECTIONS = [
    "== 1. A client request through the gateway",
    "== 2. A second request with a distinctive query",
    "== 3. The copy reached infra-backend-v2: the v2 pod's own log line",
    "== 4. The same X-Request-Id on both sides",
    "== 5. Mirror counters",
    "PROOF OK",
]


def run_demo(timeout: float, *args: str) -> tuple[int, str]:
    env = dict(os.environ, MG_GATEWAY_BIN=mgtest.GATEWAY_BIN, MG_ECHO_BIN=mgtest.ECHO_BIN)
    p = subprocess.Popen([str(mgtest.SOURCE_DIR / "scripts" / "demo.sh"), "--once", *args],
                         cwd=mgtest.SOURCE_DIR, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)  # the script's trap stops its pods and gateway
        try:
            out, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
        raise AssertionError(f"demo.sh --once still running after {timeout:.0f} s:\n"
                             f"{out.decode(errors='replace')}") from None
    return p.returncode, out.decode(errors="replace")


class DemoScript(unittest.TestCase):
    def check_run(self, *args: str):
        rc, out = run_demo(240, *args)
        print(out)
        self.assertEqual(rc, 0, out)
        for section in SECTIONS:
            self.assertIn(section, out)
        self.assertIn("Echoing back request made to /mirror?demo-id=", out)
        self.assertIn('"pod": "infra-backend-v1-', out)
        self.assertIn("mirrorgate_mirror_copies_completed_total", out)
        self.assertNotIn("PROOF FAILED", out)
        return out

    def test_demo_once_proves_the_mirror_twice_in_a_row(self):
        self.check_run()
        # Everything it started is gone: the ports are free again and the pid files removed.
        for addr in ["127.0.0.1:8080", "127.0.0.1:9901", "127.0.0.4:3000"]:
            ip, port = addr.split(":")
            with self.assertRaises(OSError, msg=f"{addr} still accepts connections"):
                mgtest.get(ip, int(port), "/health", timeout=1)
        self.assertEqual(list((mgtest.SOURCE_DIR / "out" / "demo").glob("*.pid")), [])
        self.check_run()

    def test_demo_in_a_local_cluster_proves_the_mirror_and_shows_status_in_kubectl(self):
        out = self.check_run("--cluster")
        self.assertIn("== 0. A local Kubernetes control plane", out)
        self.assertIn("httproute.gateway.networking.k8s.io/mirror created", out)
        self.assertIn("(to 10.244.0.", out)  # the pods' addresses came from the EndpointSlices
        self.assertIn("Accepted=True (Accepted): attached to listener http", out)
        self.assertNotIn("mirrorgate-demo", subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                           text=True).stdout, "the pods' namespace is removed")


if __name__ == "__main__":
    mgtest.main()
