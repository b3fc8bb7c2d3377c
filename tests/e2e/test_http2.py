"""HTTP/2 on a cleartext listener, by prior knowledge, end to end: curl, nghttp and h2load through the
gateway to the echo pods of the seed scenario, the mirror copy of an h2 request at v2 with the same
X-Request-Id, HTTP/1.1 and h2 connections mixed on one listener, h2spec (every case), the known attack
classes (each followed by a check that another client is still served and that the gateway's memory
stayed bounded), and GOAWAY on SIGTERM.

Loopback blocks 127.0.41.0/24 (gateway .1, pods .2-.5) and, for HTTP/2 over TLS, 127.0.43.0/24 (gateway
.1, pod .2)."""

import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import unittest
from pathlib import Path

import h2.config
import h2.connection
import h2.events

import mgtest
import test_tls
from h2frames import (CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, PREFACE, RST_STREAM,
                      SETTINGS, RawH2, frame, literal, request_block, status_of)
from mgtest import EXAMPLE_PODS, UUID_RE, get, unique_id, wait_for

NET = "127.0.41"
ROUTE = "default/mirror"
H2SPEC_VERSION = "v2.2.1+incompatible"  # the newest the Go module proxy serves

PLAIN_ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: plain
  namespace: default
spec:
  parentRefs:
  - name: mirror-gateway
    sectionName: http
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
"""

def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def curl_h2(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", *args, url],
                          capture_output=True, text=True, timeout=20)


def h2spec_binary() -> tuple[str | None, str]:
    """The cached h2spec, built from the Go module proxy on first use; (path, why not)."""
    cache = Path(os.environ.get("MG_CACHE_DIR") or Path.home() / ".cache" / "mirrorgate") / "h2spec" / H2SPEC_VERSION
    binary = cache / "h2spec"
    if binary.exists():
        return str(binary), ""
    # The machine's Go when new enough, else a release from the module proxy (scripts/go-toolchain.sh).
    found = subprocess.run([str(mgtest.SOURCE_DIR / "scripts" / "go-toolchain.sh")], capture_output=True, text=True,
                           timeout=240)
    if found.returncode != 0:
        return None, f"no Go toolchain: {found.stderr[-2000:]}"
    go = found.stdout.strip()
    cache.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([go, "install", f"github.com/summerwind/h2spec/cmd/h2spec@{H2SPEC_VERSION}"],
                       env={**os.environ, "GOBIN": str(cache), "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
                       capture_output=True,
                       text=True, timeout=240)
    if r.returncode != 0 or not binary.exists():
        return None, f"go install failed: {r.stderr[-2000:]}"
    return str(binary), ""


class Http2(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        pod_ips = {old: f"{NET}.{old.rsplit('.', 1)[1]}" for _, old, _ in EXAMPLE_PODS}
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        config = mgtest.copy_example(c.config_dir(), cls.gw_ip, cls.gw_port, pod_ips)
        (config / "plain-route.yaml").write_text(PLAIN_ROUTE)
        cls.pods = [c.echo(pod, pod_ips[ip], service=svc) for pod, ip, svc in EXAMPLE_PODS]
        cls.v2 = [p for p in cls.pods if p.pod.startswith("infra-backend-v2-")]
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, extra_args=["--idle-timeout", "5"])
        for p in cls.pods:
            p.wait_ready()
        cls.gw.wait_ready()
        cls.base = f"http://{cls.gw_ip}:{cls.gw_port}"

    def assert_still_serving(self, what: str):
        """Another client, in each protocol, is answered."""
        r = curl_h2(f"{self.base}/after-{what}", "-o", "/dev/null", "-w", "%{http_code} %{http_version}")
        self.assertEqual(r.stdout, "200 2", f"h2 after {what}: {r.stdout} {r.stderr}")
        self.assertEqual(get(self.gw_ip, self.gw_port, f"/after-{what}").status, 200, f"h1 after {what}")

    def assert_memory_bounded(self, before_kib: int, what: str, bound_mib: int = 64):
        # Asserted on the plain build only: under ASan every freed block sits in a quarantine of its own.
        if os.environ.get("MG_GATEWAY_BIN", "").endswith("-asan"):
            return
        grown = (rss_kib(self.gw.pid) - before_kib) / 1024
        self.assertLess(grown, bound_mib, f"{what}: the gateway grew by {grown:.1f} MiB")

    # ---- interop ----

    def test_curl_prior_knowledge_reaches_v1_and_the_copy_reaches_v2(self):
        path = f"/mirror?e2e-request={unique_id()}"
        r = curl_h2(f"{self.base}{path}", "-D", "-", "-H", "Cookie: a=1", "-H", "Cookie: b=2")
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition("\n\n")  # text mode: CRLF read as LF
        self.assertTrue(body, repr(r.stdout))
        self.assertTrue(head.startswith("HTTP/2 200"), head)
        echo = json.loads(body)
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["path"], path)
        self.assertEqual(echo["method"], "GET")
        headers = echo["headers"]
        self.assertEqual(headers.get("X-Forwarded-Proto"), ["http"], echo)
        self.assertIn("X-Forwarded-For", headers, echo)
        self.assertEqual(headers.get("Cookie"), ["a=1; b=2"], echo)  # crumbs joined for HTTP/1.1
        self.assertEqual(echo["host"], f"{self.gw_ip}:{self.gw_port}", echo)  # from :authority
        self.assertEqual(echo["proto"], "HTTP/1.1", echo)
        request_id = headers["X-Request-Id"][0]
        self.assertRegex(request_id, UUID_RE)
        self.assertIn(f"x-request-id: {request_id}", head.lower())
        wait_for(lambda: any(p.has_echoed(path) for p in self.v2), 10, "the copy at a v2 pod")
        entries = wait_for(lambda: self.gw.access_entries(request_id, mirror=False), 5, "access log line")
        self.assertEqual(entries[0]["protocol"], "HTTP/2", entries)
        self.assertEqual(entries[0]["route"], ROUTE)
        mirrors = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10, "mirror log line")
        self.assertEqual(mirrors[0]["outcome"], "completed", mirrors)

    def test_curl_post_body_is_forwarded(self):
        body = "x" * 100000
        r = curl_h2(f"{self.base}/upload", "-X", "POST", "--data-binary", body, "-o", "/dev/null", "-w",
                    "%{http_code} %{http_version} %{size_upload}")
        self.assertEqual(r.stdout, "200 2 100000", r.stderr)

    def test_nghttp_concurrent_streams(self):
        urls = [f"{self.base}/n{i}" for i in range(20)]
        r = subprocess.run(["nghttp", "-n", "-s", "-t", "10", *urls], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        statuses = [line for line in r.stdout.splitlines() if re.match(r"^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+200 ", line)]
        self.assertEqual(len(statuses), 20, r.stdout)  # one stat line per stream

    def test_streams_of_one_connection_share_nothing(self):
        """Streams of one connection, in waves (each reuses what earlier streams of the connection used),
        each see only their own request: method, path, headers, body, request id."""
        sock = socket.create_connection((self.gw_ip, self.gw_port), timeout=5)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        bodies: dict[int, bytes] = {}
        heads: dict[int, dict] = {}
        ended: set[int] = set()
        for wave in range(3):
            sent = {}
            for i in range(8):
                stream = conn.get_next_available_stream_id()
                tag = f"w{wave}s{i}-{unique_id()}"
                fields = [(":method", "POST" if i % 2 else "GET"), (":scheme", "http"),
                          (":authority", f"{self.gw_ip}:{self.gw_port}"), (":path", f"/share/{tag}")]
                if i % 3 == 0:
                    fields.append(("x-request-id", f"id-{tag}"))
                if i % 4 == 0:
                    fields += [("cookie", f"c={tag}"), (f"x-only-{i}", tag)]
                body = tag.encode() if i % 2 else b""
                conn.send_headers(stream, fields, end_stream=not body)
                if body:
                    conn.send_data(stream, body, end_stream=True)
                sent[stream] = (tag, i, body)
            sock.sendall(conn.data_to_send())
            deadline = time.monotonic() + 10
            while not set(sent) <= ended:
                self.assertLess(time.monotonic(), deadline, f"wave {wave}: streams {set(sent) - ended} unanswered")
                data = sock.recv(65536)
                self.assertTrue(data, "the gateway closed the connection")
                for e in conn.receive_data(data):
                    if isinstance(e, h2.events.ResponseReceived):
                        heads[e.stream_id] = dict(e.headers)
                    elif isinstance(e, h2.events.DataReceived):
                        bodies[e.stream_id] = bodies.get(e.stream_id, b"") + e.data
                        conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                    elif isinstance(e, h2.events.StreamEnded):
                        ended.add(e.stream_id)
                    elif isinstance(e, h2.events.StreamReset):
                        self.fail(f"stream {e.stream_id} reset: {e.error_code}")
                sock.sendall(conn.data_to_send())
            for stream, (tag, i, body) in sent.items():
                self.assertEqual(heads[stream][":status"], "200", heads[stream])
                echo = json.loads(bodies[stream])
                self.assertEqual(echo["path"], f"/share/{tag}", echo)
                self.assertEqual(echo["method"], "POST" if i % 2 else "GET", echo)
                headers = echo["headers"]
                request_id = headers["X-Request-Id"][0]
                self.assertEqual(heads[stream]["x-request-id"], request_id)
                if i % 3 == 0:
                    self.assertEqual(request_id, f"id-{tag}")
                else:
                    self.assertRegex(request_id, UUID_RE)
                self.assertEqual(headers.get("Cookie"), [f"c={tag}"] if i % 4 == 0 else None, echo)
                others = [h for h in headers if h.startswith("X-Only-") and h != f"X-Only-{i}"]
                self.assertEqual(others, [], echo)
                self.assertEqual(headers.get("Content-Length"), [str(len(body))] if body else None, echo)
        sock.close()

    def test_h2load_no_failures(self):
        r = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", f"{self.base}/load"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2000 succeeded, 0 failed, 0 errored", r.stdout, r.stdout)
        self.assertIn("status codes: 2000 2xx", r.stdout, r.stdout)

    def test_http1_and_h2_mixed_on_one_listener(self):
        errors = []

        def h1():
            for i in range(50):
                if get(self.gw_ip, self.gw_port, f"/mix-h1-{i}").status != 200:
                    errors.append(f"h1 {i}")

        def h2():
            for i in range(25):
                r = curl_h2(f"{self.base}/mix-h2-{i}", "-o", "/dev/null", "-w", "%{http_code} %{http_version}")
                if r.stdout != "200 2":
                    errors.append(f"h2 {i}: {r.stdout} {r.stderr}")

        def upgrade_offer():
            # An h2c Upgrade offer is answered in HTTP/1.1, as RFC 9113 deprecates the upgrade.
            for i in range(10):
                r = get(self.gw_ip, self.gw_port, f"/mix-up-{i}",
                        headers={"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": ""})
                if r.status != 200:
                    errors.append(f"upgrade {i}: {r.status}")

        threads = [threading.Thread(target=f) for f in (h1, h2, upgrade_offer, h1, h2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def test_h2spec_passes_every_case(self):
        binary, why = h2spec_binary()
        if not binary:
            self.fail(f"h2spec blocked: {why}")
        r = subprocess.run([binary, "-h", self.gw_ip, "-p", str(self.gw_port), "-o", "3"], capture_output=True,
                           text=True, timeout=300)
        summary = [line for line in r.stdout.splitlines() if "tests," in line]
        self.assertTrue(summary, r.stdout[-3000:])
        self.assertIn(" 0 failed", summary[-1], r.stdout[-6000:])
        self.assertEqual(r.returncode, 0, r.stdout[-6000:])

    def test_options_asterisk_and_connect_answered_alike_in_both_protocols(self):
        r1 = mgtest.RawConnection(self.gw_ip, self.gw_port)
        h1_options = r1.request("OPTIONS", "*").status
        r1.close()
        conn = RawH2(self.gw_ip, self.gw_port)
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("*", method="OPTIONS")))
        reply = conn.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM) and f[2] == 1, 5)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[0], HEADERS, reply)
        self.assertEqual(status_of(reply[3]), h1_options, reply)
        connect = literal(":method", "CONNECT") + literal(":authority", "h2.example:443")
        conn.send(frame(HEADERS, END_HEADERS, 3, connect))
        reply = conn.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM) and f[2] == 3, 5)
        self.assertEqual(reply[0], HEADERS, reply)
        self.assertEqual(status_of(reply[3]), 501, reply)
        conn.close()
        r1 = mgtest.RawConnection(self.gw_ip, self.gw_port)
        self.assertEqual(r1.request("CONNECT", "h2.example:443").status, 501)
        r1.close()

    # ---- attacks: each shows the gateway keeps serving others within a memory bound ----

    def test_attack_rapid_reset(self):
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port)
        batch = b""
        for i in range(5000):
            sid = 2 * i + 1
            batch += frame(HEADERS, END_HEADERS | END_STREAM, sid, request_block(f"/rr{i}"))
            batch += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
            if len(batch) > 60000:
                if not conn.send(batch):
                    break
                batch = b""
        conn.send(batch)
        # Past nghttp2's reset rate limit the connection is told to go away.
        goaway = conn.frames_until(lambda f: f[0] == GOAWAY, 10)
        self.assertIsNotNone(goaway, "no GOAWAY for a rapid-reset flood")
        conn.close()
        self.assert_still_serving("rapid-reset")
        self.assert_memory_bounded(before, "rapid reset")

    def test_attack_continuation_flood(self):
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port)
        flood = frame(HEADERS, 0, 1, request_block("/cont"))
        for i in range(2000):
            flood += frame(CONTINUATION, 0, 1, literal(f"x-c{i}", "v" * 100))
        conn.send(flood)
        # A header block that never ends: the connection is told to go away after a few CONTINUATIONs.
        goaway = conn.frames_until(lambda f: f[0] == GOAWAY, 5)
        self.assertIsNotNone(goaway, "no GOAWAY for an endless header block")
        self.assertEqual(int.from_bytes(goaway[3][4:8], "big"), 0xB, goaway)  # ENHANCE_YOUR_CALM
        conn.close()
        self.assert_still_serving("continuation-flood")
        self.assert_memory_bounded(before, "CONTINUATION flood")

    def test_attack_oversized_header_list_is_431(self):
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port)
        # 70 KB of fields in 5 frames (fewer CONTINUATIONs than the flood limit): past the 64 KiB list limit.
        block = request_block("/big-headers", extra=[(f"x-h{i}", "v" * 1000) for i in range(70)])
        first, rest = block[:16000], block[16000:]
        data = frame(HEADERS, 0, 1, first)
        while rest:
            piece, rest = rest[:16000], rest[16000:]
            data += frame(CONTINUATION, 0 if rest else END_HEADERS, 1, piece)
        conn.send(data)
        reply = conn.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM, GOAWAY) and f[2] in (0, 1), 5)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[0], HEADERS, reply)
        self.assertEqual(status_of(reply[3]), 431, reply)
        conn.close()
        self.assert_still_serving("oversized-headers")
        self.assert_memory_bounded(before, "oversized header list")

    def test_attack_hpack_bomb(self):
        # One large field into the dynamic table, then referenced thousands of times: what the fields
        # expand to is bounded by the header list limit (431), not by what the client sends.
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port)
        big = literal("x-bomb-big", "b" * 4000, kind=b"\x40")  # with incremental indexing: entry 62
        refs = bytes([0xBE]) * 4000  # indexed field 62: the newest dynamic entry
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/bomb") + big + refs))
        reply = conn.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM, GOAWAY), 5)
        self.assertIsNotNone(reply, "no answer to an HPACK bomb")
        conn.close()
        self.assert_still_serving("hpack-bomb")
        self.assert_memory_bounded(before, "HPACK bomb")

    def test_attack_zero_window_slow_reader(self):
        before = rss_kib(self.gw.pid)
        readers = []
        for _ in range(20):
            conn = RawH2(self.gw_ip, self.gw_port, window=0)
            block = b""
            for i in range(10):
                block += frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, request_block(f"/mirror?slow={i}"))
            conn.send(block)
            readers.append(conn)
        time.sleep(1)
        self.assert_still_serving("zero-window")
        self.assert_memory_bounded(before, "zero-window readers")
        for conn in readers:
            conn.close()

    def test_attack_priority_flood(self):
        # PRIORITY frames for ever new (idle) streams: nghttp2 keeps a bounded number of such streams.
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port)
        batch = b""
        for i in range(100000):
            batch += frame(2, 0, 2 * i + 1, struct.pack(">IB", 0, 15))  # PRIORITY: depends on 0, weight 16
            if len(batch) > 64000:
                if not conn.send(batch):
                    break
                batch = b""
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 2 * 100000 + 1, request_block("/after-priority")))
        answered = conn.frames_until(lambda f: f[0] in (HEADERS, GOAWAY) and f[2] in (0, 2 * 100000 + 1), 10)
        self.assertIsNotNone(answered, "no answer and no GOAWAY after a PRIORITY flood")
        conn.close()
        self.assert_still_serving("priority-flood")
        self.assert_memory_bounded(before, "PRIORITY flood")

    def test_attack_settings_ping_and_empty_data_floods(self):
        before = rss_kib(self.gw.pid)
        for flood in (frame(SETTINGS, 0, 0), frame(PING, 0, 0, b"12345678")):
            conn = RawH2(self.gw_ip, self.gw_port)
            conn.sock.settimeout(2)
            for _ in range(20):
                if not conn.send(flood * 1000):  # never reading the ACKs
                    break
            conn.close()
        conn = RawH2(self.gw_ip, self.gw_port)
        conn.send(frame(HEADERS, END_HEADERS, 1, request_block("/empty-data", method="POST")))
        for _ in range(20):
            if not conn.send(frame(DATA, 0, 1) * 2000):
                break
        conn.close()
        self.assert_still_serving("floods")
        self.assert_memory_bounded(before, "SETTINGS/PING/empty DATA floods")

    def test_attack_stream_limit_exhaustion(self):
        before = rss_kib(self.gw.pid)
        conn = RawH2(self.gw_ip, self.gw_port, window=0)
        block = b""
        for i in range(300):  # three times the limit, none ever answered (window 0)
            block += frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, request_block(f"/lim{i}"))
        conn.send(block)
        refused = conn.frames_until(lambda f: f[0] == RST_STREAM or f[0] == GOAWAY, 5)
        self.assertIsNotNone(refused, "no stream was refused past the limit")
        self.assert_still_serving("stream-limit")
        self.assert_memory_bounded(before, "stream-limit exhaustion")
        conn.close()

    # ---- last: the gateway stops ----

    def test_zz_goaway_on_sigterm(self):
        conn = RawH2(self.gw_ip, self.gw_port)
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/before-term")))
        answered = conn.frames_until(lambda f: f[0] == DATA and f[2] == 1 and f[1] & END_STREAM, 5)
        self.assertIsNotNone(answered)
        self.gw.signal(signal.SIGTERM)
        goaway = conn.frames_until(lambda f: f[0] == GOAWAY, 5)
        self.assertIsNotNone(goaway, "no GOAWAY on SIGTERM")
        last_stream = int.from_bytes(goaway[3][:4], "big") & 0x7FFFFFFF
        error = int.from_bytes(goaway[3][4:8], "big")
        self.assertEqual((last_stream, error), (1, 0))
        self.assertEqual(self.gw.wait(10), 0)
        conn.close()


TLS_NET = "127.0.43"
TLS_HOST = "a.example.com"


class Http2OverTls(mgtest.ClusterTestCase):
    """An HTTPS listener: HTTP/2 by ALPN once the listener offers h2, and by prior knowledge over TLS."""

    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{TLS_NET}.1"
        cls.tls_port, http_port = mgtest.free_port(cls.gw_ip), mgtest.free_port(cls.gw_ip)
        crt, key = test_tls.make_certificate(c.config_dir("certs"), TLS_HOST)
        cls.trusted = crt
        pod = "infra-backend-v1-7d9c6b5f4-h2tls"
        config = c.config_dir() / "tls.yaml"
        gateway = test_tls.gateway_yaml(cls.gw_ip, cls.tls_port, http_port).replace(
            "name: cert-b", "name: cert-a")  # both sections use the one certificate
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(), gateway, test_tls.secret_yaml("cert-a", crt, key),
            test_tls.ROUTE.replace("    filters:\n    - type: RequestMirror\n      requestMirror:\n"
                                   "        backendRef:\n          name: infra-backend-v2\n          port: 8080\n", ""),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{TLS_NET}.2", pod, True)])))
        cls.v1 = c.echo(pod, f"{TLS_NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    def wrap(self, alpn):
        ctx = ssl.create_default_context(cadata=self.trusted)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return lambda raw: ctx.wrap_socket(raw, server_hostname=TLS_HOST)

    def get_over_h2(self, conn: RawH2, path: str):
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block(path, authority=TLS_HOST)))
        body = b""
        while True:
            f = conn.frames_until(lambda f: f[0] in (HEADERS, DATA, RST_STREAM, GOAWAY) and f[2] in (0, 1), 5)
            self.assertIsNotNone(f, "no answer over h2")
            self.assertIn(f[0], (HEADERS, DATA), f)
            if f[0] == DATA:
                body += f[3]
            if f[1] & END_STREAM:
                return json.loads(body)

    def test_prior_knowledge_over_tls(self):
        conn = RawH2(self.gw_ip, self.tls_port, wrap=self.wrap(None))
        echo = self.get_over_h2(conn, "/tls-prior-knowledge")
        self.assertEqual(echo["path"], "/tls-prior-knowledge")
        self.assertEqual(echo["headers"]["X-Forwarded-Proto"], ["https"], echo)
        conn.close()

    def test_misdirected_stream_is_421(self):
        # The connection's SNI names section a; a stream for section b's host is misdirected (the
        # RequestHandler's check, the same for both protocols).
        conn = RawH2(self.gw_ip, self.tls_port, wrap=self.wrap(None))
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/other", authority="b.example.com")))
        reply = conn.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM, GOAWAY) and f[2] in (0, 1), 5)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[0], HEADERS, reply)
        self.assertEqual(status_of(reply[3]), 421, reply)
        conn.close()

    def test_alpn_h2(self):
        conn = RawH2.__new__(RawH2)
        raw = socket.create_connection((self.gw_ip, self.tls_port), timeout=5)
        conn.sock, conn.buf = self.wrap(["h2", "http/1.1"])(raw), b""
        self.assertEqual(conn.sock.selected_alpn_protocol(), "h2")  # the default list, h2 first
        conn.send(PREFACE + frame(SETTINGS, 0, 0))
        echo = self.get_over_h2(conn, "/tls-alpn")
        self.assertEqual(echo["path"], "/tls-alpn")
        conn.close()


if __name__ == "__main__":
    mgtest.main()
