"""Helpers for mirrorgate's end-to-end tests (standard library only).

The tests start the real binaries on loopback addresses: echo "pods" (mirrorgate-echo, one per
127.x.y.z address, on the container port 3000 as in Kubernetes) and the gateway with a config
written to a temporary directory. Every wait polls with a deadline, every socket has a timeout,
and every process started here runs in its own process group that is killed when the test ends,
also on failure, on SIGTERM (ctest timeout) and at interpreter exit.

Binaries come from MG_GATEWAY_BIN / MG_ECHO_BIN (set by CTest), falling back to build/.
"""

from __future__ import annotations

import atexit
import http.client
import http.server
import itertools
import json
import os
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
import unittest
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SOURCE_DIR = Path(os.environ.get("MG_SOURCE_DIR") or Path(__file__).resolve().parents[2])
GATEWAY_BIN = os.environ.get("MG_GATEWAY_BIN") or str(SOURCE_DIR / "build" / "mirrorgate")
ECHO_BIN = os.environ.get("MG_ECHO_BIN") or str(SOURCE_DIR / "build" / "mirrorgate-echo")
EXAMPLE_DIR = SOURCE_DIR / "examples" / "mirror"

# Sanitizer builds are several times slower; deadlines are generous, never load-bearing.
START_TIMEOUT = 20.0
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --------------------------------------------------------------------------------------------
# Waiting


class Abort(AssertionError):
    """Raised by a wait_for predicate to stop waiting at once (the process it waits for died)."""


def wait_for(predicate, timeout: float, what: str, interval: float = 0.01, detail=None):
    """Polls predicate() until it returns something truthy; returns that value.

    Raises AssertionError naming `what` when the deadline passes, with detail() appended when given
    (what the predicate last saw). Exceptions from the predicate count as "not yet" (a server that is
    not listening yet refuses connections), except Abort."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Abort:
            raise
        except Exception as e:  # noqa: BLE001 - "not yet" for any reason
            last_error = e
        if time.monotonic() >= deadline:
            seen = f"; last seen: {detail()}" if detail else ""
            error = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{seen}{error}")
        time.sleep(interval)
        interval = min(interval * 2, 0.1)


_ports_given: set[tuple[str, int]] = set()


def free_port(ip: str) -> int:
    """A port that is free on ip right now (the kernel's pick from the ephemeral range), never one this
    process was given before: the kernel may pick a port again once its probe socket is closed, and two
    listeners of one test given the same port fail at start-up (seen in CI: the admin and a listener)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
            port = s.getsockname()[1]
        if (ip, port) not in _ports_given:
            _ports_given.add((ip, port))
            return port
    raise RuntimeError(f"no port on {ip} that this test has not used already")


def port_open(ip: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ip:port now."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def unique_id() -> str:
    return uuid.uuid4().hex[:16]


# --------------------------------------------------------------------------------------------
# HTTP client


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        body = self.body[:300]
        return f"<Response {self.status} {self.reason} headers={self.headers} body={body!r}>"


def http_request(host: str, port: int, method: str = "GET", path: str = "/", headers=None,
                 body: bytes | None = None, timeout: float = 5.0,
                 encode_chunked: bool = False) -> Response:
    """One request on a fresh connection; raises on connection errors and timeouts."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}),
                     encode_chunked=encode_chunked)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data, time.monotonic() - start)
    finally:
        conn.close()


def get(host: str, port: int, path: str, **kw) -> Response:
    return http_request(host, port, "GET", path, **kw)


class RawConnection:
    """One keep-alive connection driven by hand: exactly one response is read per request, so
    a server that answers a request twice (or answers a request it did not get) shows up as a
    wrong answer to the next request."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.host = f"{host}:{port}"
        self.buf = bytearray()

    def _fill(self, need) -> None:
        while not need(self.buf):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed by peer; buffered: {bytes(self.buf[:200])!r}")
            self.buf += chunk

    def request(self, method: str, path: str, headers=None, body: bytes = b"") -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return self.read_response(method)

    def read_response(self, method: str) -> Response:
        """Reads exactly one response (to a request sent with `method`)."""
        start = time.monotonic()
        self._fill(lambda b: b"\r\n\r\n" in b)
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[:end + 4]
        _version, status, *reason = head[0].split(" ", 2)
        hdrs = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in head[1:])]
        hmap = {k.lower(): v for k, v in hdrs}
        data = bytearray()
        if method == "HEAD" or status in ("204", "304"):
            pass
        elif "chunked" in hmap.get("transfer-encoding", "").lower():
            while True:
                self._fill(lambda b: b"\r\n" in b)
                i = self.buf.index(b"\r\n")
                size = int(bytes(self.buf[:i]).split(b";")[0], 16)
                del self.buf[:i + 2]
                self._fill(lambda b, n=size: len(b) >= n + 2)
                data += self.buf[:size]
                del self.buf[:size + 2]
                if size == 0:
                    break
        elif "content-length" in hmap:
            n = int(hmap["content-length"])
            self._fill(lambda b: len(b) >= n)
            data += self.buf[:n]
            del self.buf[:n]
        else:
            raise AssertionError(f"response without Content-Length or chunked framing: {head}")
        return Response(int(status), reason[0] if reason else "", hdrs, bytes(data),
                        time.monotonic() - start)

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------------------------
# Prometheus text


