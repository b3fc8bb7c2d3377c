"""Client certificate validation (Gateway spec.tls.frontend, Gateway API v1.5+): the HTTPS listeners of a
Gateway ask for a client certificate and accept only one that leads to the CA of a ConfigMap (key ca.crt);
a perPort entry lets one port take clients without a certificate or with one that fails validation
(AllowInsecureFallback). A second Gateway names a ConfigMap that does not exist: its listener is reported
(InvalidCACertificateRef, not Accepted: NoValidCACertificate) and not served, and the first Gateway is
unaffected. CA, server and client certificates are made here with openssl.
Loopback block 127.0.54.0/24: gateway .1 (first Gateway and admin), .3 (second Gateway), echo pod .2."""

import base64
import subprocess

import mgtest
from mgtest import wait_for

NET = "127.0.54"
HOST = "mtls.example.com"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.splitlines())


def gateway_yaml(name: str, ip: str, ports: list[int], ca_map: str, fallback_port: int | None) -> str:
    listeners = "".join(f"""  - name: https-{i}
    protocol: HTTPS
    port: {port}
    tls:
      certificateRefs:
      - name: mtls-server
""" for i, port in enumerate(ports))
    per_port = f"""      perPort:
      - port: {fallback_port}
        tls:
          validation:
            mode: AllowInsecureFallback
            caCertificateRefs:
            - {{group: "", kind: ConfigMap, name: {ca_map}}}
""" if fallback_port else ""
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: {name}
  namespace: default
spec:
  gatewayClassName: mirrorgate
  addresses:
  - type: IPAddress
    value: {ip}
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs:
          - group: ""
            kind: ConfigMap
            name: {ca_map}
{per_port}  listeners:
{listeners}"""


class TlsClientCertificates(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.other_ip = f"{NET}.1", f"{NET}.3"
        cls.strict_port, cls.fallback_port = mgtest.free_port(cls.gw_ip), mgtest.free_port(cls.gw_ip)
        cls.broken_port = mgtest.free_port(cls.other_ip)
        d = cls.dir = c.config_dir("pki")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=test client CA", "-keyout", str(d / "ca.key"),
                "-out", str(d / "ca.crt"))
        openssl("req", "-new", *ec, "-subj", "/CN=client", "-keyout", str(d / "client.key"),
                "-out", str(d / "client.csr"))
        openssl("x509", "-req", "-in", str(d / "client.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-out", str(d / "client.crt"))
        openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=stranger", "-keyout", str(d / "stranger.key"),
                "-out", str(d / "stranger.crt"))
        openssl("req", "-x509", *ec, "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
                "-keyout", str(d / "server.key"), "-out", str(d / "server.crt"))
        b64 = lambda p: base64.b64encode((d / p).read_bytes()).decode()  # noqa: E731
        config = c.config_dir() / "mtls.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            gateway_yaml("mtls", cls.gw_ip, [cls.strict_port, cls.fallback_port], "client-ca", cls.fallback_port),
            gateway_yaml("mtls-broken", cls.other_ip, [cls.broken_port], "no-such-ca", None),
            f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: client-ca
  namespace: default
data:
  ca.crt: |
{indent((d / "ca.crt").read_text(), 4)}""",
            f"""apiVersion: v1
kind: Secret
metadata:
  name: mtls-server
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: {b64("server.crt")}
  tls.key: {b64("server.key")}
""",
            *(mgtest.route_yaml(f"r-{g}", g, "/", "infra-backend-v1").replace("    sectionName: http\n", "")
              for g in ("mtls", "mtls-broken")),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", "infra-backend-v1-7d9c6b5f4-c1e2a", True)]),
        ))
        cls.v1 = c.echo("infra-backend-v1-7d9c6b5f4-c1e2a", f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.gw.wait_ready()
        for port in (cls.strict_port, cls.fallback_port):
            wait_for(lambda: mgtest.port_open(cls.gw_ip, port), 10, f"the HTTPS listener on {port}",)

    def request(self, port: int, *args: str) -> str:
        req = f"GET /mtls HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        out = subprocess.run(["openssl", "s_client", "-connect", f"{self.gw_ip}:{port}", "-servername", HOST,
                              "-ign_eof", *args], input=req.encode(), capture_output=True, timeout=20)
        return out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")

    def client(self, name: str) -> list[str]:
        return ["-cert", str(self.dir / f"{name}.crt"), "-key", str(self.dir / f"{name}.key")]

    def test_client_with_a_certificate_from_the_ca_is_served(self):
        for version in ("-tls1_2", "-tls1_3"):
            out = self.request(self.strict_port, version, *self.client("client"))
            self.assertIn("HTTP/1.1 200", out, out[-1500:])
            self.assertIn("Acceptable client certificate CA names", out)

    def test_client_without_a_certificate_is_refused(self):
        for version in ("-tls1_2", "-tls1_3"):
            out = self.request(self.strict_port, version)
            self.assertNotIn("HTTP/1.1 200", out)
            self.assertIn("alert", out)

    def test_client_with_a_certificate_from_another_ca_is_refused(self):
        out = self.request(self.strict_port, *self.client("stranger"))
        self.assertNotIn("HTTP/1.1 200", out)
        self.assertIn("alert", out)

    def test_per_port_fallback_lets_clients_without_a_valid_certificate_in(self):
        # AllowInsecureFallback: "accept connections even if the client certificate is not presented or
        # fails verification" (Gateway API); the CA is still asked for.
        self.assertIn("HTTP/1.1 200", self.request(self.fallback_port))
        self.assertIn("HTTP/1.1 200", self.request(self.fallback_port, *self.client("client")))
        out = self.request(self.fallback_port, *self.client("stranger"))
        self.assertIn("HTTP/1.1 200", out, out[-1500:])
        self.assertIn("Acceptable client certificate CA names", out)

    def test_missing_ca_config_map_is_reported_and_not_served(self):
        items = self.gw.admin("/status").json()["items"]
        gw = next(i for i in items if i["kind"] == "Gateway" and i["metadata"]["name"] == "mtls-broken")
        conds = {c["type"]: c for c in gw["status"]["listeners"][0]["conditions"]}
        self.assertEqual(conds["ResolvedRefs"]["status"], "False")
        self.assertEqual(conds["ResolvedRefs"]["reason"], "InvalidCACertificateRef")
        self.assertIn("no-such-ca", conds["ResolvedRefs"]["message"])
        self.assertEqual((conds["Accepted"]["status"], conds["Accepted"]["reason"]), ("False", "NoValidCACertificate"))
        self.assertEqual(conds["Programmed"]["status"], "False")
        self.assertFalse(mgtest.port_open(self.other_ip, self.broken_port))
        good = next(i for i in items if i["kind"] == "Gateway" and i["metadata"]["name"] == "mtls")
        for listener in good["status"]["listeners"]:
            self.assertEqual({c["type"]: c["status"] for c in listener["conditions"]}["ResolvedRefs"], "True")

    def test_fallback_is_flagged_on_the_gateway(self):
        items = self.gw.admin("/status").json()["items"]
        conds = {i["metadata"]["name"]: {c["type"]: c for c in i["status"]["conditions"]}
                 for i in items if i["kind"] == "Gateway"}
        insecure = conds["mtls"]["InsecureFrontendValidationMode"]
        self.assertEqual((insecure["status"], insecure["reason"]), ("True", "ConfigurationChanged"))
        self.assertNotIn("InsecureFrontendValidationMode", conds["mtls-broken"])


if __name__ == "__main__":
    mgtest.main()
