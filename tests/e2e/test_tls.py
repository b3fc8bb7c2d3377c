"""HTTPS listeners: TLS termination with certificates from kubernetes.io/tls Secrets, chosen by SNI.

Two HTTPS sections of one Gateway share a port, each with its own self-signed certificate (made
here with openssl); an HTTP listener of the same Gateway serves another port. The route mirrors
every request, so a mirrored request over TLS is checked too.
Loopback block 127.0.25.0/24: gateway .1, v1 echo pod .2, v2 (mirror) echo pod .3."""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import time

import mgtest
import wsframes
from mgtest import unique_id, wait_for

NET = "127.0.25"
HOSTS = ("a.example.com", "b.example.com")


def make_certificate(directory, host: str) -> tuple[str, str]:
    key, crt = directory / f"{host}.key", directory / f"{host}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt.read_text(), key.read_text()


def secret_yaml(name: str, crt: str, key: str) -> str:
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return f"""apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: {b64(crt)}
  tls.key: {b64(key)}
"""


def gateway_yaml(ip: str, tls_port: int, http_port: int) -> str:
    sections = "".join(f"""  - name: https-{h[0]}
    protocol: HTTPS
    port: {tls_port}
    hostname: {h}
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        name: cert-{h[0]}
""" for h in HOSTS)
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tls-gateway
  namespace: default
spec:
  gatewayClassName: mirrorgate
  addresses:
  - type: IPAddress
    value: {ip}
  listeners:
{sections}  - name: http
    protocol: HTTP
    port: {http_port}
"""


ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: tls
  namespace: default
spec:
  parentRefs:
  - name: tls-gateway
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"""


class TlsConnection(http.client.HTTPConnection):
    """HTTPS to an IP address with a chosen SNI, trusting the given certificates only."""

    def __init__(self, ip: str, port: int, server_name: str, trusted: str, timeout: float = 5.0):
        super().__init__(ip, port, timeout=timeout)
        self.server_name, self.trusted = server_name, trusted

    def connect(self):
        super().connect()
        ctx = ssl.create_default_context(cadata=self.trusted)
        ctx.set_alpn_protocols(["http/1.1"])  # http.client speaks HTTP/1.1 only (h2: test_http2.py)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.server_name)