_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Metrics:
    samples: list[tuple[str, dict[str, str], float]]
    text: str

    @classmethod
    def parse(cls, text: str) -> "Metrics":
        samples = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise AssertionError(f"unparsable metrics line: {line!r}")
            labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in
                      _LABEL_RE.findall(m.group(2) or "")}
            samples.append((m.group(1), labels, float(m.group(3))))
        return cls(samples, text)

    def get(self, name: str, **labels) -> float:
        """Sum of every series of `name` whose labels include `labels` (0 when there is none)."""
        return sum(v for n, l, v in self.samples
                   if n == name and all(l.get(k) == want for k, want in labels.items()))

    def series(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(l, v) for n, l, v in self.samples if n == name]


# --------------------------------------------------------------------------------------------
# Processes

_live: dict[int, "Proc"] = {}
# Other things to undo at exit or SIGTERM (a control plane started by kube.py), keyed by on_exit's token.
_exit_hooks: dict[int, Callable[[], None]] = {}
_exit_tokens = itertools.count()


def on_exit(hook: Callable[[], None]) -> int:
    """Runs hook() at interpreter exit or SIGTERM unless cancel_on_exit(token) came first."""
    token = next(_exit_tokens)
    _exit_hooks[token] = hook
    return token


def cancel_on_exit(token: int) -> None:
    _exit_hooks.pop(token, None)


def _kill_all_live(*_):
    for p in list(_live.values()):
        p.kill()
    for token, hook in list(_exit_hooks.items()):
        _exit_hooks.pop(token, None)
        try:
            hook()
        except Exception as e:  # noqa: BLE001 - the other hooks still run
            print(f"exit hook failed: {e!r}", file=sys.stderr)


def _on_sigterm(signum, frame):
    _kill_all_live()
    os._exit(128 + signum)


atexit.register(_kill_all_live)
signal.signal(signal.SIGTERM, _on_sigterm)


class Proc:
    """A started binary in its own process group, stdout and stderr captured in files."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          env=full_env, start_new_session=True)
        _live[self.popen.pid] = self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout_lines(self) -> list[str]:
        # Only complete lines: the process may be in the middle of writing the last one.
        text = self.stdout()
        return text.split("\n")[:-1]

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to the process group, SIGKILL if it has not exited by the deadline."""
        if self.popen.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.popen.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # also reaps anything the process left behind
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _live.pop(self.pid, None)

    def describe(self, lines: int = 25) -> str:
        def tail(path: Path) -> str:
            try:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                return ""
        return (f"--- {self.name} (pid {self.pid}, exit {self.popen.returncode}): {' '.join(self.argv)}\n"
                f"--- stdout (tail):\n{tail(self.stdout_path)}\n--- stderr (tail):\n{tail(self.stderr_path)}\n")


