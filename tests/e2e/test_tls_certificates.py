"""HTTPS listeners serve every certificateRefs entry and resume sessions with tickets.

One section for multi.example.com references two Secrets, an RSA and an ECDSA certificate for the same
name (made here with openssl); `openssl s_client` picks one by its signature algorithms (TLS 1.3) or
its cipher suite (TLS 1.2) and we check which came back. Session tickets: `-sess_out` then `-sess_in`
says Reused, for TLS 1.2 and 1.3, with the gateway running two workers. A section on another port whose
Secret has no key is reported and does not stop the others.
Loopback block 127.0.52.0/24: gateway .1, echo pod .2."""

import base64
import socket
import subprocess
import time

import mgtest
from mgtest import wait_for

NET = "127.0.52"
HOST = "multi.example.com"


def make_certificate(directory, name: str, key_spec: list[str]) -> tuple[str, str]:
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", *key_spec, "-nodes", "-days", "2",
                    "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt.read_text(), key.read_text()


def secret_yaml(name: str, data: dict[str, str]) -> str:
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    fields = "".join(f"  {k}: {b64(v)}\n" for k, v in data.items())
    return f"""apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: default
type: kubernetes.io/tls
data:
{fields}"""


def policy_yaml(name: str, section: str, tls: str) -> str:
    return f"""apiVersion: mirrorgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: {name}
  namespace: default
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: multi-cert
    sectionName: {section}
  tls:
{tls}"""


def gateway_yaml(ip: str, port: int, bad_port: int, modern_port: int, legacy_port: int) -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: multi-cert
  namespace: default
spec:
  gatewayClassName: mirrorgate
  addresses:
  - type: IPAddress
    value: {ip}
  listeners:
  - name: multi
    protocol: HTTPS
    port: {port}
    hostname: {HOST}
    tls:
      certificateRefs:
      - name: multi-rsa
      - name: multi-ecdsa
  - name: broken
    protocol: HTTPS
    port: {bad_port}
    tls:
      certificateRefs:
      - name: no-key
  - name: modern
    protocol: HTTPS
    port: {modern_port}
    tls:
      certificateRefs:
      - name: multi-ecdsa
  - name: legacy
    protocol: HTTPS
    port: {legacy_port}
    tls:
      certificateRefs:
      - name: multi-ecdsa
