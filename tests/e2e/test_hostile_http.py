"""Hostile HTTP/1 requests: request smuggling classics (CL.TE, TE.CL, TE.TE), malformed framing, bad
syntax, oversize heads and bad versions, each sent raw on a fresh connection. The client must get the
exact status RFC 9112 asks for, and the backend must receive nothing of it; the valid controls in the
same table must arrive as exactly the expected well-formed requests.

The backend is a capture server written here: it records every byte it receives per connection and
answers each request it can parse with `200 ok`. Since the gateway pools upstream connections, "nothing
from that connection" is checked as "no bytes at all between a snapshot and a sentinel request".

Loopback block 127.0.20.0/24: gateway .1 (and its admin port), capture backend .2:3000."""

import socket
import threading
import time
import unittest

import mgtest
from mgtest import unique_id, wait_for

NET = "127.0.20"
DEADLINE = 5.0


class RawCaptureBackend(mgtest.ThreadedTcpServer):
    """Accepts on ip:port; keeps the raw bytes of every connection in arrival order; answers every
    complete request it can parse (Content-Length or chunked body) with 200 and body "ok"."""

    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, ip: str, port: int):
        super().__init__(ip, port, conn_timeout=0.1)
        self.chunks: list[tuple[int, bytes]] = []  # (connection number, bytes) in arrival order
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int):
        buf = b""
        try:
            while not self.stop.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self.lock:
                    self.chunks.append((number, data))
                buf += data
                while True:
                    request, rest = split_request(buf)
                    if request is None:
                        break
                    buf = rest
                    conn.sendall(self.RESPONSE)
        finally:
            conn.close()

    @property
    def requests(self) -> list[bytes]:  # read by Cluster.dump(): here, the raw chunks
        with self.lock:
            return [data for _, data in self.chunks]

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def received_since(self, mark: int) -> dict[int, bytes]:
        """Bytes received after `mark`, per backend connection."""
        out: dict[int, bytes] = {}
        with self.lock:
            for number, data in self.chunks[mark:]:
                out[number] = out.get(number, b"") + data
        return out