class EchoPod(Proc):
    def __init__(self, pod: str, ip: str, port: int, workdir: Path, namespace: str, service: str,
                 extra_args: list[str] | None = None, wrapper: list[str] | None = None):
        # wrapper: a command the pod runs under, e.g. ["ip", "netns", "exec", NS] (podnet.py).
        self.pod, self.ip, self.port = pod, ip, port
        env = {"POD_NAME": pod, "NAMESPACE": namespace, "SERVICE_NAME": service}
        super().__init__(pod, [*(wrapper or []), ECHO_BIN, "--listen", f"{ip}:{port}", *(extra_args or [])],
                         workdir, env)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        def ready():
            if not self.alive():
                raise Abort(f"echo pod exited during start-up:\n{self.describe()}")
            return get(self.ip, self.port, "/health", timeout=1).status == 200
        wait_for(ready, timeout, f"{self.pod} /health on {self.ip}:{self.port}")

    def echoed_paths(self) -> list[str]:
        """The request targets of the "Echoing back request made to <path> to client (...)" lines."""
        out = []
        for line in self.stdout_lines():
            m = re.match(r"^Echoing back request made to (.*) to client \((.*)\)$", line)
            if m:
                out.append(m.group(1))
        return out

    def has_echoed(self, path: str) -> bool:
        prefix = f"Echoing back request made to {path} to client ("
        return any(line.startswith(prefix) for line in self.stdout_lines())


class Gateway(Proc):
    def __init__(self, config: Path | None, workdir: Path, admin_ip: str, admin_port: int,
                 workers: int = 2, extra_args: list[str] | None = None, name: str = "mirrorgate"):
        # config None: the objects come from elsewhere (extra_args has --kubeconfig).
        self.admin_ip, self.admin_port = admin_ip, admin_port
        self.access_log_path = workdir / f"{name}.access.log"
        argv = [GATEWAY_BIN, *(["-c", str(config)] if config else []), "--workers", str(workers),
                "--admin", f"{admin_ip}:{admin_port}", "--access-log", str(self.access_log_path),
                *(extra_args or [])]
        super().__init__(name, argv, workdir)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        def ready():
            if not self.alive():
                raise Abort(f"gateway exited during start-up:\n{self.describe()}")
            return self.admin("/ready", timeout=1).status == 200
        wait_for(ready, timeout, f"gateway /ready on {self.admin_ip}:{self.admin_port}")

    def admin(self, path: str, timeout: float = 5.0) -> Response:
        return get(self.admin_ip, self.admin_port, path, timeout=timeout)

    def metrics(self) -> Metrics:
        r = self.admin("/metrics")
        if r.status != 200:
            raise AssertionError(f"GET /metrics: {r!r}")
        return Metrics.parse(r.body.decode())

    def access_log(self) -> list[dict]:
        """Complete JSON lines of the access log (a line still being written is skipped)."""
        try:
            text = self.access_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.split("\n")[:-1]:
            if line.strip():
                entries.append(json.loads(line))
        return entries

    def access_entries(self, request_id: str, mirror: bool) -> list[dict]:
        return [e for e in self.access_log()
                if e.get("request_id") == request_id and (e.get("type") == "mirror") == mirror]


# --------------------------------------------------------------------------------------------
# A capture backend: stands in for a pod when a test must see the exact bytes a backend got.


