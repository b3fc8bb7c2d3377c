#!/usr/bin/env python3
"""Runs the Gateway API HTTPRoute conformance tests (shared/conformance, as data) against mirrorgate.

Follows shared/conformance/README.md: echo "pods" (mirrorgate-echo) on their own loopback addresses,
generated EndpointSlices, one fresh config directory and one gateway process per test, every Gateway
on its own loopback address with its real listener ports, the Go suite's client behaviour and its
judging rules (3 consecutive passes, 100 ms pause after a failure, a consistency timeout).
Status checks read the gateway's computed status from its admin endpoint `GET /status`.

Standard library plus PyYAML (Debian python3-yaml; scripts/deps.sh installs it). See
tests/conformance/README.md for how to run it and docs/conformance.md for what differs from the Go suite.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime
import gzip
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("run_conformance: PyYAML is missing; install Debian's python3-yaml (scripts/deps.sh does)")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import h2frames  # noqa: E402  (raw HTTP/2 frames, shared with test_http2.py)
import hpack_decode  # noqa: E402
import wsframes  # noqa: E402  (the WebSocket client, shared with test_websocket.py)

CLASS_NAME = "mirrorgate"
CONTROLLER_NAME = "mirrorgate.io/gateway-controller"
REQUEST_ID_PARAM = "gateway-api-conformance-request-id"
POD_RANGE = "127.100"  # 127.100.<deployment>.<replica>
GATEWAY_RANGE = "127.101"  # 127.101.<test slot>.<gateway>
SUPPORTED_PROTOCOLS = {"HTTP", "HTTPS", "H2", "H2C_PRIOR_KNOWLEDGE"}
# The README's "up to about 60 s" for every status poll, at the default 30 s consistency timeout.
STATUS_LIMIT_AT_DEFAULT = 60.0
REQUEST_TIMEOUT = 10.0
POLL_INTERVAL = 0.1
CONSECUTIVE = 3
START_TIMEOUT = 20.0
POD_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class HarnessError(Exception):
    """The harness itself cannot go on (missing binary, a backend that does not start, ...)."""


class StatusUnavailable(Exception):
    """The gateway has no /status endpoint (404)."""


# --------------------------------------------------------------------------------------------
# Processes


_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()


def spawn(argv: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Starts argv in its own session with stdout+stderr appended to log_path; tracked for cleanup."""
    log = open(log_path, "ab", buffering=0)
    try:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    finally:
        log.close()
    with _children_lock:
        _children.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after `grace`; only ever the process group of a child we started."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    with _children_lock:
        if proc in _children:
            _children.remove(proc)


def stop_all() -> None:
    with _children_lock:
        procs = list(_children)
    for p in procs:
        stop(p, grace=0.5)


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def http_get(host: str, port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Manifests


def split_documents(text: str) -> list[str]:
    """Splits multi-document YAML text at `---` lines, keeping each document's text verbatim."""
    docs, current = [], []
    for line in text.splitlines(keepends=True):
        if re.match(r"^---\s*(#.*)?$", line):
            docs.append("".join(current))
            current = []
        else:
            current.append(line)
    docs.append("".join(current))
    return [d for d in docs if d.strip()]


def object_key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    cluster_scoped = obj.get("kind") in ("Namespace", "GatewayClass")
    return obj.get("kind", ""), "" if cluster_scoped else meta.get("namespace", "default"), meta.get("name", "")


@dataclass
class Doc:
    text: str
    obj: dict | None  # None for comment-only documents

    def set_obj(self, obj: dict) -> None:
        self.obj = obj
        self.text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


@dataclass
class ConfigFile:
    name: str
    docs: list[Doc]


def parse_docs(text: str) -> list[Doc]:
    return [Doc(t, yaml.safe_load(t)) for t in split_documents(text)]


def with_gateway_address(doc: Doc, address: str) -> None:
    """Adds (or overwrites) spec.addresses of a Gateway document, editing its text in place when
    the shape allows so the rest of the document stays exactly as upstream wrote it."""
    spec = doc.obj.get("spec") or {}
    lines = doc.text.splitlines(keepends=True)
    idx = next((i for i, l in enumerate(lines) if re.match(r"^spec:\s*(#.*)?$", l)), None)
    if "addresses" not in spec and idx is not None:
        indent = "  "
        for l in lines[idx + 1:]:
            if l.strip() and not l.lstrip().startswith("#"):
                indent = l[: len(l) - len(l.lstrip())] or "  "
                break
        block = f"{indent}addresses:\n{indent}- type: IPAddress\n{indent}  value: \"{address}\"\n"
        lines.insert(idx + 1, block)
        doc.text = "".join(lines)
        doc.obj = yaml.safe_load(doc.text)
        return
    obj = dict(doc.obj)
    obj["spec"] = dict(spec, addresses=[{"type": "IPAddress", "value": address}])
    doc.set_obj(obj)


# --------------------------------------------------------------------------------------------
# Backends


@dataclass
class Pod:
    name: str
    namespace: str
    deployment: str
    labels: dict
    ip: str
    log_path: Path
    proc: subprocess.Popen | None = None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")


def pod_name(deployment: str, rng: random.Random) -> str:
    h = "".join(rng.choice(POD_HASH_ALPHABET) for _ in range(10))
    s = "".join(rng.choice(POD_HASH_ALPHABET) for _ in range(5))
    return f"{deployment}-{h}-{s}"


def start_pods(suite: dict, base_docs: list[Doc], echo_bin: str, workdir: Path) -> list[Pod]:
    deployments = {object_key(d.obj)[1:]: d.obj for d in base_docs if d.obj and d.obj.get("kind") == "Deployment"}
    rng = random.Random()
    pods: list[Pod] = []
    (workdir / "pods").mkdir(parents=True, exist_ok=True)
    used = [b for b in suite["backends"] if b.get("usedByHTTPRouteTests")]
    for d_index, backend in enumerate(used, start=1):
        dep = deployments.get((backend["namespace"], backend["deployment"]), {})
        labels = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") \
            or {"app": backend["deployment"]}
        for r in range(backend["replicas"]):
            name = pod_name(backend["deployment"], rng)
            pod = Pod(name, backend["namespace"], backend["deployment"], labels,
                      f"{POD_RANGE}.{d_index}.{r + 1}", workdir / "pods" / f"{name}.log")
            env = dict(os.environ, POD_NAME=name, NAMESPACE=backend["namespace"],
                       SERVICE_NAME=backend.get("service", ""), HTTP_PORT="3000")
            pod.proc = spawn([echo_bin, "--listen", f"{pod.ip}:3000", "--threads", "1"], pod.log_path, env)
            pods.append(pod)
    deadline = time.monotonic() + START_TIMEOUT
    for pod in pods:
        while True:
            if pod.proc.poll() is not None:
                raise HarnessError(f"echo pod {pod.name} exited: {tail(pod.log_path)}")
            try:
                if http_get(pod.ip, 3000, "/health", timeout=1.0)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError(f"echo pod {pod.name} not ready on {pod.ip}:3000 after {START_TIMEOUT:.0f}s")
            time.sleep(0.05)
    return pods


def endpoint(pod: Pod) -> dict:
    return {
        "addresses": [pod.ip],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": pod.namespace, "name": pod.name},
    }


def endpoint_slices(services: list[dict], pods: list[Pod], rng: random.Random) -> list[dict]:
    """What the EndpointSlice controller would create for every Service with a selector."""
    slices = []
    for svc in services:
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            continue  # the test provides these slices (populateEndpointSlices)
        _, ns, name = object_key(svc)
        members = [p for p in pods if p.namespace == ns and all(p.labels.get(k) == v for k, v in selector.items())]
        ports = []
        for sp in spec.get("ports") or []:
            target = sp.get("targetPort", sp.get("port"))
            if isinstance(target, str):
                # Named container ports: the echo pods declare none, so only the well-known ones resolve.
                target = {"http": 3000, "h2c": 3001, "https": 8443}.get(target, sp.get("port"))
            port = {"name": sp.get("name", ""), "port": int(target), "protocol": sp.get("protocol", "TCP")}
            if sp.get("appProtocol"):
                port["appProtocol"] = sp["appProtocol"]
            ports.append(port)
        suffix = "".join(rng.choice(POD_HASH_ALPHABET) for _ in range(5))
        slices.append({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-{suffix}",
                "namespace": ns,
                "labels": {"kubernetes.io/service-name": name,
                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            },
            "addressType": "IPv4",
            "ports": ports,
            "endpoints": [endpoint(p) for p in members],
        })
    return slices


def generate_secrets(workdir: Path) -> list[dict]:
    """The self-signed kubernetes.io/tls Secrets the Go suite creates at start-up (suite.json)."""
    wanted = [("gateway-conformance-infra", "tls-validity-checks-certificate", ["*", "*.org", "*.wildcard.org"]),
              ("gateway-conformance-web-backend", "certificate", ["*"])]
    secrets = []
    if not shutil.which("openssl"):
        return secrets
    for ns, name, dns in wanted:
        key, crt = workdir / f"{name}.key", workdir / f"{name}.crt"
        san = ",".join(f"DNS:{d}" for d in dns)
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", f"/CN={dns[0]}", "-addext", f"subjectAltName={san}",
                            "-keyout", str(key), "-out", str(crt)], capture_output=True)
        if r.returncode != 0:
            continue
        secrets.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": name, "namespace": ns},
                        "data": {"tls.crt": base64.b64encode(crt.read_bytes()).decode(),
                                 "tls.key": base64.b64encode(key.read_bytes()).decode()}})
    return secrets


