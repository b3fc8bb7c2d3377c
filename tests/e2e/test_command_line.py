"""The command line as a new user meets it (no network needed):

- `--version` on both binaries names the version and the commit the build came from (and, for the
  gateway, the Gateway API version and how many features it supports);
- an unknown `--log-level` is refused at start with a message naming the flag, instead of silencing
  every log line (spdlog reads an unknown level name as "off");
- `--publish-service` wants NAMESPACE/NAME and a Kubernetes API server, and says so;
- `--gateway-address-pool` wants an IPv4 CIDR, and not beside `--publish-service`."""

import re
import subprocess
import unittest

import mgtest


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=20)


def head_commit() -> str | None:
    out = subprocess.run(["git", "-C", str(mgtest.SOURCE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


class CommandLine(unittest.TestCase):
    def test_gateway_version_names_version_commit_and_gateway_api(self):
        out = run(mgtest.GATEWAY_BIN, "--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        first = out.stdout.splitlines()[0]
        m = re.fullmatch(r"mirrorgate (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)", first)
        self.assertIsNotNone(m, out.stdout)
        commit = head_commit()
        if commit and m.group(2) != "unknown":
            self.assertTrue(commit.startswith(m.group(2)[:12]), (commit, first))
        features = run(mgtest.GATEWAY_BIN, "--supported-features").stdout.split()
        self.assertIn(f"gateway.networking.k8s.io/v1: {len(features)} supported features", out.stdout)

    def test_echo_version_names_version_and_commit(self):
        out = run(mgtest.ECHO_BIN, "--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout.strip(), r"^mirrorgate-echo \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?\)$")

    def test_unknown_log_level_is_refused_at_start(self):
        out = run(mgtest.GATEWAY_BIN, "-c", str(mgtest.SOURCE_DIR / "examples" / "mirror"), "--log-level", "loud")
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("--log-level", out.stderr)
        self.assertIn("loud", out.stderr)
        self.assertNotIn("mirrorgate ready", out.stdout + out.stderr)

    def test_publish_service_needs_namespace_name_and_a_cluster(self):
        examples = str(mgtest.SOURCE_DIR / "examples" / "mirror")
        out = run(mgtest.GATEWAY_BIN, "--kubeconfig", "/nonexistent", "--publish-service", "just-a-name")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("expected NAMESPACE/NAME", out.stderr)
        out = run(mgtest.GATEWAY_BIN, "-c", examples, "--publish-service", "ns/lb")
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("--publish-service reads a Service's status from the API server", out.stderr)

    def test_gateway_address_pool_wants_a_cidr_and_not_publish_service_too(self):
        examples = str(mgtest.SOURCE_DIR / "examples" / "mirror")
        for bad in ("127.0.70.0", "127.0.70.0/33", "127.0.70.9/24"):
            out = run(mgtest.GATEWAY_BIN, "-c", examples, "--gateway-address-pool", bad)
            self.assertNotEqual(out.returncode, 0, bad)
            self.assertIn("--gateway-address-pool", out.stderr, bad)
            self.assertIn(bad, out.stderr)
        out = run(mgtest.GATEWAY_BIN, "--kubeconfig", "/nonexistent", "--publish-service", "ns/lb",
                  "--gateway-address-pool", "127.0.70.0/24")
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("--publish-service and --gateway-address-pool", out.stderr)


if __name__ == "__main__":
    mgtest.main()