def split_request(buf: bytes):
    """(request dict, rest) for the first complete request in buf, or (None, buf). Lenient on purpose:
    it describes what arrived, the test decides whether that was acceptable."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    hmap = dict(headers)
    rest = buf[end + 4:]
    body = b""
    if "chunked" in hmap.get("transfer-encoding", "").lower():
        while True:
            eol = rest.find(b"\r\n")
            if eol < 0:
                return None, buf
            try:
                size = int(rest[:eol].split(b";")[0], 16)
            except ValueError:
                return None, buf
            if size == 0:
                tail = rest.find(b"\r\n\r\n", eol) if rest[eol + 2:eol + 4] != b"\r\n" else eol
                if tail < 0:
                    return None, buf
                rest = rest[tail + 4:]
                break
            if len(rest) < eol + 2 + size + 2:
                return None, buf
            body += rest[eol + 2:eol + 2 + size]
            rest = rest[eol + 2 + size + 2:]
    elif "content-length" in hmap:
        try:
            n = int(hmap["content-length"])
        except ValueError:
            n = 0
        if len(rest) < n:
            return None, buf
        body, rest = rest[:n], rest[n:]
    return {"method": parts[0], "target": parts[1] if len(parts) > 1 else "", "headers": headers,
            "body": body}, rest


def split_all(data: bytes) -> tuple[list[dict], bytes]:
    requests = []
    while True:
        r, data = split_request(data)
        if r is None:
            return requests, data
        requests.append(r)


def exchange(ip: str, port: int, payload: bytes, responses: int = 1, timeout: float = DEADLINE):
    """Sends payload on a fresh connection and reads until `responses` final responses arrived and the
    connection closed, or the deadline. Returns (list of (status, headers, body), closed, interim)."""
    s = socket.create_connection((ip, port), timeout=timeout)
    deadline = time.monotonic() + timeout
    buf = b""
    closed = False
    try:
        try:
            s.sendall(payload)
        except OSError:
            pass  # the gateway may refuse mid-send (oversize): read what it answered
        while time.monotonic() < deadline:
            got, _, interim = parse_responses(buf)
            if len(got) >= responses and closed:
                break
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                if len(got) >= responses:
                    break
                break
            buf += data
            got, _, _ = parse_responses(buf)
            if len(got) >= responses and got[-1][1].get("connection", "").lower() != "close":
                # Keep-alive answer: the connection stays open, nothing more to wait for.
                break
    finally:
        s.close()
    got, _, interim = parse_responses(buf)
    return got, closed, interim


def parse_responses(buf: bytes):
    """([(status, headers, body)], rest, interim statuses) of the complete final responses in buf."""
    out, interim = [], []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf, interim
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(buf) < end + 4 + n:
            return out, buf, interim
        body = buf[end + 4:end + 4 + n]
        buf = buf[end + 4 + n:]
        if 100 <= status < 200:
            interim.append(status)
        else:
            out.append((status, headers, body))


H = b"Host: gw.example\r\n"


def req(head: str, body: bytes = b"") -> bytes:
    return head.encode("latin-1") + body


def hostile_cases(tag: str) -> list[tuple[str, bytes, int]]:
    """(name, raw request, expected status). All must leave the backend untouched."""
    p = f"/hostile/{tag}"
    big_headers = "".join(f"X-Big-{i}: {'v' * 1000}\r\n" for i in range(70))
    many_headers = "".join(f"X-H{i}: v\r\n" for i in range(100))
    return [
        ("cl_te", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
                      b"0\r\n\r\nG"), 400),
        ("te_cl", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                      b"8\r\nSMUGGLED\r\n0\r\n\r\n"), 400),
        ("te_xchunked", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: xchunked\r\n\r\n",
                            b"5\r\nhello\r\n0\r\n\r\n"), 501),
        ("te_leading_space_line", req(f"POST {p} HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: gw\r\n\r\n",
                                      b"5\r\nhello\r\n0\r\n\r\n"), 400),
        ("te_vertical_tab", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\x0bchunked\r\n\r\n",
                                b"5\r\nhello\r\n0\r\n\r\n"), 400),
        ("te_chunked_identity", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
                                    b"5\r\nhello\r\n0\r\n\r\n"), 400),
        ("te_two_lines", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: identity\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 400),
        ("te_in_http10", req(f"POST {p} HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                             b"5\r\nhello\r\n0\r\n\r\n"), 400),
        ("cl_duplicate_equal", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                                   b"hello"), 400),
        ("cl_duplicate_different", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n"
                                       "Content-Length: 6\r\n\r\n", b"hello!"), 400),
        ("cl_negative", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: -5\r\n\r\n", b"hello"), 400),
        ("cl_hex", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: 0x5\r\n\r\n", b"hello"), 400),
        ("cl_plus", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nContent-Length: +5\r\n\r\n", b"hello"), 400),
        ("chunk_size_0x", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                              b"0x5\r\nhello\r\n0\r\n\r\n"), 400),
        ("chunk_size_space_semicolon", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                                           b"5 ;\r\nhello\r\n0\r\n\r\n"), 400),
        ("chunk_size_negative", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                                    b"-1\r\nhello\r\n0\r\n\r\n"), 400),
        ("chunk_size_16_digits", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                                     b"0000000000000005\r\nhello\r\n0\r\n\r\n"), 400),
        ("chunk_data_without_crlf", req(f"POST {p} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
                                        b"5\r\nhelloXX0\r\n\r\n"), 400),
        ("bare_lf", req(f"GET {p} HTTP/1.1\nHost: gw\n\n"), 400),
        ("bare_cr", req(f"GET {p} HTTP/1.1\rHost: gw\r\n\r\n"), 400),
        ("obs_fold", req(f"GET {p} HTTP/1.1\r\nHost: gw\r\nX-Folded: a\r\n b\r\n\r\n"), 400),
        ("nul_in_value", req(f"GET {p} HTTP/1.1\r\nHost: gw\r\nX-Nul: a\x00b\r\n\r\n"), 400),
        ("space_before_colon", req(f"GET {p} HTTP/1.1\r\nHost : gw\r\n\r\n"), 400),
        ("request_line_9k", req(f"GET {p}/{'a' * 9 * 1024} HTTP/1.1\r\nHost: gw\r\n\r\n"), 414),
        ("header_block_70k", req(f"GET {p} HTTP/1.1\r\nHost: gw\r\n{big_headers}\r\n"), 431),
        ("headers_101", req(f"GET {p} HTTP/1.1\r\nHost: gw\r\n{many_headers}\r\n"), 431),
        ("version_2_0", req(f"GET {p} HTTP/2.0\r\nHost: gw\r\n\r\n"), 505),
        ("version_0_9", req(f"GET {p} HTTP/0.9\r\nHost: gw\r\n\r\n"), 505),
        ("version_1_1x", req(f"GET {p} HTTP/1.1x\r\nHost: gw\r\n\r\n"), 400),
        ("missing_host", req(f"GET {p} HTTP/1.1\r\nX-A: b\r\n\r\n"), 400),
        ("two_hosts", req(f"GET {p} HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n"), 400),
        ("absolute_form_other_host", req(f"GET http://evil.example{p} HTTP/1.1\r\nHost: gw\r\n\r\n"), 400),
        ("absolute_form_userinfo", req(f"GET http://user@gw{p} HTTP/1.1\r\nHost: user@gw\r\n\r\n"), 400),
        ("host_userinfo", req(f"GET {p} HTTP/1.1\r\nHost: user@gw\r\n\r\n"), 400),
        ("host_inner_space", req(f"GET {p} HTTP/1.1\r\nHost: g w\r\n\r\n"), 400),
        ("host_bad_port", req(f"GET {p} HTTP/1.1\r\nHost: gw:80x\r\n\r\n"), 400),
        ("target_non_ascii", req(f"GET {p}/caf\u00e9 HTTP/1.1\r\nHost: gw\r\n\r\n"), 400),
        ("target_fragment", req(f"GET {p}#frag HTTP/1.1\r\nHost: gw\r\n\r\n"), 400),
    ]


class HostileHttp(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        config = c.config_dir() / "hostile.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("hostile-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("all", "hostile-gateway", "/", "capture"),
            mgtest.service_yaml("capture"),
            mgtest.endpointslice_yaml("capture", [(f"{NET}.2", "capture-5b7c8d9f6-c4p7r", True)]),
        ))
        cls.backend = RawCaptureBackend(f"{NET}.2", 3000)
        c.captures.append(cls.backend)  # closed by the cluster at the end
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, workers=1)
        cls.gw.wait_ready()

    def sentinel(self) -> None:
        """A valid request through the gateway, waited for at the backend: anything the gateway forwarded
        for an earlier request has arrived by then."""
        target = f"/sentinel/{unique_id()}"
        got, _, _ = exchange(self.gw_ip, self.gw_port,
                             f"GET {target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
        self.assertEqual([g[0] for g in got], [200], f"sentinel {target}: {got}")
        wait_for(lambda: any(target.encode() in b for b in self.backend.received_since(0).values()), DEADLINE,
                 f"sentinel {target} at the backend")

    def forwarded_since(self, mark: int) -> list[dict]:
        """Requests that reached the backend after mark (sentinels left out); fails on leftover bytes."""
        self.sentinel()
        requests = []
        for number, data in self.backend.received_since(mark).items():
            parsed, rest = split_all(data)
            self.assertEqual(rest, b"", f"backend connection {number} got bytes that are not a request: {data!r}")
            requests += [r for r in parsed if not r["target"].startswith("/sentinel/")]
        return requests

    def test_hostile_requests_get_exact_status_and_never_reach_the_backend(self):
        tag = unique_id()
        problems = []
        for name, payload, want in hostile_cases(tag):
            with self.subTest(case=name):
                mark = self.backend.mark()
                got, closed, _ = exchange(self.gw_ip, self.gw_port, payload)
                statuses = [g[0] for g in got]
                forwarded = self.forwarded_since(mark)
                if statuses != [want] or not closed or forwarded:
                    problems.append(f"{name}: want [{want}] then close; got {statuses}, closed={closed}, "
                                    f"backend got {[(r['method'], r['target'], r['body']) for r in forwarded]}")
                self.assertEqual(statuses, [want], f"{name}: {payload[:120]!r}")
                self.assertTrue(closed, f"{name}: connection left open after {statuses}")
                self.assertEqual(forwarded, [], f"{name}: backend received a request")
        if problems:
            print("\nhostile cases that failed:\n  " + "\n  ".join(problems))

    def assert_control(self, payload: bytes, statuses: list[int], expected: list[tuple[str, str, bytes]],
                       interim: list[int] | None = None):
        mark = self.backend.mark()
        got, _, seen_interim = exchange(self.gw_ip, self.gw_port, payload, responses=len(statuses))
        self.assertEqual([g[0] for g in got], statuses, got)
        for status, _headers, body in got:
            if status == 200:
                self.assertEqual(body, b"ok")
        if interim is not None:
            self.assertEqual(seen_interim, interim)
        forwarded = self.forwarded_since(mark)
        self.assertEqual([(r["method"], r["target"], r["body"]) for r in forwarded], expected)
        for r in forwarded:
            names = [k for k, _ in r["headers"]]
            self.assertEqual(names.count("host"), 1, r)
            self.assertNotIn("expect", names, r)
            self.assertLessEqual(("content-length" in names) + ("transfer-encoding" in names), 1, r)
        return forwarded

    def test_control_plain_get_is_forwarded_once(self):
        t = f"/control/get/{unique_id()}"
        self.assert_control(f"GET {t} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode(), [200],
                            [("GET", t, b"")])

    def test_control_absolute_form_is_forwarded_in_origin_form(self):
        # RFC 9112 3.2.2: the gateway is the server the client talks to; a backend gets the origin-form.
        t = f"/control/absolute/{unique_id()}"
        self.assert_control(f"GET http://gw{t}?q=1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode(),
                            [200], [("GET", f"{t}?q=1", b"")])

    def test_control_valid_chunked_post_is_forwarded_decoded_and_reencoded(self):
        t = f"/control/chunked/{unique_id()}"
        body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n"
        fwd = self.assert_control(f"POST {t} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
                                  "Connection: close\r\n\r\n".encode() + body, [200], [("POST", t, b"hello world")])
        raw = b"".join(self.backend.received_since(0).values())
        self.assertNotIn(b"ext=1", raw)
        self.assertNotIn(b"X-Trailer", raw)
        self.assertEqual(len(fwd), 1)

    def test_control_tab_before_chunked_is_valid_ows(self):
        # RFC 9110 5.6.3: OWS is SP or HTAB, so "Transfer-Encoding:\tchunked" is an ordinary chunked body.
        t = f"/control/te-tab/{unique_id()}"
        self.assert_control(f"POST {t} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\tchunked\r\n"
                            "Connection: close\r\n\r\n".encode() + b"5\r\nhello\r\n0\r\n\r\n",
                            [200], [("POST", t, b"hello")])

    def test_control_leading_spaces_in_te_value_are_valid_ows(self):
        t = f"/control/te-space/{unique_id()}"
        self.assert_control(f"POST {t} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:   chunked\r\n"
                            "Connection: close\r\n\r\n".encode() + b"5\r\nhello\r\n0\r\n\r\n",
                            [200], [("POST", t, b"hello")])

    def test_control_two_pipelined_gets_are_forwarded_in_order(self):
        a, b = f"/control/pipe-a/{unique_id()}", f"/control/pipe-b/{unique_id()}"
        self.assert_control(f"GET {a} HTTP/1.1\r\nHost: gw\r\n\r\nGET {b} HTTP/1.1\r\nHost: gw\r\n"
                            "Connection: close\r\n\r\n".encode(), [200, 200], [("GET", a, b""), ("GET", b, b"")])

    def test_control_expect_100_continue_with_body(self):
        t = f"/control/expect/{unique_id()}"
        s = socket.create_connection((self.gw_ip, self.gw_port), timeout=DEADLINE)
        mark = self.backend.mark()
        try:
            s.sendall(f"PUT {t} HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
                      "Connection: close\r\n\r\n".encode())
            buf = b""
            deadline = time.monotonic() + DEADLINE
            while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            self.assertTrue(buf.startswith(b"HTTP/1.1 100 Continue\r\n"), buf)
            s.sendall(b"hello")
            while time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        got, _, interim = parse_responses(buf)
        self.assertEqual(interim, [100])
        self.assertEqual([g[0] for g in got], [200], buf)
        forwarded = self.forwarded_since(mark)
        self.assertEqual([(r["method"], r["target"], r["body"]) for r in forwarded], [("PUT", t, b"hello")])
        self.assertNotIn("expect", [k for k, _ in forwarded[0]["headers"]])

    def test_valid_request_then_malformed_one_on_the_same_connection(self):
        good = f"/control/first/{unique_id()}"
        mark = self.backend.mark()
        got, closed, _ = exchange(
            self.gw_ip, self.gw_port,
            f"GET {good} HTTP/1.1\r\nHost: gw\r\n\r\n"
            "POST /smuggled HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx".encode(),
            responses=2)
        self.assertEqual([g[0] for g in got], [200, 400], got)
        self.assertTrue(closed, "connection must close after the error")
        self.assertEqual(got[1][1].get("connection", "").lower(), "close")
        forwarded = self.forwarded_since(mark)
        self.assertEqual([(r["method"], r["target"]) for r in forwarded], [("GET", good)])


if __name__ == "__main__":
    mgtest.main()