# --------------------------------------------------------------------------------------------
# The Go client


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey."""
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
        return name
    out, upper = [], True
    for c in name:
        if upper and "a" <= c <= "z":
            c = c.upper()
        elif not upper and "A" <= c <= "Z":
            c = c.lower()
        out.append(c)
        upper = c == "-"
    return "".join(out)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str  # the URL of the final request (redirects followed)

    def header_values(self, name: str) -> list[str] | None:
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals or None

    def echo(self, method: str) -> dict:
        ctype = self.header_values("Content-Type")
        if ctype and ctype[0] == "application/json":
            try:
                doc = json.loads(self.body)
                if isinstance(doc, dict):
                    return doc
            except ValueError:
                pass
        return {"path": "", "host": "", "namespace": "", "pod": "", "method": method, "headers": {}}


@dataclass
class TlsClient:
    """HTTPS as the Go suite's client does it: SNI = serverName, trust exactly one certificate, HTTP/1.1."""
    server_name: str
    trusted_pem: str


class _TlsConnection(http.client.HTTPConnection):
    """An HTTPSConnection that dials an IP address but sends the SNI (and checks the name) it is given."""

    def __init__(self, ip: str, port: int, tls: TlsClient, timeout: float):
        super().__init__(ip, port, timeout=timeout)
        self.tls = tls

    def connect(self) -> None:
        super().connect()
        self.sock = tls_wrap(self.sock, self.tls, "http/1.1")


def tls_wrap(sock: socket.socket, tls: TlsClient, alpn: str) -> ssl.SSLSocket:
    """The client side of the TLS handshake as Go's does it, offering one application protocol."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=tls.trusted_pem)
    ctx.set_alpn_protocols([alpn])
    # Go matches names itself (crypto/x509), including the suite's "*" and "*.org" SANs that
    # OpenSSL's own check refuses; the chain is still verified against the one trusted certificate.
    ctx.check_hostname = False
    wrapped = ctx.wrap_socket(sock, server_hostname=tls.server_name or None)
    cert = wrapped.getpeercert()
    names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    if not any(go_name_matches(n, tls.server_name) for n in names):
        raise ssl.SSLCertVerificationError(f"certificate names {names} do not cover {tls.server_name!r}")
    return wrapped


def go_name_matches(pattern: str, host: str) -> bool:
    """crypto/x509 matchHostnames: label by label, a leading "*" label matches exactly one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    p, h = pattern.split("."), host.split(".")
    if len(p) != len(h) or not host:
        return False
    return all(a == b or (i == 0 and a == "*") for i, (a, b) in enumerate(zip(p, h)))


def send_h2(ip: str, port: int, method: str, path: str, host: str, headers: dict[str, str], timeout: float,
            tls: TlsClient | None) -> Response:
    """One request over HTTP/2 on TLS (ALPN h2, as the Go suite's H2 cases), or in cleartext with prior
    knowledge without `tls` (H2C_PRIOR_KNOWLEDGE): a new connection, stream 1."""
    raw = socket.create_connection((ip, port), timeout=max(timeout, 0.2))
    conn = h2frames.RawH2.__new__(h2frames.RawH2)
    conn.buf = b""
    scheme = "https" if tls else "http"
    try:
        conn.sock = raw
        if tls:
            conn.sock = tls_wrap(raw, tls, "h2")
            if conn.sock.selected_alpn_protocol() != "h2":
                raise ssl.SSLError(f"ALPN chose {conn.sock.selected_alpn_protocol()!r}, not h2")
        conn.send(h2frames.PREFACE + h2frames.frame(h2frames.SETTINGS, 0, 0))
        extra = [("user-agent", "Go-http-client/2.0"), *((n.lower(), v) for n, v in sorted(headers.items())),
                 ("accept-encoding", "gzip")]
        block = h2frames.request_block(path, host, method, extra, scheme=scheme)
        conn.send(h2frames.frame(h2frames.HEADERS, h2frames.END_HEADERS | h2frames.END_STREAM, 1, block))
        decoder, fields, body, blocks = hpack_decode.Decoder(), None, b"", b""
        deadline = time.monotonic() + max(timeout, 0.2)
        while True:
            f = conn.frames_until(lambda f: f[2] in (0, 1) and f[0] in (
                h2frames.HEADERS, h2frames.CONTINUATION, h2frames.DATA, h2frames.RST_STREAM, h2frames.GOAWAY),
                deadline - time.monotonic())
            if f is None or f[0] in (h2frames.RST_STREAM, h2frames.GOAWAY):
                raise ConnectionError(f"HTTP/2 stream 1 ended without an answer: {f!r}")
            kind, flags, _, payload = f
            if kind in (h2frames.HEADERS, h2frames.CONTINUATION):
                blocks += payload  # no padding or priority flags from the servers under test
                if flags & h2frames.END_HEADERS:
                    decoded = decoder.decode(blocks)
                    blocks = b""
                    if fields is None:
                        fields = decoded  # trailers, if any, are not needed
            elif kind == h2frames.DATA:
                body += payload
            if flags & h2frames.END_STREAM:
                break
    finally:
        raw.close()
    status = int(dict(fields or [])[":status"]) if fields else 0
    hdrs = [(k, v) for k, v in fields or [] if not k.startswith(":")]
    if any(k == "content-encoding" and v.lower() == "gzip" for k, v in hdrs):
        body = gzip.decompress(body)
        hdrs = [(k, v) for k, v in hdrs if k not in ("content-encoding", "content-length")]
    return Response(status, hdrs, body, f"{scheme}://{ip}:{port}{path}")


def send(ip: str, port: int, method: str, path: str, host: str, headers: dict[str, str],
         follow: bool, timeout: float, tls: TlsClient | None = None) -> Response:
    """One request as the Go conformance client sends it: HTTP/1.1, a new connection, no keep-alive."""
    scheme = "https" if tls else "http"
    default_port = 443 if tls else 80
    url = f"{scheme}://{ip}:{port}{path}" if port != default_port else f"{scheme}://{ip}{path}"
    for _ in range(11):
        if tls:
            conn = _TlsConnection(ip, port, tls, timeout=max(timeout, 0.2))
        else:
            conn = http.client.HTTPConnection(ip, port, timeout=max(timeout, 0.2))
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            conn.putheader("User-Agent", "Go-http-client/1.1")
            for name in sorted(headers, key=canonical_header):
                conn.putheader(canonical_header(name), headers[name])
            conn.putheader("Accept-Encoding", "gzip")
            conn.putheader("Connection", "close")
            conn.endheaders()
            raw = conn.getresponse()
            body = raw.read()
            hdrs = list(raw.getheaders())
            status = raw.status
        finally:
            conn.close()
        if any(k.lower() == "content-encoding" and v.lower() == "gzip" for k, v in hdrs):
            # Go's transport asked for gzip itself, so it decompresses and hides the encoding.
            body = gzip.decompress(body)
            hdrs = [(k, v) for k, v in hdrs if k.lower() not in ("content-encoding", "content-length")]
        resp = Response(status, hdrs, body, url)
        location = resp.header_values("Location")
        if not follow or status not in (301, 302, 303, 307, 308) or not location:
            return resp
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location[0]))
        if target.scheme != scheme:
            return resp  # no scheme changes while following: neither suite case needs one
        # Like a resolver that maps every name to the gateway: dial the same address, send the new Host.
        if not urllib.parse.urlsplit(location[0]).netloc:
            pass  # relative: Go keeps a custom Host header
        else:
            host = target.netloc
        port = target.port or default_port
        if tls and urllib.parse.urlsplit(location[0]).netloc:
            tls = TlsClient(target.hostname or tls.server_name, tls.trusted_pem)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        if status == 303 or (status in (301, 302) and method not in ("GET", "HEAD")):
            method = "GET"
        url = urllib.parse.urlunsplit((scheme, target.netloc, target.path, target.query, ""))
    raise OSError("stopped after 10 redirects")


