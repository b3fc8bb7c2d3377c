"""TLS Passthrough (a TLS listener in mode Passthrough, TLSRoutes): the gateway never opens the client's
TLS. Two HTTPS backends the test runs (Python's ssl module, each with a certificate of its own name) sit
behind one passthrough listener; a client's SNI picks the TLSRoute, the client verifies the backend's own
certificate (not one of the gateway's), and bytes go both ways unchanged: a 4 MiB upload is hashed by the
backend, a 4 MiB answer by the client. A ClientHello sent a byte at a time is still routed. An SNI no route
names, a client that speaks plain HTTP, and one that says nothing until the header timeout are closed,
counted in mirrorgate_tls_passthrough_refused_total and logged with the reason; a route whose backend has
no endpoint closes the connection too. Each relayed connection is one access-log line with its server
name, backend and bytes. On SIGTERM an open passthrough connection counts as a request in flight: it goes
on until --drain-timeout, then closes with the gateway.

Loopback block 127.0.154.0/24: gateway .1, backend a .2, backend b .3, the drained gateway .4."""

import hashlib
import http.server
import json
import signal
import socket
import ssl
import subprocess
import threading
import time

import mgtest
from mgtest import wait_for

NET = "127.0.154"
BIG = 4 * 1024 * 1024


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class HashingTlsBackend:
    """An HTTPS server: POST answers with the size and SHA-256 of the body it read; GET /big answers BIG
    bytes of a fixed pattern; every answer names the backend."""

    def __init__(self, name: str, ip: str, port: int, cert: str, key: str):
        self.ip, self.port, self.errors, self.requests = ip, port, [], []  # as Cluster.dump reads a capture
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Backend", name)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - the http.server spelling
                self.answer(pattern(BIG) if self.path == "/big" else json.dumps({"backend": name}).encode())

            def do_POST(self):  # noqa: N802
                left, digest = int(self.headers.get("Content-Length", "0")), hashlib.sha256()
                size = left
                while left:
                    chunk = self.rfile.read(min(left, 65536))
                    if not chunk:
                        break
                    digest.update(chunk)
                    left -= len(chunk)
                self.answer(json.dumps({"backend": name, "size": size - left, "sha256": digest.hexdigest()}).encode())

            def log_message(self, *args):
                pass

        self.server = mgtest.https_server(ip, port, ctx, Handler)

    def close(self, join_timeout: float = 2.0):
        self.server.shutdown()
        self.server.server_close()