"""


def s_client(ip: str, port: int, *args: str) -> str:
    """Everything s_client printed (stdout and stderr): the handshake summary, the response, errors."""
    request = f"GET /s_client HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    out = subprocess.run(["openssl", "s_client", "-connect", f"{ip}:{port}", "-servername", HOST, "-ign_eof",
                          *args], input=request.encode(), capture_output=True, timeout=20)
    return out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")


class TlsCertificates(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.1"
        cls.port, cls.bad_port, cls.modern_port, cls.legacy_port = (mgtest.free_port(cls.gw_ip) for _ in range(4))
        d = c.config_dir("certs")
        cls.rsa = make_certificate(d, "rsa", ["-newkey", "rsa:2048"])
        cls.ecdsa = make_certificate(d, "ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        cls.dir = d
        config = c.config_dir() / "tls.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            gateway_yaml(cls.gw_ip, cls.port, cls.bad_port, cls.modern_port, cls.legacy_port),
            policy_yaml("modern", "modern", '    minVersion: "1.3"\n    alpnProtocols: [http/1.0]\n'),
            policy_yaml("legacy", "legacy", '    maxVersion: "1.2"\n    ciphers: [ECDHE-ECDSA-AES256-GCM-SHA384]\n'),
            policy_yaml("unknown-cipher", "multi", "    ciphers: [ECDHE-RSA-NOPE-SHA256]\n"),
            secret_yaml("multi-rsa", {"tls.crt": cls.rsa[0], "tls.key": cls.rsa[1]}),
            secret_yaml("multi-ecdsa", {"tls.crt": cls.ecdsa[0], "tls.key": cls.ecdsa[1]}),
            secret_yaml("no-key", {"tls.crt": cls.rsa[0]}),
            *(mgtest.route_yaml(f"r-{s}", "multi-cert", "/", "infra-backend-v1").replace("sectionName: http", f"sectionName: {s}")
              for s in ("multi", "modern", "legacy")),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", "infra-backend-v1-7d9c6b5f4-m1c2a", True)]),
        ))
        cls.v1 = c.echo("infra-backend-v1-7d9c6b5f4-m1c2a", f"{NET}.2")
        # Two workers (mgtest); the handshake gets 1 s however long a request head may take.
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip,
                           extra_args=["--tls-handshake-timeout", "1", "--header-timeout", "30"])
        cls.v1.wait_ready()
        cls.gw.wait_ready()
        for port in (cls.port, cls.modern_port, cls.legacy_port):
            wait_for(lambda: mgtest.port_open(cls.gw_ip, port), 10, "the HTTPS listeners")

    def served_key_type(self, *args: str) -> str:
        out = s_client(self.gw_ip, self.port, *args)
        self.assertIn("HTTP/1.1 200", out, out[-2000:])
        if "Server public key is 2048 bit" in out and "Peer signature type: ECDSA" not in out:
            return "RSA"
        if "Server public key is 256 bit" in out:
            return "ECDSA"
        return "unknown:\n" + out

    def test_rsa_and_ecdsa_certificates_for_one_name_chosen_by_signature_algorithms_tls13(self):
        self.assertEqual(self.served_key_type("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"), "RSA")
        self.assertEqual(self.served_key_type("-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"), "ECDSA")

    def test_rsa_and_ecdsa_certificates_for_one_name_chosen_by_cipher_tls12(self):
        self.assertEqual(self.served_key_type("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"), "RSA")
        self.assertEqual(self.served_key_type("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"), "ECDSA")

    def test_session_resumes_with_a_ticket_tls12_and_tls13(self):
        for version in ("-tls1_2", "-tls1_3"):
            sess = self.dir / f"session{version}.pem"
            first = s_client(self.gw_ip, self.port, version, "-sess_out", str(sess))
            self.assertIn("HTTP/1.1 200", first, first[-2000:])
            self.assertIn("New, TLSv1.", first)
            # Several tries: with two workers, each accept may land on either; all must resume.
            for _ in range(4):
                again = s_client(self.gw_ip, self.port, version, "-sess_in", str(sess))
                self.assertIn("Reused, TLSv1.", again, f"{version}: " + again[-2000:])
                self.assertIn("HTTP/1.1 200", again)

    def test_tls13_resumption_brings_a_new_ticket(self):
        # TLS 1.3 clients use each ticket once (RFC 8446 C.4): a resumed handshake must hand out the next
        # one, or such a client (OpenSSL's, wrk, browsers) alternates full and resumed handshakes.
        first_sess, second_sess = self.dir / "chain1.pem", self.dir / "chain2.pem"
        first = s_client(self.gw_ip, self.port, "-tls1_3", "-sess_out", str(first_sess))
        self.assertIn("New, TLSv1.3", first, first[-2000:])
        for _ in range(3):
            again = s_client(self.gw_ip, self.port, "-tls1_3", "-msg", "-sess_in", str(first_sess),
                             "-sess_out", str(second_sess))
            self.assertIn("Reused, TLSv1.3", again, again[-2000:])
            self.assertIn("NewSessionTicket", again,
                          "no new ticket after a resumed TLS 1.3 handshake; the handshake's end:\n" + again[-1500:])
            self.assertIn("HTTP/1.1 200", again)
            first_sess, second_sess = second_sess, first_sess

    def test_secret_without_key_is_reported_and_other_listeners_serve(self):
        items = self.gw.admin("/status").json()["items"]
        gw = next(i for i in items if i["kind"] == "Gateway" and i["metadata"]["name"] == "multi-cert")
        listeners = {entry["name"]: entry for entry in gw["status"]["listeners"]}
        broken = {cond["type"]: cond for cond in listeners["broken"]["conditions"]}
        self.assertEqual(broken["ResolvedRefs"]["status"], "False")
        self.assertEqual(broken["ResolvedRefs"]["reason"], "InvalidCertificateRef")
        self.assertIn("no-key", broken["ResolvedRefs"]["message"])
        multi = {cond["type"]: cond["status"] for cond in listeners["multi"]["conditions"]}
        self.assertEqual(multi["ResolvedRefs"], "True")
        self.assertEqual(multi["Programmed"], "True")

    def test_silent_client_is_closed_at_the_tls_handshake_timeout(self):
        before = self.gw.metrics().get("mirrorgate_tls_handshake_failures_total")
        with socket.create_connection((self.gw_ip, self.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
            started = time.monotonic()
            try:
                closed = s.recv(1) == b""
            except ConnectionResetError:
                closed = True
            waited = time.monotonic() - started
        self.assertTrue(closed)
        self.assertLess(waited, 5, "closed by --tls-handshake-timeout 1, not --header-timeout 30")
        self.assertGreater(waited, 0.5)
        wait_for(lambda: self.gw.metrics().get("mirrorgate_tls_handshake_failures_total") > before, 5,
                 "the timed-out handshake counted")

    def test_policy_min_version_and_alpn(self):
        self.assertIn("HTTP/1.1 200", s_client(self.gw_ip, self.modern_port, "-tls1_3"))
        refused = s_client(self.gw_ip, self.modern_port, "-tls1_2")
        self.assertNotIn("HTTP/1.1 200", refused)
        self.assertIn("protocol version", refused)
        offered = s_client(self.gw_ip, self.modern_port, "-alpn", "http/1.1,http/1.0")
        self.assertIn("ALPN protocol: http/1.0", offered)
        self.assertIn("200", offered)
        only_h11 = s_client(self.gw_ip, self.modern_port, "-alpn", "http/1.1")
        self.assertIn("no application protocol", only_h11)
        # The policy is for its section only: the other listener keeps the defaults.
        self.assertIn("ALPN protocol: http/1.1", s_client(self.gw_ip, self.port, "-alpn", "http/1.1,http/1.0"))
        self.assertIn("HTTP/1.1 200", s_client(self.gw_ip, self.port, "-tls1_2"))

    def test_policy_max_version_and_ciphers(self):
        out = s_client(self.gw_ip, self.legacy_port)
        self.assertIn("HTTP/1.1 200", out)
        self.assertIn("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384", out)
        self.assertIn("New, TLSv1.2,", out)
        self.assertNotIn("HTTP/1.1 200", s_client(self.gw_ip, self.legacy_port, "-tls1_3"))
        refused = s_client(self.gw_ip, self.legacy_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertNotIn("HTTP/1.1 200", refused)

    def test_policy_with_unknown_cipher_is_invalid_and_the_listener_keeps_its_defaults(self):
        items = self.gw.admin("/status").json()["items"]
        policies = {i["metadata"]["name"]: i for i in items if i["kind"] == "ClientTrafficPolicy"}
        accepted = policies["unknown-cipher"]["status"]["ancestors"][0]["conditions"][0]
        self.assertEqual((accepted["type"], accepted["status"], accepted["reason"]), ("Accepted", "False", "Invalid"))
        self.assertIn("cipher ECDHE-RSA-NOPE-SHA256", accepted["message"])
        for name in ("modern", "legacy"):
            cond = policies[name]["status"]["ancestors"][0]["conditions"][0]
            self.assertEqual(cond["status"], "True", cond)
        self.assertIn("HTTP/1.1 200", s_client(self.gw_ip, self.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"))

    def test_config_dump_lists_both_certificates_of_the_section(self):
        dump = self.gw.admin("/config_dump").json()
        https = next(entry for entry in dump["listeners"] if entry["port"] == self.port)
        self.assertEqual([c["hostname"] for c in https["certificates"]], [HOST])


if __name__ == "__main__":
    mgtest.main()
