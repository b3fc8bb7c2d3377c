"""421 Misdirected Request: on one HTTPS port with several listener sections, a request whose Host belongs
to another section than the one the connection's SNI chose gets 421 (RFC 9110 section 15.5.20).

The Gateway and the rows (SNI, Host, status) are conformance HTTPRouteHTTPSListenerDetectMisdirectedRequests',
sent here over HTTP/1.1 (the suite sends them over HTTP/2, which this build does not speak yet; the check
sits where the request picks its listener, so it is the same for both).
Loopback block 127.0.53.0/24: gateway .1, echo pod .2."""

import http.client
import socket
import ssl
import subprocess

import mgtest

NET = "127.0.53"
SECTIONS = {  # section -> (hostname, route hostnames)
    "https": (None, ["example.org"]),
    "https-with-hostname": ("second-example.org", []),
    "https-with-wildcard-hostname": ("*.wildcard.org", []),
    "https-with-hostname-matching-wildcard": ("fourth-example.wildcard.org", []),
}
ROWS = [  # SNI, Host, status
    ("example.org", "example.org", 200),
    ("example.org", "second-example.org", 421),
    ("example.org", "unknown-example.org", 404),
    ("second-example.org", "second-example.org", 200),
    ("second-example.org", "example.org", 421),
    ("second-example.org", "unknown-example.org", 421),
    ("third-example.wildcard.org", "third-example.wildcard.org", 200),
    ("third-example.wildcard.org", "fith-example.wildcard.org", 200),
    ("third-example.wildcard.org", "fourth-example.wildcard.org", 421),
    ("third-example.wildcard.org", "second-example.org", 421),
    ("third-example.wildcard.org", "unknown-example.org", 421),
    ("fourth-example.wildcard.org", "fourth-example.wildcard.org", 200),
    ("fourth-example.wildcard.org", "fith-example.wildcard.org", 421),
    ("unknown-example.org", "example.org", 200),
    ("unknown-example.org", "unknown-example.org", 404),
]


def gateway_yaml(ip: str, port: int) -> str:
    listeners = ""
    for name, (hostname, _) in SECTIONS.items():
        listeners += f"""  - name: {name}
    protocol: HTTPS
    port: {port}
{f'    hostname: "{hostname}"' + chr(10) if hostname else ''}    tls:
      certificateRefs:
      - name: misdirected-cert
"""
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: misdirected
  namespace: default
spec:
  gatewayClassName: mirrorgate
  addresses:
  - type: IPAddress
    value: {ip}
  listeners:
{listeners}"""


def routes_yaml() -> list[str]:
    docs = []
    for name, (_, hostnames) in SECTIONS.items():
        hosts = "".join(f"  - {h}\n" for h in hostnames)
        docs.append(f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {name}
  namespace: default
spec:
  parentRefs:
  - name: misdirected
    sectionName: {name}
{"  hostnames:" + chr(10) + hosts if hosts else ""}  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /detect-misdirected-requests
    backendRefs:
    - name: infra-backend-v1
      port: 8080
""")
    return docs


class TlsMisdirected(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.1"
        cls.port = mgtest.free_port(cls.gw_ip)
        d = c.config_dir("certs")
        names = ["example.org", "*.example.org", "*.wildcard.org", "second-example.org", "unknown-example.org"]
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=example.org",
                        "-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in names),
                        "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem")], check=True, capture_output=True)
        cls.crt = (d / "c.pem").read_text()
        secret = f"""apiVersion: v1
kind: Secret
metadata:
  name: misdirected-cert
  namespace: default
type: kubernetes.io/tls
stringData:
  tls.crt: |
{"".join("    " + line + chr(10) for line in cls.crt.splitlines())}  tls.key: |
{"".join("    " + line + chr(10) for line in (d / "k.pem").read_text().splitlines())}"""
        config = c.config_dir() / "tls.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(), gateway_yaml(cls.gw_ip, cls.port), secret, *routes_yaml(),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", "infra-backend-v1-7d9c6b5f4-m1s2a", True)]),
        ))
        cls.v1 = c.echo("infra-backend-v1-7d9c6b5f4-m1s2a", f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.gw.wait_ready()
        mgtest.wait_for(lambda: mgtest.port_open(cls.gw_ip, cls.port), 10, "the HTTPS listener")

    def get(self, sni: str | None, host: str, conn: http.client.HTTPConnection | None = None):
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(self.gw_ip, self.port, timeout=5)
            raw = socket.create_connection((self.gw_ip, self.port), timeout=5)
            ctx = ssl.create_default_context(cadata=self.crt)
            ctx.check_hostname = False
            conn.sock = ctx.wrap_socket(raw, server_hostname=sni)
        try:
            conn.request("GET", "/detect-misdirected-requests", headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            if own:
                conn.close()

    def test_conformance_rows_over_http11(self):
        for sni, host, status in ROWS:
            with self.subTest(sni=sni, host=host):
                got, body = self.get(sni, host)
                self.assertEqual(got, status, body)

    def test_misdirected_request_keeps_the_connection_for_its_own_hosts(self):
        conn = http.client.HTTPConnection(self.gw_ip, self.port, timeout=5)
        raw = socket.create_connection((self.gw_ip, self.port), timeout=5)
        ctx = ssl.create_default_context(cadata=self.crt)
        ctx.check_hostname = False
        conn.sock = ctx.wrap_socket(raw, server_hostname="second-example.org")
        try:
            self.assertEqual(self.get(None, "example.org", conn)[0], 421)
            self.assertEqual(self.get(None, "second-example.org", conn)[0], 200)
        finally:
            conn.close()

    def test_no_sni_is_never_misdirected(self):
        self.assertEqual(self.get(None, "second-example.org")[0], 200)


if __name__ == "__main__":
    mgtest.main()
