"""BackendTLSPolicy: TLS from the gateway to a backend the test runs (Python's ssl module, answering JSON
like the echo, with the SNI it was offered). A policy with the right CA and name gets 200 and the backend
sees the SNI; the wrong CA or the wrong name gets 502, counted by reason in
mirrorgate_upstream_tls_errors_total; a URI subjectAltName is checked; a CA ConfigMap that does not exist
gives 500 and the conditions say why; of two policies on one Service the older wins and the other is
Conflicted; a mirror to a TLS Service gets its copies over TLS; and a CA ConfigMap fixed in the files is
picked up by the reload, without a restart.

A backend that takes the TCP connection but never answers the handshake is a 502 within --connect-timeout,
counted as handshake_timeout. A Service port with appProtocol kubernetes.io/h2c under a policy gets HTTP/2
over TLS (ALPN h2), from test_h2c_upstream's raw HTTP/2 backend behind a TLS socket.

Loopback block 127.0.85.0/24: gateway .1, TLS backend .2, echo pod .3 (the mirrored route's primary),
silent backend .4, HTTP/2 over TLS backend .5."""

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time

import mgtest
import test_h2c_upstream  # the module, not its test case: unittest would run that here too
from mgtest import wait_for

NET = "127.0.85"
NAME = "backend.example.test"
URI = "spiffe://example.test/backend"
V1 = "infra-backend-v1-7d9c6b5f4-btls1"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d) -> dict[str, str]:
    """Two CAs; a leaf for NAME (with a URI SAN) signed by the first."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca1", "ca2"):
        openssl("req", "-x509", *ec, "-days", "2", "-subj", f"/CN=test {ca}", "-keyout", str(d / f"{ca}.key"),
                "-out", str(d / f"{ca}.crt"))
    openssl("req", "-new", *ec, "-subj", f"/CN={NAME}", "-keyout", str(d / "leaf.key"), "-out", str(d / "leaf.csr"))
    (d / "leaf.ext").write_text(f"subjectAltName=DNS:{NAME},URI:{URI}\n")
    openssl("x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca1.crt"), "-CAkey", str(d / "ca1.key"),
            "-CAcreateserial", "-days", "2", "-extfile", str(d / "leaf.ext"), "-out", str(d / "leaf.crt"))
    return {k: (d / f"{k}.crt").read_text() for k in ("ca1", "ca2")}


class TlsBackend:
    """An HTTPS server answering every GET with {"path", "host", "sni"} as JSON, keep-alive."""

    def __init__(self, ip: str, port: int, cert: str, key: str):
        self.ip, self.port, self.errors = ip, port, []  # as mgtest.Cluster.dump reads a capture
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        sni_of = {}

        def on_sni(sock, name, _ctx):
            sni_of[id(sock)] = name

        ctx.sni_callback = on_sni
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the http.server spelling
                seen = {"path": self.path, "host": self.headers.get("Host"),
                        "sni": sni_of.get(id(self.connection)), "mirror": self.headers.get("X-Mirrorgate-Mirror")}
                with backend.lock:
                    backend.requests.append(seen)
                body = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = mgtest.https_server(ip, port, ctx, Handler)

    def seen(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self, join_timeout: float = 2.0):
        self.server.shutdown()
        self.server.server_close()


class TlsH2Backend(test_h2c_upstream.RawH2Backend):
    """The raw HTTP/2 backend ("raw PATH" for any path) behind TLS with ALPN h2 only."""

    context: ssl.SSLContext | None = None

    def serve(self, conn, peer, number):
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.lock:
            self.alpns = getattr(self, "alpns", []) + [tls.selected_alpn_protocol()]
        super().serve(tls, peer, number)


def config_map_yaml(name: str, pem: str) -> str:
    indented = "".join("    " + line + "\n" for line in pem.strip().splitlines())
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: default
data:
  ca.crt: |
{indented}"""