def pattern(n: int) -> bytes:
    block = bytes(range(256)) * 4
    return (block * (n // len(block) + 1))[:n]


def services(port: int) -> str:
    out = ""
    for svc, ip in (("tls-a", f"{NET}.2"), ("tls-b", f"{NET}.3"), ("tls-empty", None)):
        out += f"""---
apiVersion: v1
kind: Service
metadata: {{name: {svc}, namespace: default}}
spec: {{ports: [{{port: 443, targetPort: {port}}}]}}
"""
        if ip:
            out += f"""---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {svc}-1, namespace: default, labels: {{kubernetes.io/service-name: {svc}}}}}
addressType: IPv4
endpoints: [{{addresses: [{ip}]}}]
ports: [{{port: {port}}}]
"""
    return out


def tls_route(name: str, hostname: str, service: str) -> str:
    return f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {{name: {name}, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: tls}}]
  hostnames: [{hostname}]
  rules: [{{backendRefs: [{{name: {service}, port: 443}}]}}]
"""


class TlsPassthrough(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        d = c.config_dir("pki")
        cls.certs = {}
        for name in ("a", "b"):
            host = f"{name}.passthrough.test"
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                    "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.crt"))
            cls.certs[name] = str(d / f"{name}.crt")
        backend_port = mgtest.free_port(f"{NET}.2")
        cls.backends = [HashingTlsBackend(n, f"{NET}.{i}", backend_port, str(d / f"{n}.crt"), str(d / f"{n}.key"))
                        for n, i in (("a", 2), ("b", 3))]
        c.captures.extend(cls.backends)  # closed with the cluster
        cls.backend_port = backend_port
        cls.gw_ip = f"{NET}.1"
        cls.port = mgtest.free_port(cls.gw_ip)
        config = c.config_dir()
        (config / "gw.yaml").write_text(cls.config(cls.gw_ip, cls.port))
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, extra_args=["--header-timeout", "2"])
        cls.gw.wait_ready()

    @classmethod
    def config(cls, ip: str, port: int) -> str:
        return (
            mgtest.gatewayclass_yaml() + f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: {ip}}}]
  listeners:
  - {{name: tls, port: {port}, protocol: TLS, hostname: "*.passthrough.test", tls: {{mode: Passthrough}}}}
""" + services(cls.backend_port) + tls_route("route-a", "a.passthrough.test", "tls-a") +
            tls_route("route-b", "b.passthrough.test", "tls-b") + tls_route("route-empty", "empty.passthrough.test",
                                                                          "tls-empty"))

    def connect(self, server_name: str, verify_with: str | None = None, address=None) -> ssl.SSLSocket:
        ctx = ssl.create_default_context(cafile=verify_with) if verify_with else ssl._create_unverified_context()
        raw = socket.create_connection(address or (self.gw_ip, self.port), timeout=10)
        return ctx.wrap_socket(raw, server_hostname=server_name)

    def request(self, tls: ssl.SSLSocket, head: str, body: bytes = b"") -> tuple[dict, bytes]:
        tls.sendall(head.encode() + body)
        f = tls.makefile("rb")
        status = f.readline()
        self.assertIn(b" 200 ", status)
        headers = {}
        while (line := f.readline()) not in (b"\r\n", b""):
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return headers, f.read(int(headers["content-length"]))

    def refused(self) -> float:
        return self.gw.metrics().get("mirrorgate_tls_passthrough_refused_total")

    def test_sni_picks_the_backend_whose_own_certificate_the_client_verifies(self):
        for name in ("a", "b"):
            with self.connect(f"{name}.passthrough.test", verify_with=self.certs[name]) as tls:
                self.assertEqual(tls.getpeercert()["subject"][0][0][1], f"{name}.passthrough.test")
                headers, body = self.request(tls, f"GET /who HTTP/1.1\r\nHost: {name}.passthrough.test\r\n\r\n")
                self.assertEqual(json.loads(body), {"backend": name})
        # The gateway has no certificate of its own here: a's name with b's certificate fails to verify.
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.connect("a.passthrough.test", verify_with=self.certs["b"])

    def test_bytes_go_both_ways_unchanged(self):
        upload = pattern(BIG)[::-1]
        with self.connect("a.passthrough.test", verify_with=self.certs["a"]) as tls:
            _, body = self.request(tls, f"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: {len(upload)}\r\n\r\n", upload)
            self.assertEqual(json.loads(body), {"backend": "a", "size": BIG, "sha256": hashlib.sha256(upload).hexdigest()})
            _, big = self.request(tls, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")  # same connection
            self.assertEqual(hashlib.sha256(big).hexdigest(), hashlib.sha256(pattern(BIG)).hexdigest())

    def test_a_client_hello_sent_a_byte_at_a_time_is_routed(self):
        ctx = ssl.create_default_context(cafile=self.certs["b"])
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname="b.passthrough.test")
        with self.assertRaises(ssl.SSLWantReadError):
            tls.do_handshake()
        hello = outgoing.read()
        with socket.create_connection((self.gw_ip, self.port), timeout=10) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(hello)):
                raw.sendall(hello[i:i + 1])
                time.sleep(0.001)
            while True:  # finish the handshake over the memory BIOs
                data = raw.recv(65536)
                self.assertTrue(data, "the gateway closed the connection")
                incoming.write(data)
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    if outgoing.pending:
                        raw.sendall(outgoing.read())
            raw.sendall(outgoing.read())
            self.assertEqual(tls.getpeercert()["subject"][0][0][1], "b.passthrough.test")

    def test_connections_no_route_can_take_are_closed_counted_and_logged(self):
        before = self.refused()
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            self.connect("nobody.passthrough.test")
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            self.connect("empty.passthrough.test")  # its Service has no endpoint
        with socket.create_connection((self.gw_ip, self.port), timeout=10) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: a.passthrough.test\r\n\r\n")
            self.assertEqual(raw.recv(1024), b"")  # closed, nothing answered
        started = time.monotonic()
        with socket.create_connection((self.gw_ip, self.port), timeout=10) as raw:
            self.assertEqual(raw.recv(1024), b"")  # silent: cut off at --header-timeout (2 s)
        self.assertLess(time.monotonic() - started, 6)
        wait_for(lambda: self.refused() >= before + 4, 5, "four refused connections counted")
        errors = [e.get("error", "") for e in self.gw.access_log() if e.get("protocol") == "TLS"]
        for reason in ('no TLSRoute for server name "nobody.passthrough.test"', "no healthy upstream",
                       "not a TLS ClientHello", "no TLS ClientHello in time"):
            self.assertTrue(any(reason in e for e in errors), f"{reason!r} not among {errors}")

    def test_each_relayed_connection_is_one_access_log_line(self):
        with self.connect("b.passthrough.test", verify_with=self.certs["b"]) as tls:
            self.request(tls, "GET /logged HTTP/1.1\r\nHost: b\r\n\r\n")
        def line():
            for e in self.gw.access_log():
                if e.get("protocol") == "TLS" and e.get("route") == "default/route-b" and e.get("bytes", 0) > 0:
                    return e
            return None
        entry = wait_for(line, 5, "the access-log line of a relayed connection")
        self.assertEqual(entry["host"], "b.passthrough.test")
        self.assertEqual(entry["backend"], "default/tls-b:443")
        self.assertTrue(entry["upstream_host"].startswith(f"{NET}.3:"))
        self.assertGreater(entry["request_bytes"], 0)
        self.assertGreaterEqual(self.gw.metrics().get("mirrorgate_tls_passthrough_connections_total"), 1)

    def test_sigterm_lets_an_open_connection_go_on_until_the_drain_timeout(self):
        ip = f"{NET}.4"
        port = mgtest.free_port(ip)
        config = self.cluster.config_dir("drain")
        (config / "gw.yaml").write_text(self.config(ip, port))
        gw = self.cluster.gateway(config, admin_ip=ip, name="mirrorgate-drain", extra_args=["--drain-timeout", "1"])
        gw.wait_ready()
        with self.connect("a.passthrough.test", verify_with=self.certs["a"], address=(ip, port)) as tls:
            self.request(tls, "GET /before HTTP/1.1\r\nHost: a\r\n\r\n")
            started = time.monotonic()
            gw.signal(signal.SIGTERM)
            # A connection in flight: it still works during the drain...
            _, body = self.request(tls, "GET /during HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(json.loads(body), {"backend": "a"})
            # ...and is closed when the drain timeout ends, with the gateway.
            tls.settimeout(10)
            try:
                rest = tls.recv(10)
            except (ConnectionResetError, ssl.SSLError):
                rest = b""
            self.assertEqual(rest, b"")
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
            self.assertEqual(gw.wait(10), 0)


if __name__ == "__main__":
    mgtest.main()
