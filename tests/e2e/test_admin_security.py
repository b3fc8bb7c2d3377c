"""The admin listener's token (docs/operations.md, "Admin endpoints"): off loopback the gateway does not
start without --admin-token-file; with a token every endpoint but /ready answers 401 and a
`WWW-Authenticate: Bearer` challenge without it, and `mirrorgate mirrors --admin-token-file` sends it. And
nothing any endpoint serves holds secret material: a TLS private key and a Secret's token are planted in the
config and looked for in every answer.

Loopback block 127.0.62.0/24: gateway 127.0.62.1, pods 127.0.62.2-5 (the seed scenario's .2-.5)."""

from __future__ import annotations

import base64
import re
import subprocess

import mgtest
from mgtest import get, unique_id, wait_for
from test_tls import make_certificate, secret_yaml

NET = "127.0.62"
TOKEN = "admin-token-" + unique_id()
PLANTED_TOKEN = "planted-api-token-" + unique_id()
# Every endpoint the admin listener serves (the page's assets come from its own index).
ENDPOINTS = ["/", "/metrics", "/stats/prometheus", "/status", "/config_dump", "/mirrors", "/mirrors/diff",
             "/mirrors?limit=1000", "/topology"]


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class AdminSecurity(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        ip = f"{NET}.1"
        # Planted: an HTTPS listener's certificate Secret (with its private key) and an unrelated Secret.
        crt, cls.key = make_certificate(c.dir, "secure.example")
        cls.tls_port = mgtest.free_port(ip)
        planted = mgtest.join_docs(secret_yaml("planted-cert", crt, cls.key), f"""\
apiVersion: v1
kind: Secret
metadata:
  name: api-credentials
  namespace: default
type: Opaque
data:
  token: {base64.b64encode(PLANTED_TOKEN.encode()).decode()}
stringData:
  plain: {PLANTED_TOKEN}
""", mgtest.https_gateway_yaml("secure-gateway", ip, cls.tls_port, "secure.example", "planted-cert"))
        cls.token_file = c.dir / "admin-token"
        cls.token_file.write_text(TOKEN + "\n")
        seed = mgtest.start_seed(c, NET, {"planted.yaml": planted}, ["--admin-token-file", str(cls.token_file)])
        cls.gw, cls.gw_ip, cls.gw_port, cls.pods, cls.config = seed.gw, seed.ip, seed.port, seed.pods, seed.config

    def admin(self, path: str, headers=None) -> mgtest.Response:
        return get(self.gw_ip, self.gw.admin_port, path, headers=headers)

    def test_off_loopback_without_a_token_the_gateway_does_not_start(self):
        out = subprocess.run([mgtest.GATEWAY_BIN, "-c", str(self.config), "--admin", "0.0.0.0:0"],
                             capture_output=True, text=True, timeout=20)
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("--admin-token-file", out.stderr)
        self.assertIn("not on loopback", out.stderr)

    def test_off_loopback_with_a_token_it_serves_and_asks_for_it(self):
        port = mgtest.free_port(self.gw_ip)
        other = self.cluster.dir / "other"
        other.mkdir(exist_ok=True)
        # Its own pods' addresses are the same; only the admin listener differs (its data-plane listeners
        # would collide with the class's gateway, so it gets a config without Gateways).
        (other / "class.yaml").write_text(mgtest.gatewayclass_yaml())
        g = self.cluster.gateway(other, admin_ip="0.0.0.0", admin_port=port, name="wildcard-admin",
                                 extra_args=["--admin-token-file", str(self.token_file)])
        try:
            wait_for(lambda: get(self.gw_ip, port, "/ready", timeout=1).status == 200, mgtest.START_TIMEOUT,
                     "the 0.0.0.0 admin listener's /ready, without a token")
            self.assertEqual(get(self.gw_ip, port, "/status").status, 401)
            self.assertEqual(get(self.gw_ip, port, "/status", headers=bearer()).status, 200)
        finally:
            g.stop()

    def test_every_endpoint_but_ready_refuses_without_the_token(self):
        self.assertEqual(self.admin("/ready").status, 200)
        for path in ENDPOINTS + ["/no-such-endpoint"]:
            for headers in (None, bearer("wrong"), bearer(TOKEN + "x"), {"Authorization": TOKEN}):
                r = self.admin(path, headers)
                self.assertEqual(r.status, 401, (path, headers, r))
                challenges = [v for k, v in r.headers if k.lower() == "www-authenticate"]
                self.assertTrue(any(v.startswith("Bearer") for v in challenges), r)
                self.assertNotIn(b"mirror", r.body.lower().replace(b"mirrorgate", b""), r)
            self.assertNotEqual(self.admin(path, bearer()).status, 401, path)
        # A browser's login prompt: any user name, the token as password.
        basic = base64.b64encode(f"admin:{TOKEN}".encode()).decode()
        self.assertEqual(self.admin("/status", {"Authorization": f"Basic {basic}"}).status, 200)

    def test_mirrors_command_sends_the_token(self):
        path = f"/mirror?sec={unique_id()}"
        self.assertEqual(get(self.gw_ip, self.gw_port, path).status, 200)
        wait_for(lambda: path.encode() in b"".join(p.stdout().encode() for p in self.pods), 10, "the copy")
        address = f"{self.gw_ip}:{self.gw.admin_port}"
        refused = subprocess.run([mgtest.GATEWAY_BIN, "mirrors", "--admin", address], capture_output=True,
                                 text=True, timeout=20)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("401", refused.stderr)
        allowed = wait_for(lambda: (lambda out: out if out.returncode == 0 and "completed" in out.stdout else None)(
            subprocess.run([mgtest.GATEWAY_BIN, "mirrors", "--admin", address, "--admin-token-file",
                            str(self.token_file)], capture_output=True, text=True, timeout=20)),
            10, "mirrorgate mirrors with the token to list the copy")
        self.assertIn("infra-backend-v2", allowed.stdout)

    def test_no_endpoint_serves_secret_material(self):
        # Some traffic first, so that the mirror trace, metrics and the rest have something to say.
        self.assertEqual(get(self.gw_ip, self.gw_port, f"/mirror?s={unique_id()}").status, 200)
        key_lines = [line for line in self.key.splitlines() if line and not line.startswith("-----")]
        planted = [PLANTED_TOKEN, base64.b64encode(PLANTED_TOKEN.encode()).decode(), TOKEN,
                   base64.b64encode(self.key.encode()).decode()[:40], "PRIVATE KEY", *key_lines]
        # The page itself (what a browser gets at /) and every file it loads.
        page = self.admin("/", {**bearer(), "Accept": "text/html"})
        self.assertIn(b"<svg", page.body)
        assets = ["/" + p for p in re.findall(r'(?:src|href)="(page/[^"]+)"', page.body.decode())]
        self.assertGreaterEqual(len(assets), 2)
        for path, headers in [(p, {}) for p in ENDPOINTS + assets] + [("/", {"Accept": "text/html"})]:
            r = self.admin(path, {**bearer(), **headers})
            self.assertEqual(r.status, 200, (path, r))
            body = r.body.decode(errors="replace")
            for secret in planted:
                self.assertNotIn(secret, body, f"{path} serves secret material")
        # The Secret was loaded and used: the HTTPS listener serves with its certificate.
        self.assertTrue(mgtest.port_open(self.gw_ip, self.tls_port))


if __name__ == "__main__":
    mgtest.main()