# --------------------------------------------------------------------------------------------
# Status


def conditions_latest(conditions: list[dict], generation) -> bool:
    return all(c.get("observedGeneration") == generation for c in conditions)


def find_condition(conditions: list[dict], ctype: str) -> dict | None:
    return next((c for c in conditions or [] if c.get("type") == ctype), None)


def condition_matches(actual: list[dict], want: dict) -> bool:
    c = find_condition(actual, want["type"])
    return bool(c) and c.get("status") == want["status"] and (not want.get("reason") or c.get("reason") == want["reason"])


def split_ref(ref: str) -> tuple[str, str]:
    ns, _, name = ref.partition("/")
    return ns, name


def parent_is(parent_ref: dict, gw_ns: str, gw_name: str, route_ns: str) -> bool:
    return (parent_ref.get("group", "gateway.networking.k8s.io") == "gateway.networking.k8s.io"
            and parent_ref.get("kind", "Gateway") == "Gateway"
            and parent_ref.get("name") == gw_name
            and parent_ref.get("namespace", route_ns) == gw_ns)


# --------------------------------------------------------------------------------------------
# One test


@dataclass
class CaseResult:
    name: str
    passed: bool
    reason: str = ""
    seconds: float = 0.0


@dataclass
class TestResult:
    name: str
    level: str
    features: list[str]
    provisional: bool
    result: str = "skipped"  # passed / failed / skipped
    skip_reason: str = ""
    cases: list[CaseResult] = field(default_factory=list)  # preconditions and cases, in run order
    n_cases: int = 0
    seconds: float = 0.0

    @property
    def first_failure(self) -> str:
        f = next((c for c in self.cases if not c.passed), None)
        return f"{f.name}: {f.reason}" if f else ""