@dataclass
class Captured:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: tuple[str, int]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def https_server(ip: str, port: int, context, handler):
    """An http.server on ip:port behind TLS (`context`, an ssl.SSLContext for the server side), each
    connection in a thread of its own, already serving; handshakes that fail end quietly. shutdown() and
    server_close() stop it."""

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, addr = self.socket.accept()
            try:
                return context.wrap_socket(sock, server_side=True), addr
            except (ssl.SSLError, OSError):
                sock.close()
                raise

        def handle_error(self, request, client_address):
            pass  # handshakes the peer refuses end here

    server = Server((ip, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class ThreadedTcpServer:
    """A backend stand-in: listens on ip:port and serves every accepted connection in a thread of its
    own with self.serve(conn, peer, number) (number counts connections from 1). close() stops accepting,
    shuts every connection down and joins the threads. Subclasses write serve()."""

    def __init__(self, ip: str, port: int, backlog: int = 64, conn_timeout: float | None = 0.2,
                 rcvbuf: int | None = None):
        self.ip, self.port = ip, port
        self.errors: list[str] = []  # read by Cluster.dump()
        self.accepted = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.conn_timeout = conn_timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:  # inherited by accepted sockets
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((ip, port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.1)
        self.threads = [threading.Thread(target=self._accept_loop, daemon=True)]

    def start_accepting(self) -> None:
        """Call at the end of the subclass's __init__, once everything serve() uses exists."""
        self.threads[0].start()

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            if self.conn_timeout is not None:
                conn.settimeout(self.conn_timeout)
            with self.lock:
                self.accepted += 1
                number = self.accepted
                self.conns.append(conn)
            t = threading.Thread(target=self.serve, args=(conn, peer, number), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn: socket.socket, peer, number: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self, join_timeout: float = 2.0):
        self.stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self.threads:
            if t.is_alive() or t.ident:
                t.join(timeout=join_timeout)


class CaptureServer(ThreadedTcpServer):
    """A tiny HTTP/1.1 server in a thread: parses each request (Content-Length or chunked body),
    stores it, answers 200 `{}` (mode "ok") or never answers (mode "hang"). Keep-alive aware."""

    def __init__(self, ip: str, port: int, mode: str = "ok"):
        assert mode in ("ok", "hang")
        super().__init__(ip, port)
        self.mode = mode
        self.requests: list[Captured] = []
        self.start_accepting()

    def _recv(self, conn, buf: bytearray, need) -> bool:
        """Reads into buf until need(buf) is true; False on EOF or stop."""
        while not need(buf):
            if self.stop.is_set():
                return False
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return False
            if not chunk:
                return False
            buf += chunk
        return True

    def serve(self, conn: socket.socket, peer, number: int):
        buf = bytearray()
        try:
            while not self.stop.is_set():
                if not self._recv(conn, buf, lambda b: b"\r\n\r\n" in b):
                    return
                head_end = buf.index(b"\r\n\r\n")
                head = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
                del buf[:head_end + 4]
                method, target, _version = head[0].split(" ", 2)
                headers = []
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    headers.append((name.strip(), value.strip()))
                hmap = {k.lower(): v for k, v in headers}
                if hmap.get("expect", "").lower() == "100-continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = bytearray()
                if "chunked" in hmap.get("transfer-encoding", "").lower():
                    while True:
                        if not self._recv(conn, buf, lambda b: b"\r\n" in b):
                            return
                        line_end = buf.index(b"\r\n")
                        size = int(bytes(buf[:line_end]).split(b";")[0], 16)
                        del buf[:line_end + 2]
                        if size == 0:
                            # trailers, then the empty line
                            while True:
                                if not self._recv(conn, buf, lambda b: b"\r\n" in b):
                                    return
                                line_end = buf.index(b"\r\n")
                                trailer = bytes(buf[:line_end])
                                del buf[:line_end + 2]
                                if not trailer:
                                    break
                            break
                        if not self._recv(conn, buf, lambda b, n=size: len(b) >= n + 2):
                            return
                        body += buf[:size]
                        del buf[:size + 2]
                elif "content-length" in hmap:
                    n = int(hmap["content-length"])
                    if not self._recv(conn, buf, lambda b: len(b) >= n):
                        return
                    body += buf[:n]
                    del buf[:n]
                with self.lock:
                    self.requests.append(Captured(method, target, headers, bytes(body), peer))
                if self.mode == "hang":
                    self.stop.wait()
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n{}")
                if hmap.get("connection", "").lower() == "close":
                    return
        except Exception as e:  # noqa: BLE001 - recorded, the test asserts on it
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def find(self, pred) -> list[Captured]:
        with self.lock:
            return [r for r in self.requests if pred(r)]


# --------------------------------------------------------------------------------------------
# Manifests


def gatewayclass_yaml(name: str = "mirrorgate") -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: {name}
spec:
  controllerName: mirrorgate.io/gateway-controller
"""


def gateway_yaml(name: str, ip: str, port: int, namespace: str = "default",
                 class_name: str = "mirrorgate") -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: {name}
  namespace: {namespace}
spec:
  gatewayClassName: {class_name}
  addresses:
  - type: IPAddress
    value: {ip}
  listeners:
  - name: http
    protocol: HTTP
    port: {port}
"""


def https_gateway_yaml(name: str, ip: str, port: int, hostname: str, certificate_secret: str) -> str:
    """Gateway default/NAME on ip with one HTTPS listener "https" for hostname, terminating TLS with
    the certificate in Secret default/certificate_secret."""
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
  listeners:
  - name: https
    protocol: HTTPS
    port: {port}
    hostname: {hostname}
    tls:
      certificateRefs:
      - kind: Secret
        name: {certificate_secret}
"""


def route_yaml(name: str, gateway: str, prefix: str, backend: str, backend_port: int = 8080,
               mirror: str | None = None, mirror_port: int = 8080, namespace: str = "default",
               section: str = "http") -> str:
    filters = ""
    if mirror:
        filters = f"""    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: {mirror}
          port: {mirror_port}
"""
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {name}
  namespace: {namespace}
spec:
  parentRefs:
  - name: {gateway}
    sectionName: {section}
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: {prefix}
{filters}    backendRefs:
    - name: {backend}
      port: {backend_port}
"""


def service_yaml(name: str, port: int = 8080, target_port: int = 3000,
                 namespace: str = "default", app_protocol: str | None = None) -> str:
    """A Service selecting app=NAME with one port "http"; `app_protocol` sets its appProtocol
    (kubernetes.io/h2c, kubernetes.io/ws)."""
    extra = f"    appProtocol: {app_protocol}\n" if app_protocol else ""
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    protocol: TCP
    port: {port}
    targetPort: {target_port}
{extra}"""


def endpointslice_yaml(service: str, endpoints: list[tuple[str, str, bool]], port: int = 3000,
                       namespace: str = "default") -> str:
    """endpoints: (ip, pod name, ready)."""
    eps = "".join(f"""- addresses:
  - {ip}
  conditions:
    ready: {str(ready).lower()}
    serving: {str(ready).lower()}
    terminating: false
  targetRef:
    kind: Pod
    namespace: {namespace}
    name: {pod}
""" for ip, pod, ready in endpoints)
    eps_block = f"endpoints:\n{eps}" if endpoints else "endpoints: []\n"
    return f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-slice
  namespace: {namespace}
  labels:
    kubernetes.io/service-name: {service}
addressType: IPv4
ports:
- name: http
  protocol: TCP
  port: {port}
{eps_block}"""


def join_docs(*docs: str) -> str:
    return "---\n".join(docs)


def _replace_exact(text: str, pattern: str, repl: str, count: int, where: str) -> str:
    new, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if n != count:
        raise AssertionError(f"{where}: expected {count} match(es) of {pattern!r}, found {n}: "
                             "examples/mirror changed shape, update mgtest.copy_example")
    return new


def copy_example(dst: Path, gateway_ip: str, gateway_port: int, pod_ips: dict[str, str]) -> Path:
    """Copies examples/mirror into dst with the Gateway address/port and the pod addresses
    rewritten (old ip -> new ip), so tests never collide with a running demo. Returns dst."""
    dst.mkdir(parents=True, exist_ok=True)
    gw = (EXAMPLE_DIR / "gateway.yaml").read_text()
    gw = _replace_exact(gw, r"^    value: 127\.0\.0\.1$", f"    value: {gateway_ip}", 1, "gateway.yaml")
    gw = _replace_exact(gw, r"^    port: 8080$", f"    port: {gateway_port}", 1, "gateway.yaml")
    (dst / "gateway.yaml").write_text(gw)
    be = (EXAMPLE_DIR / "backends.yaml").read_text()
    for old, new in pod_ips.items():
        be = _replace_exact(be, rf"^  - {re.escape(old)}$", f"  - {new}", 1, "backends.yaml")
    (dst / "backends.yaml").write_text(be)
    for extra in EXAMPLE_DIR.iterdir():  # anything else the example grows (README is not YAML)
        if extra.suffix in (".yaml", ".yml") and not (dst / extra.name).exists():
            shutil.copy(extra, dst / extra.name)
    return dst


# The seed scenario's pods, as in examples/mirror/backends.yaml.
EXAMPLE_PODS = [
    ("infra-backend-v1-7d9c6b5f4-x8k2p", "127.0.0.2", "infra-backend-v1"),
    ("infra-backend-v1-7d9c6b5f4-q5w9n", "127.0.0.3", "infra-backend-v1"),
    ("infra-backend-v2-5d4f8b7c9d-k2x7q", "127.0.0.4", "infra-backend-v2"),
    ("infra-backend-v2-5d4f8b7c9d-m3t6v", "127.0.0.5", "infra-backend-v2"),
]


# --------------------------------------------------------------------------------------------
# A set of processes started for one test class


class Cluster:
    def __init__(self, name: str):
        self.dir = Path(tempfile.mkdtemp(prefix=f"mg-e2e-{name}-"))
        self.procs: list[Proc] = []
        self.captures: list[CaptureServer] = []

    def config_dir(self, name: str = "config") -> Path:
        d = self.dir / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def echo(self, pod: str, ip: str, port: int = 3000, namespace: str = "default",
             service: str | None = None, extra_args: list[str] | None = None,
             wrapper: list[str] | None = None) -> EchoPod:
        service = service if service is not None else re.sub(r"-[^-]+-[^-]+$", "", pod)
        p = EchoPod(pod, ip, port, self.dir, namespace, service, extra_args, wrapper)
        self.procs.append(p)
        return p

    def gateway(self, config: Path | None, admin_ip: str, admin_port: int | None = None,
                workers: int = 2, extra_args: list[str] | None = None,
                name: str = "mirrorgate") -> Gateway:
        admin_port = admin_port or free_port(admin_ip)
        g = Gateway(config, self.dir, admin_ip, admin_port, workers, extra_args, name)
        self.procs.append(g)
        return g

    def capture(self, ip: str, port: int, mode: str = "ok") -> CaptureServer:
        c = CaptureServer(ip, port, mode)
        self.captures.append(c)
        return c

    def dump(self) -> None:
        sys.stderr.write(f"\n===== processes of {self.dir} =====\n")
        for p in self.procs:
            sys.stderr.write(p.describe())
        for c in self.captures:
            sys.stderr.write(f"--- capture {c.ip}:{c.port}: {len(c.requests)} requests, errors {c.errors}\n")
        sys.stderr.flush()

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        for c in self.captures:
            c.close()
        if os.environ.get("MG_KEEP_TMP"):
            sys.stderr.write(f"kept {self.dir}\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Seed:
    gw: Gateway
    pods: list[EchoPod]
    ip: str  # the Gateway's address, and the admin listener's
    port: int
    config: Path


def start_seed(c: Cluster, net: str, extra_files: dict[str, str] | None = None,
               gateway_args: list[str] | None = None) -> Seed:
    """The seed scenario (examples/mirror) on the loopback block `net`: the Gateway and the admin listener on
    net.1, the pods on net.2-5, `extra_files` (name -> YAML) added to the config; every process ready."""
    pod_ips = {old: f"{net}.{old.rsplit('.', 1)[1]}" for _, old, _ in EXAMPLE_PODS}
    ip = f"{net}.1"
    port = free_port(ip)
    config = copy_example(c.config_dir(), ip, port, pod_ips)
    for name, text in (extra_files or {}).items():
        (config / name).write_text(text)
    pods = [c.echo(pod, pod_ips[old], service=svc) for pod, old, svc in EXAMPLE_PODS]
    gw = c.gateway(config, admin_ip=ip, extra_args=gateway_args)
    for p in pods:
        p.wait_ready()
    gw.wait_ready()
    return Seed(gw, pods, ip, port, config)


class DumpsOnFailure:
    """A TestCase mixin: after a failed test, prints the failure first (a CI excerpt shows the head of a
    long output, and the traceback would otherwise come last, after every test of the file), then what
    dump_processes() prints."""

    def dump_processes(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self, result=None):
        before = (len(result.failures), len(result.errors)) if result else (0, 0)
        out = super().run(result)
        if result is not None:
            new = result.failures[before[0]:] + result.errors[before[1]:]
            if new:
                sys.stderr.write(f"\n===== {self.id()} failed =====\n{new[-1][1]}")
                self.dump_processes()
        return out


class ClusterTestCase(DumpsOnFailure, unittest.TestCase):
    """One Cluster per test class, started by the class's `start(cluster)` classmethod and torn
    down after the last test. The processes' logs are printed when a test fails."""

    cluster: Cluster

    @classmethod
    def start(cls, cluster: Cluster) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.__name__)
        try:
            cls.start(cls.cluster)
        except BaseException:
            cls.cluster.dump()
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def dump_processes(self) -> None:
        self.cluster.dump()


def main() -> None:
    if not (os.access(GATEWAY_BIN, os.X_OK) and os.access(ECHO_BIN, os.X_OK)):
        sys.stderr.write(f"mgtest: binaries not found or not executable: MG_GATEWAY_BIN={GATEWAY_BIN} "
                         f"MG_ECHO_BIN={ECHO_BIN}\n")
        sys.exit(2)
    unittest.main(verbosity=2)