def policy_yaml(name: str, service: str, ca: str | None, hostname: str = NAME, created: str | None = None,
                extra: str = "") -> str:
    created_line = f"  creationTimestamp: \"{created}\"\n" if created else ""
    cas = (f"""    caCertificateRefs:
    - group: ""
      kind: ConfigMap
      name: {ca}
""" if ca else "    wellKnownCACertificates: System\n")
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata:
  name: {name}
  namespace: default
{created_line}spec:
  targetRefs:
  - group: ""
    kind: Service
    name: {service}
  validation:
{cas}    hostname: {hostname}
{extra}"""


SERVICES = ("tls-good", "tls-wrong-ca", "tls-wrong-name", "tls-san-uri", "tls-missing", "tls-fixable",
            "tls-conflict")


def config(ip: str, port: int, backend_port: int, pems: dict[str, str], silent_port: int, h2_port: int) -> str:
    docs = [mgtest.gatewayclass_yaml(), mgtest.gateway_yaml("btls-gateway", ip, port),
            config_map_yaml("ca-good", pems["ca1"]), config_map_yaml("ca-other", pems["ca2"])]
    for svc in SERVICES:
        docs += [mgtest.route_yaml(svc, "btls-gateway", "/" + svc.removeprefix("tls-"), svc, backend_port=8443),
                 mgtest.service_yaml(svc, port=8443, target_port=backend_port),
                 mgtest.endpointslice_yaml(svc, [(f"{NET}.2", "tls-backend-pod", True)], port=backend_port)]
    docs += [
        policy_yaml("good", "tls-good", "ca-good"),
        policy_yaml("wrong-ca", "tls-wrong-ca", "ca-other"),
        policy_yaml("wrong-name", "tls-wrong-name", "ca-good", hostname="other.example.test"),
        policy_yaml("san-uri", "tls-san-uri", "ca-good",
                    extra=f"    subjectAltNames:\n    - type: URI\n      uri: {URI}\n"),
        policy_yaml("missing", "tls-missing", "no-such-config-map"),
        policy_yaml("fixable", "tls-fixable", "ca-fixable"),
        policy_yaml("conflict-first", "tls-conflict", "ca-good", created="2024-01-01T00:00:00Z"),
        policy_yaml("conflict-second", "tls-conflict", "ca-good", hostname="other.example.test",
                    created="2025-01-01T00:00:00Z"),
        mgtest.route_yaml("tls-silent", "btls-gateway", "/silent", "tls-silent", backend_port=8443),
        mgtest.service_yaml("tls-silent", port=8443, target_port=silent_port),
        mgtest.endpointslice_yaml("tls-silent", [(f"{NET}.4", "silent-pod", True)], port=silent_port),
        policy_yaml("silent", "tls-silent", "ca-good"),
        mgtest.route_yaml("tls-h2", "btls-gateway", "/h2tls", "tls-h2", backend_port=8443),
        mgtest.service_yaml("tls-h2", port=8443, target_port=h2_port, app_protocol="kubernetes.io/h2c"),
        mgtest.endpointslice_yaml("tls-h2", [(f"{NET}.5", "h2-pod", True)], port=h2_port),
        policy_yaml("h2", "tls-h2", "ca-good"),
        mgtest.route_yaml("mirrored", "btls-gateway", "/mirrored", "infra-backend-v1", mirror="tls-good",
                          mirror_port=8443),
        mgtest.service_yaml("infra-backend-v1"),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.3", V1, True)]),
    ]
    return mgtest.join_docs(*docs)


class BackendTls(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        backend_port = mgtest.free_port(f"{NET}.2")
        pki = c.config_dir("pki")
        cls.pems = make_pki(pki)
        cls.backend = TlsBackend(f"{NET}.2", backend_port, str(pki / "leaf.crt"), str(pki / "leaf.key"))
        c.captures.append(cls.backend)
        # Listens but never accepts: the kernel completes the TCP handshake, nobody answers the ClientHello.
        silent_port = mgtest.free_port(f"{NET}.4")
        cls.silent = socket.socket()
        cls.silent.bind((f"{NET}.4", silent_port))
        cls.silent.listen(16)
        h2_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        h2_context.load_cert_chain(str(pki / "leaf.crt"), str(pki / "leaf.key"))
        h2_context.set_alpn_protocols(["h2"])
        TlsH2Backend.context = h2_context
        h2_port = mgtest.free_port(f"{NET}.5")
        cls.h2 = TlsH2Backend(f"{NET}.5", h2_port)
        c.captures.append(cls.h2)
        cls.dir = c.config_dir()
        (cls.dir / "config.yaml").write_text(config(cls.gw_ip, cls.gw_port, backend_port, cls.pems, silent_port, h2_port))
        (cls.dir / "fixable-ca.yaml").write_text(config_map_yaml("ca-fixable", cls.pems["ca2"]))
        cls.v1 = c.echo(V1, f"{NET}.3")
        cls.gw = c.gateway(cls.dir, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.2", "--connect-timeout", "1"])
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.silent.close()

    def get(self, path: str, **kw) -> mgtest.Response:
        return mgtest.get(self.gw_ip, self.gw_port, path, **kw)

    def tls_errors(self, reason: str) -> float:
        return self.gw.metrics().get("mirrorgate_upstream_tls_errors_total", reason=reason)

    def policy_status(self, name: str) -> list[dict]:
        items = [i for i in self.gw.admin("/status").json()["items"]
                 if i["kind"] == "BackendTLSPolicy" and i["metadata"]["name"] == name]
        self.assertEqual(len(items), 1, items)
        return items[0]["status"]["ancestors"]

    def conditions(self, name: str) -> dict[str, tuple[str, str]]:
        ancestors = self.policy_status(name)
        self.assertEqual(len(ancestors), 1, ancestors)
        self.assertEqual(ancestors[0]["ancestorRef"]["name"], "btls-gateway")
        return {c["type"]: (c["status"], c["reason"]) for c in ancestors[0]["conditions"]}

    def test_good_ca_reaches_the_backend_over_tls_with_sni(self):
        r = self.get("/good/one")
        self.assertEqual(r.status, 200, r)
        seen = r.json()
        self.assertEqual(seen["sni"], NAME)
        self.assertEqual(seen["path"], "/good/one")
        self.assertGreaterEqual(self.gw.metrics().get("mirrorgate_upstream_tls_connections_total"), 1)
        self.assertEqual(self.conditions("good"), {"Accepted": ("True", "Accepted"),
                                                   "ResolvedRefs": ("True", "ResolvedRefs")})
        # Kept alive: a second request rides a pooled TLS connection.
        self.assertEqual(self.get("/good/two").status, 200)

    def test_wrong_ca_is_a_502_counted_as_untrusted(self):
        before = self.tls_errors("certificate_untrusted")
        r = self.get("/wrong-ca/x")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(self.backend.seen("/wrong-ca/x"), [])
        self.assertGreater(self.tls_errors("certificate_untrusted"), before)

    def test_hostname_mismatch_is_a_502_counted_as_name_mismatch(self):
        before = self.tls_errors("name_mismatch")
        r = self.get("/wrong-name/x")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(self.backend.seen("/wrong-name/x"), [])
        self.assertGreater(self.tls_errors("name_mismatch"), before)

    def test_silent_backend_is_a_502_counted_as_handshake_timeout(self):
        before = self.tls_errors("handshake_timeout")
        start = time.monotonic()
        r = self.get("/silent/x")
        self.assertEqual(r.status, 502, r)
        self.assertLess(time.monotonic() - start, 4.0)
        self.assertGreater(self.tls_errors("handshake_timeout"), before)

    def test_h2c_port_under_a_policy_speaks_http2_over_tls(self):
        r = self.get("/h2tls/one")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"raw /h2tls/one")
        self.assertIn("h2", self.h2.alpns)
        self.assertEqual(self.get("/h2tls/two").body, b"raw /h2tls/two")  # the same HTTP/2 connection

    def test_uri_subject_alt_name_is_verified(self):
        r = self.get("/san-uri/x")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sni"], NAME)

    def test_missing_ca_config_map_is_a_500_with_conditions(self):
        r = self.get("/missing/x")
        self.assertEqual(r.status, 500, r)
        self.assertEqual(self.conditions("missing"), {"Accepted": ("False", "NoValidCACertificate"),
                                                      "ResolvedRefs": ("False", "InvalidCACertificateRef")})
        routes = [i for i in self.gw.admin("/status").json()["items"]
                  if i["kind"] == "HTTPRoute" and i["metadata"]["name"] == "tls-missing"]
        refs = next(c for c in routes[0]["status"]["parents"][0]["conditions"] if c["type"] == "ResolvedRefs")
        self.assertEqual((refs["status"], refs["reason"]), ("False", "InvalidBackendTLSPolicy"))

    def test_older_policy_wins_a_conflict(self):
        self.assertEqual(self.get("/conflict/x").status, 200)
        self.assertEqual(self.conditions("conflict-first")["Accepted"], ("True", "Accepted"))
        self.assertEqual(self.conditions("conflict-second")["Accepted"], ("False", "Conflicted"))

    def test_mirror_copies_to_a_tls_service_go_over_tls(self):
        r = self.get("/mirrored/copy")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pod"], V1)
        copies = wait_for(lambda: self.backend.seen("/mirrored/copy"), 10, "the mirror copy at the TLS backend")
        self.assertEqual(copies[0]["sni"], NAME)
        self.assertIsNotNone(copies[0]["mirror"])

    def test_zz_fixed_ca_config_map_applies_on_reload(self):
        # Runs last (name order): it changes the config.
        self.assertEqual(self.get("/fixable/before").status, 502)
        (self.dir / "fixable-ca.yaml").write_text(config_map_yaml("ca-fixable", self.pems["ca1"]))
        wait_for(lambda: self.get("/fixable/after").status == 200, 15, "the fixed CA to apply")
        self.assertEqual(self.gw.admin("/status").json()["lastReloadError"], "")


if __name__ == "__main__":
    mgtest.main()