class Tls(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.1"
        cls.tls_port, cls.http_port = mgtest.free_port(cls.gw_ip), mgtest.free_port(cls.gw_ip)
        cls.certs = {h: make_certificate(c.config_dir("certs"), h) for h in HOSTS}
        cls.trusted = "".join(crt for crt, _ in cls.certs.values())
        cls.config = c.config_dir() / "tls.yaml"
        cls.write_config()
        cls.v1 = c.echo("infra-backend-v1-7d9c6b5f4-t1s2a", f"{NET}.2")
        cls.v2 = c.echo("infra-backend-v2-5d4f8b7c9d-t1s2b", f"{NET}.3")
        cls.gw = c.gateway(cls.config, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.1"])
        cls.v1.wait_ready()
        cls.v2.wait_ready()
        cls.gw.wait_ready()

    @classmethod
    def write_config(cls):
        tmp = cls.config.with_suffix(".tmp")  # write then rename: the watcher never sees half a file
        tmp.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            gateway_yaml(cls.gw_ip, cls.tls_port, cls.http_port),
            *(secret_yaml(f"cert-{h[0]}", *cls.certs[h]) for h in HOSTS),
            ROUTE,
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("infra-backend-v2"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", "infra-backend-v1-7d9c6b5f4-t1s2a", True)]),
            mgtest.endpointslice_yaml("infra-backend-v2", [(f"{NET}.3", "infra-backend-v2-5d4f8b7c9d-t1s2b", True)]),
        ))
        tmp.rename(cls.config)

    def test_websocket_tunnel_over_tls(self):
        ctx = ssl.create_default_context(cadata=self.trusted)
        ctx.set_alpn_protocols(["http/1.1"])
        host = HOSTS[0]
        with wsframes.WebSocket.connect(self.gw_ip, self.tls_port, "/ws", host=host,
                                        wrap=lambda s: ctx.wrap_socket(s, server_hostname=host)) as ws:
            big = os.urandom(300_000)  # many TLS records each way, read and written at once by the tunnel
            ws.send(wsframes.BINARY, big)
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, big))
            ws.send(wsframes.CLOSE, b"\x03\xe8")
            self.assertEqual(ws.recv_frame(), (wsframes.CLOSE, True, b"\x03\xe8"))

    def served_certificate(self, host: str) -> bytes:
        ctx = ssl.create_default_context(cadata=self.trusted)
        with socket.create_connection((self.gw_ip, self.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                return s.getpeercert(binary_form=True)

    def https_get(self, host: str, path: str) -> tuple[http.client.HTTPResponse, bytes, dict]:
        conn = TlsConnection(self.gw_ip, self.tls_port, host, self.trusted)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            body = resp.read()
            return resp, body, conn.sock.getpeercert()
        finally:
            conn.close()

    def test_certificate_is_chosen_by_sni(self):
        for host in HOSTS:
            _, _, cert = self.https_get(host, "/sni")
            self.assertIn(("DNS", host), cert["subjectAltName"], host)

    def test_request_over_tls_reaches_backend_with_forwarded_proto_https(self):
        path = f"/tls/get?e2e-request={unique_id()}"
        resp, body, _ = self.https_get(HOSTS[0], path)
        self.assertEqual(resp.status, 200, body)
        echo = json.loads(body)
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["path"], path)
        self.assertEqual(echo["headers"].get("X-Forwarded-Proto"), ["https"], echo)

    def test_mirrored_request_over_tls_is_mirrored(self):
        path = f"/tls/mirror?e2e-request={unique_id()}"
        resp, body, _ = self.https_get(HOSTS[1], path)
        self.assertEqual(resp.status, 200, body)
        wait_for(lambda: self.v2.has_echoed(path), 10, f"the mirrored copy of {path} at infra-backend-v2")

    def test_garbage_instead_of_client_hello_is_closed_and_gateway_keeps_serving(self):
        with socket.create_connection((self.gw_ip, self.tls_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
            deadline = time.monotonic() + 5
            closed = False
            while time.monotonic() < deadline:
                try:
                    if not s.recv(4096):  # a TLS alert may come first; then the close
                        closed = True
                        break
                except ConnectionResetError:
                    closed = True
                    break
            self.assertTrue(closed, "the gateway kept a non-TLS client open")
        wait_for(lambda: self.gw.metrics().get("mirrorgate_tls_handshake_failures_total") >= 1, 5,
                 "a counted handshake failure")
        resp, _, _ = self.https_get(HOSTS[0], "/after-garbage")
        self.assertEqual(resp.status, 200)

    def test_http_listener_on_another_port_still_works(self):
        path = f"/plain?e2e-request={unique_id()}"
        r = mgtest.get(self.gw_ip, self.http_port, path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["headers"].get("X-Forwarded-Proto"), ["http"])

    def test_status_reports_https_listeners_programmed(self):
        items = self.gw.admin("/status").json()["items"]
        gw = next(i for i in items if i["kind"] == "Gateway" and i["metadata"]["name"] == "tls-gateway")
        for listener in gw["status"]["listeners"]:
            conds = {c["type"]: c["status"] for c in listener["conditions"]}
            self.assertEqual(conds["Programmed"], "True", listener)
            self.assertEqual(conds["ResolvedRefs"], "True", listener)

    def test_closing_connection_ends_with_close_notify(self):
        ctx = ssl.create_default_context(cadata=self.trusted)
        with socket.create_connection((self.gw_ip, self.tls_port), timeout=5) as raw:
            # suppress_ragged_eofs=False: a close without close_notify raises SSLEOFError.
            with ctx.wrap_socket(raw, server_hostname=HOSTS[0], suppress_ragged_eofs=False) as s:
                s.sendall(f"GET /close HTTP/1.0\r\nHost: {HOSTS[0]}\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])

    def test_reload_serves_a_rotated_certificate_to_new_connections(self):
        crt, key = make_certificate(self.cluster.config_dir("rotated"), HOSTS[0])
        type(self).trusted += crt  # the old one stays trusted for the other tests
        self.certs[HOSTS[0]] = (crt, key)
        self.write_config()
        wait_for(lambda: self.served_certificate(HOSTS[0]) == ssl.PEM_cert_to_DER_cert(crt), 10,
                 "the rotated certificate served after the reload")
        resp, _, _ = self.https_get(HOSTS[0], "/after-rotation")
        self.assertEqual(resp.status, 200)

    def test_config_dump_shows_certificates_but_no_keys(self):
        dump = self.gw.admin("/config_dump").json()
        https = next(l for l in dump["listeners"] if l["port"] == self.tls_port)
        self.assertEqual(https["protocol"], "HTTPS")
        self.assertEqual([c["hostname"] for c in https["certificates"]], list(HOSTS))
        self.assertNotIn("PRIVATE KEY", self.gw.admin("/config_dump").body.decode())


if __name__ == "__main__":
    mgtest.main()