class TestRun:
    """Runs one test of cases.json: config directory, gateway process, preconditions, cases."""

    def __init__(self, h: "Harness", test: dict, slot: int):
        self.h, self.test, self.slot = h, test, slot
        self.dir = h.workdir / "tests" / test["name"]
        self.cfg = self.dir / "config"
        self.result = TestResult(test["name"], test["conformanceLevel"], test["features"], test["provisional"])
        self.gateway_addr: dict[str, str] = {}  # "ns/name" -> IP
        self.files: list[ConfigFile] = []
        self.proc: subprocess.Popen | None = None
        self.admin_port = 0
        self.log_lines: list[str] = []
        self.scale = h.args.consistency_timeout / 30.0

    def log(self, msg: str) -> None:
        if self.h.args.verbose:
            self.h.say(f"  [{self.test['name']}] {msg}")

    # ---- configuration

    def build_config(self) -> None:
        h = self.h
        sub = lambda t: t.replace("{GATEWAY_CLASS_NAME}", CLASS_NAME).replace("{CONTROLLER_NAME}", CONTROLLER_NAME)
        test_text = (h.conf_dir / self.test["manifests"]).read_text()
        self.files = [
            ConfigFile("00-base.yaml", parse_docs(sub(h.base_text))),
            ConfigFile("01-gatewayclass.yaml", parse_docs(sub(h.class_text))),
            ConfigFile("02-secrets.yaml", [Doc(yaml.safe_dump(s, sort_keys=False), s) for s in h.secrets]),
            ConfigFile("10-test.yaml", parse_docs(sub(test_text))),
        ]
        services = [d.obj for f in self.files for d in f.docs if d.obj and d.obj.get("kind") == "Service"]
        slices = endpoint_slices(services, h.pods, random.Random())
        self.files.insert(3, ConfigFile("03-endpointslices.yaml",
                                        [Doc(yaml.safe_dump(s, sort_keys=False), s) for s in slices]))
        n = 0
        for f in self.files:
            for d in f.docs:
                if d.obj and d.obj.get("kind") == "Gateway":
                    n += 1
                    ip = f"{GATEWAY_RANGE}.{self.slot}.{n}"
                    with_gateway_address(d, ip)
                    _, ns, name = object_key(d.obj)
                    self.gateway_addr[f"{ns}/{name}"] = ip
        self.write_config()

    def write_config(self) -> None:
        self.cfg.mkdir(parents=True, exist_ok=True)
        for f in self.files:
            text = "".join((d.text if d.text.endswith("\n") else d.text + "\n") + "---\n" for d in f.docs)
            (self.cfg / f.name).write_text(text)

    def find_doc(self, kind: str, ns: str, name: str) -> tuple[ConfigFile, Doc] | None:
        for f in self.files:
            for d in f.docs:
                if d.obj and object_key(d.obj) == (kind, ns, name):
                    return f, d
        return None

    def reload(self) -> None:
        self.write_config()
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGHUP)

    # ---- gateway process

    def start_gateway(self) -> str | None:
        """Starts mirrorgate on the config; returns None when ready, else why not."""
        self.admin_port = free_port()
        log = self.dir / "gateway.log"
        self.proc = spawn([self.h.args.gateway_bin, "-c", str(self.cfg), "--workers", "1",
                           "--admin", f"127.0.0.1:{self.admin_port}",
                           "--access-log", str(self.dir / "access.log")], log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"gateway exited with status {self.proc.returncode}: {tail(log)}"
            try:
                if http_get("127.0.0.1", self.admin_port, "/ready", timeout=1.0)[0] == 200:
                    return None
            except OSError:
                pass
            time.sleep(0.05)
        return f"gateway not ready after {START_TIMEOUT:.0f}s: {tail(log)}"

    # ---- status

    def read_status(self) -> dict[tuple[str, str, str], dict]:
        status, body = http_get("127.0.0.1", self.admin_port, "/status", timeout=5.0)
        if status == 404:
            raise StatusUnavailable()
        if status != 200:
            raise OSError(f"GET /status answered {status}")
        items = json.loads(body).get("items") or []
        return {object_key(o): o for o in items if isinstance(o, dict)}

    def poll_status(self, check, limit: float, wait: bool = True) -> str | None:
        """Polls check(objects) -> None (passed) or a reason, every 100 ms until `limit` seconds."""
        deadline = time.monotonic() + (limit if wait else 0)
        reason = "no answer"
        while True:
            try:
                reason = check(self.read_status())
            except StatusUnavailable:
                return "status endpoint not available"
            except (OSError, ValueError, http.client.HTTPException) as e:
                reason = f"cannot read /status: {e}"
            if reason is None:
                return None
            if time.monotonic() >= deadline:
                return reason
            time.sleep(POLL_INTERVAL)

    def status_check(self, c: dict, wait: bool = True) -> str | None:
        limit = STATUS_LIMIT_AT_DEFAULT * self.scale
        kind = c["check"]
        if kind == "namespacesReady":
            return self.poll_status(lambda objs: self.namespaces_ready(objs, c["namespaces"]), limit, wait)
        if kind == "gatewayAndRoutesAccepted":
            return self.poll_status(lambda objs: self.gateway_and_routes_accepted(objs, c), limit, wait)
        if kind == "routeCondition":
            return self.poll_status(lambda objs: self.route_condition(objs, c), limit, wait)
        if kind == "routeParents":
            return self.poll_status(lambda objs: self.route_parents(objs, c), limit, wait)
        if kind == "routeHasNoAcceptedParents":
            empty_polls = [0]
            return self.poll_status(lambda objs: self.route_no_accepted_parents(objs, c, empty_polls), limit, wait)
        if kind == "gatewayHasZeroRoutes":
            return self.poll_status(lambda objs: self.gateway_zero_routes(objs, c), limit, wait)
        if kind == "gatewayListeners":
            return self.poll_status(lambda objs: self.gateway_listeners(objs, c), limit, wait)
        if kind == "observedGenerationBump":
            return self.generation_bump(c, limit)
        return f"unknown status check {kind!r}"

    @staticmethod
    def get(objs, kind: str, ref: str) -> dict | None:
        ns, name = split_ref(ref)
        return objs.get((kind, ns, name))

    def namespaces_ready(self, objs, namespaces: list[str]) -> str | None:
        for ns in namespaces:
            names = [n for n in self.gateway_addr if split_ref(n)[0] == ns]
            for ref in names:
                gw = self.get(objs, "Gateway", ref)
                if gw is None:
                    return f"Gateway {ref} not in /status"
                conds = (gw.get("status") or {}).get("conditions") or []
                for t in ("Accepted", "Programmed"):
                    if not condition_matches(conds, {"type": t, "status": "True"}):
                        return f"Gateway {ref}: expected {t}=True, got {find_condition(conds, t)}"
                gen = (gw.get("metadata") or {}).get("generation")
                if not conditions_latest(conds, gen):
                    return f"Gateway {ref}: conditions not at observedGeneration {gen}"
        return None  # pods: the harness only starts when every echo pod answers /health

    def route_parent(self, route: dict, gw_ref: str) -> dict | None:
        gw_ns, gw_name = split_ref(gw_ref)
        route_ns = (route.get("metadata") or {}).get("namespace", "default")
        for p in (route.get("status") or {}).get("parents") or []:
            if parent_is(p.get("parentRef") or {}, gw_ns, gw_name, route_ns):
                return p
        return None

    def gateway_and_routes_accepted(self, objs, c: dict) -> str | None:
        gw_ref = c["gateway"]
        gw = self.get(objs, "Gateway", gw_ref)
        if gw is None:
            return f"Gateway {gw_ref} not in /status"
        gst = gw.get("status") or {}
        if not gst.get("addresses"):
            return f"Gateway {gw_ref}: status.addresses is empty"
        for route_ref in c.get("routes") or []:
            route = self.get(objs, "HTTPRoute", route_ref)
            if route is None:
                return f"HTTPRoute {route_ref} not in /status"
            p = self.route_parent(route, gw_ref)
            if p is None:
                return f"HTTPRoute {route_ref}: no status.parents entry for Gateway {gw_ref}"
            if p.get("controllerName") != CONTROLLER_NAME:
                return f"HTTPRoute {route_ref}: controllerName {p.get('controllerName')!r}, expected {CONTROLLER_NAME!r}"
            if "namespace" not in (p.get("parentRef") or {}):
                return f"HTTPRoute {route_ref}: parentRef without namespace"
            conds = p.get("conditions") or []
            if not condition_matches(conds, {"type": "Accepted", "status": "True", "reason": "Accepted"}):
                return f"HTTPRoute {route_ref}: expected Accepted=True/Accepted, got {find_condition(conds, 'Accepted')}"
            gen = (route.get("metadata") or {}).get("generation")
            if not conditions_latest(conds, gen):
                return f"HTTPRoute {route_ref}: parent conditions not at observedGeneration {gen}"
        for listener in gst.get("listeners") or []:
            for t in ("ResolvedRefs", "Accepted", "Programmed"):
                if not condition_matches(listener.get("conditions") or [], {"type": t, "status": "True"}):
                    return f"Gateway {gw_ref} listener {listener.get('name')}: expected {t}=True, " \
                           f"got {find_condition(listener.get('conditions'), t)}"
        if not gst.get("listeners"):
            return f"Gateway {gw_ref}: status.listeners is empty"
        return None

    def route_condition(self, objs, c: dict) -> str | None:
        route = self.get(objs, "HTTPRoute", c["route"])
        if route is None:
            return f"HTTPRoute {c['route']} not in /status"
        p = self.route_parent(route, c["gateway"])
        if p is None:
            return f"HTTPRoute {c['route']}: no status.parents entry for Gateway {c['gateway']}"
        conds = p.get("conditions") or []
        want = c["condition"]
        if not condition_matches(conds, want):
            return f"HTTPRoute {c['route']}: expected {want['type']}={want['status']}" \
                   f"{'/' + want['reason'] if want.get('reason') else ''}, got {find_condition(conds, want['type'])}"
        gen = (route.get("metadata") or {}).get("generation")
        if not conditions_latest(conds, gen):
            return f"HTTPRoute {c['route']}: parent conditions not at observedGeneration {gen}"
        return None

    def route_parents(self, objs, c: dict) -> str | None:
        route = self.get(objs, "HTTPRoute", c["route"])
        if route is None:
            return f"HTTPRoute {c['route']} not in /status"
        actual = (route.get("status") or {}).get("parents") or []
        for want in c["parents"]:
            wref = want["parentRef"]
            ctrl = want["controllerName"].replace("{CONTROLLER_NAME}", CONTROLLER_NAME)
            ok = False
            for p in actual:
                aref = p.get("parentRef") or {}
                if p.get("controllerName") != ctrl:
                    continue
                if any(aref.get(k, {"group": "gateway.networking.k8s.io", "kind": "Gateway"}.get(k)) != v
                       for k, v in wref.items() if k != "namespace"):
                    continue
                if "namespace" in wref and (aref.get("namespace") != wref["namespace"]
                                            if c.get("namespaceRequired") or "namespace" in aref else False):
                    continue
                if all(condition_matches(p.get("conditions") or [], w) for w in want.get("conditions") or []):
                    ok = True
                    break
            if not ok:
                return f"HTTPRoute {c['route']}: expected a parent {json.dumps(want)}, got {json.dumps(actual)}"
        return None

    def route_no_accepted_parents(self, objs, c: dict, empty_polls: list[int]) -> str | None:
        route = self.get(objs, "HTTPRoute", c["route"])
        if route is None:
            return f"HTTPRoute {c['route']} not in /status"
        parents = (route.get("status") or {}).get("parents") or []
        if not parents:
            empty_polls[0] += 1
            return None if empty_polls[0] >= 2 else "status.parents empty (waiting for a second poll)"
        empty_polls[0] = 0
        if len(parents) == 1 and condition_matches(parents[0].get("conditions") or [],
                                                    {"type": "Accepted", "status": "False"}):
            return None
        return f"HTTPRoute {c['route']}: expected no accepted parents, got {json.dumps(parents)}"

    def gateway_zero_routes(self, objs, c: dict) -> str | None:
        gw = self.get(objs, "Gateway", c["gateway"])
        if gw is None:
            return f"Gateway {c['gateway']} not in /status"
        listeners = (gw.get("status") or {}).get("listeners") or []
        if not listeners or (len(listeners) == 1 and listeners[0].get("attachedRoutes") == 0):
            return None
        return f"Gateway {c['gateway']}: expected 0 attached routes, got listeners " \
               f"{[(l.get('name'), l.get('attachedRoutes')) for l in listeners]}"

    def gateway_listeners(self, objs, c: dict) -> str | None:
        gw = self.get(objs, "Gateway", c["gateway"])
        if gw is None:
            return f"Gateway {c['gateway']} not in /status"
        actual = {l.get("name"): l for l in (gw.get("status") or {}).get("listeners") or []}
        wanted = {l["name"]: l for l in c["listeners"]}
        if set(actual) != set(wanted):
            return f"Gateway {c['gateway']}: expected listeners {sorted(wanted)}, got {sorted(actual)}"
        for name, w in wanted.items():
            a = actual[name]
            kinds = [(k.get("group", "gateway.networking.k8s.io"), k.get("kind")) for k in a.get("supportedKinds") or []]
            for k in w.get("supportedKinds") or []:
                if (k.get("group", "gateway.networking.k8s.io"), k["kind"]) not in kinds:
                    return f"listener {name}: supportedKinds {kinds} lacks {k}"
            if a.get("attachedRoutes") != w["attachedRoutes"]:
                return f"listener {name}: expected attachedRoutes {w['attachedRoutes']}, got {a.get('attachedRoutes')}"
            for cond in w.get("conditions") or []:
                if not condition_matches(a.get("conditions") or [], cond):
                    return f"listener {name}: expected {cond['type']}={cond['status']}, " \
                           f"got {find_condition(a.get('conditions'), cond['type'])}"
        return None

    def generation_bump(self, c: dict, limit: float) -> str | None:
        route_ref, gw_ref = c["route"], c["gateway"]
        ns, name = split_ref(route_ref)
        reason = self.poll_status(lambda o: self.namespaces_ready(o, [ns]), limit)
        if reason:
            return reason

        def all_latest(objs, generation=None):
            route = self.get(objs, "HTTPRoute", route_ref)
            if route is None:
                return f"HTTPRoute {route_ref} not in /status"
            gen = (route.get("metadata") or {}).get("generation")
            if generation is not None and gen != generation:
                return f"HTTPRoute {route_ref}: metadata.generation {gen}, expected {generation}"
            for p in (route.get("status") or {}).get("parents") or []:
                if not conditions_latest(p.get("conditions") or [], gen):
                    return f"HTTPRoute {route_ref}: parent conditions not at observedGeneration {gen}"
            return None

        reason = self.poll_status(all_latest, limit)
        if reason:
            return reason
        original = (self.get(self.read_status(), "HTTPRoute", route_ref).get("metadata") or {}).get("generation", 1)
        found = self.find_doc("HTTPRoute", ns, name)
        if not found:
            return f"HTTPRoute {route_ref} not in the test manifests"
        _, doc = found
        obj = json.loads(json.dumps(doc.obj))
        obj["spec"]["rules"][0]["backendRefs"][0]["name"] = "infra-backend-v2"
        obj["metadata"]["generation"] = int(original) + 1  # what the API server does on a spec change
        doc.set_obj(obj)
        self.reload()
        for step in (
            lambda o: self.route_condition(o, {"route": route_ref, "gateway": gw_ref,
                                               "condition": {"type": "Accepted", "status": "True", "reason": ""}}),
            lambda o: self.route_condition(o, {"route": route_ref, "gateway": gw_ref,
                                               "condition": {"type": "ResolvedRefs", "status": "True",
                                                             "reason": "ResolvedRefs"}}),
            lambda o: all_latest(o, int(original) + 1),
        ):
            reason = self.poll_status(step, limit)
            if reason:
                return reason
        return None

    # ---- request cases

    def target(self, c: dict) -> tuple[str, int]:
        ip = self.gateway_addr.get(c.get("gateway") or self.test["gateway"])
        if ip is None:
            raise KeyError(f"Gateway {c.get('gateway')} is not in the configuration")
        return ip, int(c.get("port", 80))

    def default_host(self, ip: str, port: int) -> str:
        return ip if port == 80 else f"{ip}:{port}"

    def request_headers(self, c: dict) -> dict[str, str]:
        headers = dict((c.get("request") or {}).get("headers") or {})
        pairs = ",".join(f"{k}:{v}" for k, v in (c.get("backendSetResponseHeaders") or {}).items())
        headers["X-Echo-Set-Header"] = pairs
        return headers

    def judge(self, c: dict, resp: Response, method: str, expected_path: str | None) -> str | None:
        """The Go suite's CompareRoundTrip, in its order; None when the attempt passes."""
        want = c.get("response") or {}
        codes = want.get("statusCodes") or [200]
        if resp.status in (408, 504) and (408 in codes or 504 in codes):
            return None
        if resp.status not in codes:
            return f"expected status {codes}, got {resp.status}"
        if resp.status in (200, 204):
            exp = c.get("expectedRequest") or {}
            echo = resp.echo(method)
            if exp.get("host") is not None and exp["host"] != "" and echo.get("host") != exp["host"]:
                return f"expected host {exp['host']!r}, got {echo.get('host')!r}"
            if expected_path is not None and echo.get("path") != expected_path:
                return f"expected path {expected_path!r}, got {echo.get('path')!r}"
            if exp.get("method") and echo.get("method") != exp["method"]:
                return f"expected method {exp['method']!r}, got {echo.get('method')!r}"
            if "namespace" in c and echo.get("namespace") != c["namespace"]:
                return f"expected namespace {c['namespace']!r}, got {echo.get('namespace')!r}"
            echo_headers = {k.lower(): v for k, v in (echo.get("headers") or {}).items()}
            for name, value in (exp.get("headers") or {}).items():
                got = echo_headers.get(name.lower())
                if got is None:
                    return f"expected request header {name}: {value!r}, backend got none"
                joined = ",".join(got) if isinstance(got, list) else str(got)
                if joined != value:
                    return f"expected request header {name}: {value!r}, backend got {joined!r}"
            strip = (lambda s: s.replace(" ", "")) if want.get("ignoreWhitespace") else (lambda s: s)
            for name, values in (want.get("validHeaderValues") or {}).items():
                got = resp.header_values(name)
                if got is None or strip(",".join(got)) not in [strip(v) for v in values]:
                    return f"expected response header {name} in {values!r}, got {got!r}"
            for name, value in (want.get("headers") or {}).items():
                got = resp.header_values(name)
                if got is None or strip(",".join(got)) != strip(value):
                    return f"expected response header {name}: {value!r}, got {got!r}"
            for name in want.get("absentHeaders") or []:
                if resp.header_values(name) is not None:
                    return f"expected no response header {name}, got {resp.header_values(name)!r}"
            for name in exp.get("absentHeaders") or []:
                if name.lower() in echo_headers:
                    return f"expected no request header {name} at the backend, got {echo_headers[name.lower()]!r}"
            if c.get("backend") and not str(echo.get("pod", "")).startswith(c["backend"]):
                return f"expected pod of {c['backend']!r}, got {echo.get('pod')!r}"
        elif 300 <= resp.status < 400 and c.get("redirectRequest"):
            r = c["redirectRequest"]
            loc = resp.header_values("Location")
            if not loc:
                return "expected a Location header"
            u = urllib.parse.urlsplit(urllib.parse.urljoin(resp.url, loc[0]))
            scheme = r.get("scheme") or c.get("scheme", "http")
            if u.scheme != scheme:
                return f"expected redirect scheme {scheme!r}, got {u.scheme!r} ({loc[0]})"
            if r.get("host") and u.hostname != r["host"]:
                return f"expected redirect host {r['host']!r}, got {u.hostname!r} ({loc[0]})"
            port = str(u.port) if u.port else ""
            if r.get("port") is not None:
                if port != str(r["port"]):
                    return f"expected redirect port {r['port']}, got {port!r} ({loc[0]})"
            elif port not in ("", "443" if u.scheme == "https" else "80"):
                return f"expected no redirect port, got {port!r} ({loc[0]})"
            if r.get("path") is not None and u.path != r["path"]:
                return f"expected redirect path {r['path']!r}, got {u.path!r} ({loc[0]})"
        return None

    def attempt(self, c: dict, path: str, expected_path: str | None, timeout: float) -> str | None:
        ip, port = self.target(c)
        req = c.get("request") or {}
        method = req.get("method", "GET")
        host = req.get("host") or self.default_host(ip, port)
        tls = None
        if c.get("scheme") == "https" or c.get("protocol") in ("HTTPS", "H2"):
            t = c.get("tls") or {}
            pem = self.h.secret_certificates.get(t.get("trustCertificateFromSecret", ""))
            if pem is None:
                return f"no generated Secret {t.get('trustCertificateFromSecret')!r} to trust"
            tls = TlsClient(t.get("serverName") or host.rsplit(":", 1)[0], pem)
        try:
            if c.get("protocol") in ("H2", "H2C_PRIOR_KNOWLEDGE"):
                resp = send_h2(ip, port, method, path, host, self.request_headers(c), timeout, tls)
            else:
                resp = send(ip, port, method, path, host, self.request_headers(c),
                            follow=not req.get("unfollowRedirect"), timeout=timeout, tls=tls)
        except (OSError, http.client.HTTPException, ValueError) as e:
            return f"request failed: {type(e).__name__}: {e}"
        return self.judge(c, resp, method, expected_path)

    def converge(self, c: dict, path: str, expected_path: str | None, attempt=None) -> str | None:
        """Repeat until CONSECUTIVE attempts in a row pass, or the consistency timeout is spent."""
        attempt = attempt or self.attempt
        deadline = time.monotonic() + self.h.args.consistency_timeout
        fresh = c.get("freshUuidPerAttempt")
        successes, last = 0, "no attempt made"
        while True:
            p, ep = path, expected_path
            if fresh:
                u = str(uuid.uuid4())
                p, ep = p.replace("{uuid}", u), ep.replace("{uuid}", u) if ep is not None else None
            remaining = deadline - time.monotonic()
            reason = attempt(c, p, ep, min(REQUEST_TIMEOUT, max(remaining, 0.2)))
            if reason is None:
                successes += 1
                if successes >= CONSECUTIVE:
                    return None
                if time.monotonic() >= deadline:
                    return f"only {successes} consecutive passes within {self.h.args.consistency_timeout:g}s"
                continue
            successes, last = 0, reason
            if time.monotonic() + POLL_INTERVAL >= deadline:
                return f"{last} (no convergence within {self.h.args.consistency_timeout:g}s)"
            time.sleep(POLL_INTERVAL)

    def websocket_case(self, c: dict) -> str | None:
        """Dial, then each exchange step: send a frame, expect its payload back (the type is not judged:
        echo-basic answers every message as text). The whole dial+exchange converges like a request."""
        if c.get("scheme", "ws") != "ws":
            return "protocol not supported by harness"
        return self.converge(c, (c.get("request") or {}).get("path", "/"), None, self.websocket_attempt)

    def websocket_attempt(self, c: dict, path: str, _expected: str | None, timeout: float) -> str | None:
        ip, port = self.target(c)
        req = c.get("request") or {}
        origin = (req.get("origin") or "http://localhost").replace(
            "<full Go test name>", f"TestConformance/{self.test['name']}/{c['name'].replace(' ', '_')}")
        extra = {"Sec-WebSocket-Protocol": req["subprotocol"]} if req.get("subprotocol") else None
        try:
            with wsframes.WebSocket.connect(ip, port, path, req.get("host") or self.default_host(ip, port),
                                            origin, timeout, extra) as ws:
                for i, step in enumerate(c.get("exchange") or []):
                    send, want = step["send"], step["expectReply"]
                    data = send["data"].encode() if "data" in send else bytes.fromhex(send["dataHex"])
                    ws.send(wsframes.TEXT if send.get("type") == "text" else wsframes.BINARY, data)
                    _, got = ws.recv_message()
                    expected = want["data"].encode() if "data" in want else bytes.fromhex(want["dataHex"])
                    if got != expected:
                        return f"exchange {i + 1}: reply {got!r}, expected {expected!r}"
                ws.send(wsframes.CLOSE, b"\x03\xe8")
        except (OSError, ValueError) as e:
            return f"websocket failed: {type(e).__name__}: {e}"
        return None

    def mirror_pods(self, m: dict) -> list[Pod]:
        return [p for p in self.h.pods if p.namespace == m["namespace"] and p.labels.get("app") == m["backend"]]

    def http_case(self, c: dict) -> str | None:
        if c.get("protocol", "HTTP") not in SUPPORTED_PROTOCOLS or c.get("scheme", "http") not in ("http", "https"):
            return "protocol not supported by harness"
        req = c.get("request") or {}
        path = req.get("path", "/")
        exp = c.get("expectedRequest")
        expected_path = exp.get("path") if exp else None
        if c.get("requestIdQueryParam"):
            rid = str(uuid.uuid4())
            path = with_request_id(path, rid)
            expected_path = with_request_id(expected_path, rid) if expected_path else expected_path
        offsets = {p.name: p.log_size() for m in c.get("mirroredTo") or [] for p in self.mirror_pods(m)}
        started = time.monotonic()
        reason = self.converge(c, path, expected_path)
        if reason:
            return reason
        for m in c.get("mirroredTo") or []:
            if "percent" in m:
                continue  # judged by mirrorDistribution below
            pods = self.mirror_pods(m)
            if not pods:
                return f"no pods of mirror backend {m['namespace']}/{m['backend']}"
            needle = f"Echoing back request made to {path} to client"
            # Go's log watchers start with the case and look for 10 s; we start looking at the same
            # moment (log offsets above) and keep the case within the consistency timeout + 1 s.
            wait = min(REQUEST_TIMEOUT, self.h.args.consistency_timeout)
            deadline = max(started + wait, time.monotonic() + 1.0)
            while not any(needle in p.log_since(offsets.get(p.name, 0)) for p in pods):
                if time.monotonic() >= deadline:
                    return f"mirror {m['backend']}: expected a log line {needle!r} within {wait:g}s, none seen"
                time.sleep(POLL_INTERVAL)
        if c.get("mirrorDistribution"):
            return self.mirror_distribution(c, req.get("path", "/"), exp.get("path") if exp else None)
        return None

    def mirror_distribution(self, c: dict, path: str, expected_path: str | None) -> str | None:
        md = c["mirrorDistribution"]
        reason = "no check made"
        for check in range(md.get("maxChecks", 5)):
            rid = str(uuid.uuid4())
            p = with_request_id(path, rid)
            ep = with_request_id(expected_path, rid) if expected_path else expected_path
            offsets = {pod.name: pod.log_size() for pod in self.h.pods}
            with concurrent.futures.ThreadPoolExecutor(md.get("concurrency", 10)) as ex:
                results = list(ex.map(lambda _: self.converge_once(c, p, ep), range(md.get("requestsPerCheck", 500))))
            bad = next((r for r in results if r), None)
            if bad:
                return f"check {check + 1}: a request did not pass: {bad}"
            needle = f"Echoing back request made to {p} to client"
            reason = None
            for b in md["backends"]:
                pods = [x for x in self.h.pods if x.namespace == b["namespace"] and x.labels.get("app") == b["backend"]]
                # Mirrors are asynchronous: give the stragglers a moment (the count only grows).
                count, settle = 0, time.monotonic() + 2.0
                while True:
                    count = sum(x.log_since(offsets[x.name]).count(needle) for x in pods)
                    if count >= b["minCount"] or time.monotonic() >= settle:
                        break
                    time.sleep(POLL_INTERVAL)
                if not b["minCount"] <= count <= b["maxCount"]:
                    reason = f"check {check + 1}: {b['backend']} saw {count} mirrored requests, " \
                             f"expected {b['minCount']:.1f}..{b['maxCount']:.1f}"
                    break
            if reason is None:
                return None
            time.sleep(md.get("sleepAfterFailedCheckSeconds", 2))
        return reason

    def converge_once(self, c: dict, path: str, expected_path: str | None) -> str | None:
        """One request that must pass once, retried (100 ms apart) until the consistency timeout."""
        deadline = time.monotonic() + self.h.args.consistency_timeout
        while True:
            reason = self.attempt(c, path, expected_path, REQUEST_TIMEOUT)
            if reason is None or time.monotonic() >= deadline:
                return reason
            time.sleep(POLL_INTERVAL)

    def weight_case(self, c: dict) -> str | None:
        per = dict(c["perRequestExpectation"])
        probe = {"gateway": c["gateway"], "port": c["port"], "request": c["request"],
                 "response": {"statusCodes": per.get("statusCodes", [200])},
                 "expectedRequest": per.get("expectedRequest"), "namespace": per.get("namespace")}
        ip, port = self.target(c)
        total, conc = c.get("totalRequests", 500), c.get("concurrency", 10)
        weights = c["expectedWeights"]
        deadline = time.monotonic() + self.h.args.consistency_timeout
        reason = "no run made"

        def one(_):
            headers = self.request_headers(c)
            if random.random() < 0.5:
                headers["X-Jitter"] = str(random.randint(0, 9999))
            method = c["request"].get("method", "GET")
            try:
                resp = send(ip, port, method, c["request"]["path"], self.default_host(ip, port), headers,
                            True, REQUEST_TIMEOUT)
            except (OSError, http.client.HTTPException) as e:
                return None, f"request failed: {e}"
            bad = self.judge(probe, resp, method, (per.get("expectedRequest") or {}).get("path"))
            return ("-".join(str(resp.echo(method).get("pod", "")).split("-")[:-2]), bad)

        for run in range(c.get("maxAttempts", 10)):
            with concurrent.futures.ThreadPoolExecutor(conc) as ex:
                results = list(ex.map(one, range(total)))
            bad = next((r[1] for r in results if r[1]), None)
            counts: dict[str, int] = {}
            for backend, _ in results:
                counts[backend] = counts.get(backend, 0) + 1
            if bad:
                reason = f"run {run + 1}: {bad}"
            elif set(counts) - set(weights):
                reason = f"run {run + 1}: responses from unexpected backends {sorted(set(counts) - set(weights))}"
            elif len(counts) != sum(1 for w in weights.values() if w > 0):
                reason = f"run {run + 1}: expected backends {[b for b, w in weights.items() if w > 0]}, saw {counts}"
            else:
                off = {b: counts.get(b, 0) / total - w for b, w in weights.items()}
                worst = max(off, key=lambda b: abs(off[b]))
                if abs(off[worst]) <= c.get("tolerance", 0.05):
                    return None
                reason = f"run {run + 1}: shares {counts} of {total}, {worst} off its weight " \
                         f"{weights[worst]} by {off[worst]:+.3f}"
            if time.monotonic() >= deadline:
                break
        return reason

    def backend_header_case(self, c: dict) -> str | None:
        ip, port = self.target(c)
        name = c.get("header", "Backend")
        for i in range(c.get("requests", 100)):
            method = c["request"].get("method", "GET")
            try:
                resp = send(ip, port, method, c["request"]["path"], self.default_host(ip, port),
                            self.request_headers(c), True, REQUEST_TIMEOUT)
            except (OSError, http.client.HTTPException) as e:
                return f"request {i + 1}: request failed: {e}"
            echo = resp.echo(method)
            values = (echo.get("headers") or {}).get(name)
            if not isinstance(values, list) or len(values) != 1:
                return f"request {i + 1}: expected exactly one {name} header at the backend, got {values!r}"
            if not str(echo.get("pod", "")).startswith(values[0]):
                return f"request {i + 1}: {name} {values[0]!r} but answered by pod {echo.get('pod')!r}"
        return None

    def action(self, c: dict) -> str | None:
        if c["action"] == "delete":
            o = c["object"]
            found = self.find_doc(o["kind"], o.get("namespace", ""), o["name"])
            if not found:
                return f"{o['kind']} {o.get('namespace')}/{o['name']} not in the configuration"
            f, d = found
            f.docs.remove(d)
            self.reload()
            return None
        if c["action"] == "populateEndpointSlices":
            dns, dep = split_ref(c["fromPodsOf"])
            pods = [p for p in self.h.pods if p.namespace == dns and p.deployment == dep]
            for ref in c["endpointSlices"]:
                ns, name = split_ref(ref)
                found = self.find_doc("EndpointSlice", ns, name)
                if not found:
                    return f"EndpointSlice {ref} not in the configuration"
                _, d = found
                obj = json.loads(json.dumps(d.obj))
                if obj.get("addressType") == "IPv4":  # every pod here has an IPv4 address only
                    obj["endpoints"] = [endpoint(p) for p in pods]
                d.set_obj(obj)
            self.reload()
            return None
        return f"unknown action {c['action']!r}"

    def run_case(self, c: dict) -> str | None:
        kind = c["kind"]
        try:
            if kind == "http":
                return self.http_case(c)
            if kind == "status":
                return self.status_check(c)
            if kind == "action":
                return self.action(c)
            if kind == "weightDistribution":
                return self.weight_case(c)
            if kind == "backendHeaderMatchesPod":
                return self.backend_header_case(c)
            if kind == "websocket":
                return self.websocket_case(c)
            return f"unknown case kind {kind!r}"
        except KeyError as e:
            return f"harness: {e}"

    def record(self, name: str, reason: str | None, started: float) -> None:
        cr = CaseResult(name, reason is None, reason or "", time.monotonic() - started)
        self.result.cases.append(cr)
        self.log(f"{'PASS' if cr.passed else 'FAIL'} {name} ({cr.seconds:.1f}s){': ' + cr.reason if reason else ''}")

    def preconditions(self, items: list[dict], label: str) -> None:
        failed = False
        for i, pre in enumerate(items):
            started = time.monotonic()
            # After one failed precondition the rest are looked at once instead of each waiting its limit.
            reason = self.status_check(pre, wait=not failed)
            failed = failed or reason is not None
            what = pre.get("route") or pre.get("gateway") or ",".join(pre.get("namespaces") or [])
            self.record(f"{label}precondition {i + 1} {pre['check']} {what}", reason, started)

    def run(self) -> TestResult:
        t0 = time.monotonic()
        test = self.test
        self.result.n_cases = len(test["cases"])
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.build_config()
            why = self.start_gateway()
            if why:
                for c in test["cases"]:
                    self.result.cases.append(CaseResult(c["name"], False, why))
            else:
                self.preconditions(test.get("preconditions") or [], "")
                groups = [g["name"] for g in test.get("groups") or []]
                order = [None] + groups if any(not c.get("group") for c in test["cases"]) else groups
                group_pre = {g["name"]: g.get("preconditions") or [] for g in test.get("groups") or []}
                for g in order:
                    if g is not None:
                        self.preconditions(group_pre[g], f"{g}: ")
                    for c in test["cases"]:
                        if c.get("group") != g and not (g is None and not c.get("group")):
                            continue
                        started = time.monotonic()
                        self.record(c["name"], self.run_case(c), started)
                if self.proc.poll() is not None:
                    self.result.cases.append(CaseResult("gateway process", False,
                                                        f"gateway died (status {self.proc.returncode}): "
                                                        f"{tail(self.dir / 'gateway.log')}"))
        finally:
            if self.proc:
                stop(self.proc)
        self.result.result = "passed" if all(c.passed for c in self.result.cases) else "failed"
        self.result.seconds = time.monotonic() - t0
        return self.result


def with_request_id(path: str, rid: str) -> str:
    """Go's url.Values.Encode of the query plus the request id: keys sorted, values escaped."""
    base, _, query = path.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True) + [(REQUEST_ID_PARAM, rid)]
    pairs.sort(key=lambda kv: kv[0])
    return base + "?" + urllib.parse.urlencode(pairs)


# --------------------------------------------------------------------------------------------
# The run


class Harness:
    def __init__(self, args):
        self.args = args
        self.conf_dir = Path(args.conformance_dir)
        self.cases = json.loads((self.conf_dir / "cases.json").read_text())
        self.suite = json.loads((self.conf_dir / "suite.json").read_text())
        self.base_text = (self.conf_dir / "base" / "manifests.yaml").read_text()
        self.class_text = (self.conf_dir / "base" / "gatewayclass.yaml").read_text()
        self.workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mg-conformance-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pods: list[Pod] = []
        self.secrets: list[dict] = []
        self.secret_certificates: dict[str, str] = {}  # "namespace/name" -> tls.crt PEM, for HTTPS clients
        self.out_lock = threading.Lock()

    def say(self, msg: str) -> None:
        with self.out_lock:
            print(msg, flush=True)

    def claimed_features(self) -> tuple[set[str], str]:
        try:
            r = subprocess.run([self.args.gateway_bin, "--supported-features"], capture_output=True, text=True,
                               timeout=10)
            names = [l.strip() for l in r.stdout.splitlines() if l.strip()]
            if r.returncode == 0 and names and all(re.fullmatch(r"[A-Za-z0-9]+", n) for n in names):
                return set(names), f"{self.args.gateway_bin} --supported-features"
        except (OSError, subprocess.TimeoutExpired):
            pass
        path = Path(__file__).resolve().parent / "supported-features.txt"
        names = [l.split("#")[0].strip() for l in path.read_text().splitlines()]
        return {n for n in names if n}, str(path)

    def run(self) -> int:
        args = self.args
        for b in (args.gateway_bin, args.echo_bin):
            if not os.access(b, os.X_OK):
                raise HarnessError(f"binary not found or not executable: {b}")
        claimed, source = self.claimed_features()
        self.say(f"claimed features ({source}): {', '.join(sorted(claimed))}")
        selected = self.cases
        if args.run:
            names = [n.strip() for n in args.run.split(",") if n.strip()]
            unknown = set(names) - {t["name"] for t in self.cases}
            if unknown:
                raise HarnessError(f"unknown test(s): {', '.join(sorted(unknown))}")
            selected = [t for t in self.cases if t["name"] in names]
        results: dict[str, TestResult] = {}
        to_run = []
        for slot, t in enumerate(self.cases, start=1):
            if t not in selected:
                continue
            r = TestResult(t["name"], t["conformanceLevel"], t["features"], t["provisional"])
            r.n_cases = len(t["cases"])
            missing = [f for f in t["features"] if f not in claimed]
            if missing:
                r.skip_reason = "unsupported features: " + ", ".join(missing)
            elif t["provisional"] and args.skip_provisional:
                r.skip_reason = "provisional (--skip-provisional)"
            else:
                to_run.append((slot, t))
            results[t["name"]] = r
        if to_run:
            self.say(f"starting echo pods in {self.workdir}")
            self.pods = start_pods(self.suite, parse_docs(self.base_text), args.echo_bin, self.workdir)
            self.secrets = generate_secrets(self.workdir)
            self.secret_certificates = {
                f"{x['metadata']['namespace']}/{x['metadata']['name']}": base64.b64decode(x["data"]["tls.crt"]).decode()
                for x in self.secrets}

        def run_one(item):
            slot, t = item
            res = TestRun(self, t, slot).run()
            passed = sum(c.passed for c in res.cases)
            self.say(f"{res.result.upper():7} {res.name} ({passed}/{len(res.cases)} checks, {res.seconds:.1f}s)"
                     + (f": {res.first_failure}" if res.result == "failed" else ""))
            return res

        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            for res in ex.map(run_one, to_run):
                results[res.name] = res
        ordered = [results[t["name"]] for t in selected]
        self.print_table(ordered)
        self.print_top_reasons(ordered)
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(yaml.safe_dump(self.report(ordered, claimed), sort_keys=False, width=1000))
        self.say(f"report: {report}")
        if not args.keep:
            stop_all()
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            self.say(f"work directory kept: {self.workdir}")
        n = {k: sum(r.result == k for r in ordered) for k in ("passed", "failed", "skipped")}
        status = 1 if n["failed"] else 0
        if args.known_failures:
            # Known failures are still reported as failed; the exit code only guards against
            # regressions (a test failing that is not listed) and stale entries (a listed test passing).
            known = load_known_failures(Path(args.known_failures))
            unexpected = [r.name for r in ordered if r.result == "failed" and r.name not in known]
            fixed = [r.name for r in ordered if r.result == "passed" and r.name in known]
            for name in unexpected:
                self.say(f"REGRESSION: {name} failed and is not in {args.known_failures}")
            for name in fixed:
                self.say(f"STALE: {name} passes now; remove it from {args.known_failures}")
            for r in ordered:
                if r.result == "failed" and r.name in known:
                    self.say(f"known failure: {r.name}: {known[r.name]}")
            status = 1 if unexpected or fixed else 0
        self.say(f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped")
        return status

    def print_table(self, results: list[TestResult]) -> None:
        rows = [("test", "level", "result", "cases", "checks", "first failure / skip reason")]
        for r in results:
            case_names = {c["name"] for t in self.cases if t["name"] == r.name for c in t["cases"]}
            cases_ok = sum(c.passed for c in r.cases if c.name in case_names)
            cases = f"{cases_ok}/{r.n_cases}" if r.result != "skipped" else f"-/{r.n_cases}"
            checks = f"{sum(c.passed for c in r.cases)}/{len(r.cases)}" if r.result != "skipped" else "-"
            why = r.first_failure if r.result == "failed" else r.skip_reason
            level = r.level + (" (provisional)" if r.provisional else "")
            rows.append((r.name, level, r.result, cases, checks, why))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        self.say("")
        for row in rows:
            self.say("  ".join(row[i].ljust(widths[i]) for i in range(5)) + "  " + row[5])
        self.say("")

    def print_top_reasons(self, results: list[TestResult]) -> None:
        """The most common failure reasons over all checks, with request ids and numbers blurred."""
        counts: dict[str, set] = {}
        for r in results:
            for c in r.cases:
                if c.passed:
                    continue
                key = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", c.reason)
                key = re.sub(r" \(no convergence within [0-9.]+s\)", "", key)
                counts.setdefault(key, set()).add((r.name, c.name))
        if not counts:
            return
        self.say("top failure reasons (checks, tests):")
        top = sorted(counts.items(), key=lambda kv: -len(kv[1]))[:15]
        for reason, where in top:
            tests = sorted({t for t, _ in where})
            names = ", ".join(tests[:3]) + (f", +{len(tests) - 3} more" if len(tests) > 3 else "")
            self.say(f"  {len(where):4d}  {reason}  [{names}]")
        self.say("")

    def report(self, results: list[TestResult], claimed: set[str]) -> dict:
        def section(level: str) -> dict:
            # As upstream: extended tests skipped for an unclaimed feature are not counted, they show up
            # as unsupportedFeatures instead.
            rs = [r for r in results if r.level == level
                  and not (level == "extended" and r.skip_reason.startswith("unsupported features"))]
            stats = {k: sum(r.result == k.lower() for r in rs) for k in ("Passed", "Failed", "Skipped")}
            result = "failure" if stats["Failed"] else "partial" if stats["Skipped"] else "success"
            out = {"result": result, "statistics": stats}
            if stats["Failed"]:
                out["failedTests"] = [r.name for r in rs if r.result == "failed"]
            if stats["Skipped"]:
                out["skippedTests"] = [r.name for r in rs if r.result == "skipped"]
            return out

        all_features = sorted({f for t in self.cases for f in t["features"]} - {"Gateway", "HTTPRoute", "ReferenceGrant"})
        core, extended = section("core"), section("extended")
        extended["supportedFeatures"] = [f for f in all_features if f in claimed]
        extended["unsupportedFeatures"] = [f for f in all_features if f not in claimed]
        word = {"success": "succeeded", "partial": "partially succeeded", "failure": "failed"}
        return {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "ConformanceReport",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gatewayAPIVersion": self.suite["source"].get("gitDescribe") or self.suite["source"]["commit"],
            "gatewayAPIChannel": self.args.channel,
            "implementation": {
                "organization": "mirrorgate",
                "project": "mirrorgate",
                "url": self.args.impl_url,
                "version": self.args.impl_version or git_version(),
                "contact": [self.args.contact],
            },
            "mode": "default",
            "profiles": [{
                "name": "GATEWAY-HTTP",
                "core": core,
                "extended": extended,
                "summary": f"Core tests {word[core['result']]} with {core['statistics']['Passed']} test passes. "
                           f"Extended tests {word[extended['result']]} with "
                           f"{extended['statistics']['Passed']} test passes.",
            }],
        }


def git_version() -> str:
    try:
        r = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                           text=True, timeout=5)
        return r.stdout.strip() or "dev"
    except (OSError, subprocess.TimeoutExpired):
        return "dev"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conformance-dir", default=str(REPO.parent / "shared" / "conformance"),
                   help="folder with cases.json, suite.json, base/, tests/ (default: <repo>/../shared/conformance)")
    p.add_argument("--gateway-bin", default=os.environ.get("MG_GATEWAY_BIN") or str(REPO / "build" / "mirrorgate"))
    p.add_argument("--echo-bin", default=os.environ.get("MG_ECHO_BIN") or str(REPO / "build" / "mirrorgate-echo"))
    p.add_argument("--run", help="comma-separated test names to run (default: all)")
    p.add_argument("--consistency-timeout", type=float, default=30.0,
                   help="seconds a request case may take to converge (default 30, as the Go suite); "
                        "status polls scale with it (60 s at 30)")
    p.add_argument("--skip-provisional", action="store_true", help="skip tests marked provisional")
    p.add_argument("--jobs", type=int, default=1, help="tests run in parallel (each on its own addresses)")
    p.add_argument("--report", default=str(REPO / "build" / "conformance-report.yaml"))
    p.add_argument("--workdir", help="keep configs, pod and gateway logs here (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="do not delete the work directory at the end")
    p.add_argument("--channel", default="experimental", help="gatewayAPIChannel in the report")
    p.add_argument("--impl-url", default="https://mirrorgate.io", help="implementation.url in the report")
    p.add_argument("--impl-version", help="implementation.version in the report (default: git describe)")
    p.add_argument("--contact", default="mirrorgate maintainers", help="implementation.contact in the report")
    p.add_argument("--known-failures",
                   help="file of 'TestName  # why' lines: those failures are reported but do not fail the run")
    p.add_argument("-v", "--verbose", action="store_true", help="print every check as it finishes")
    args = p.parse_args(argv)
    if args.consistency_timeout <= 0:
        p.error("--consistency-timeout must be positive")
    if args.workdir:
        args.keep = True
    return args


def load_known_failures(path: Path) -> dict[str, str]:
    known = {}
    for line in path.read_text().splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            known[name.strip()] = why.strip()
    return known


def main(argv=None) -> int:
    args = parse_args(argv)

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        return Harness(args).run()
    except HarnessError as e:
        print(f"run_conformance: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
