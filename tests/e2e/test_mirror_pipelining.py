"""Mirror copies to one HTTP/1.1 mirror endpoint that the gateway launches together go out pipelined
(several requests in one write on one connection, answers read in order), and keep every guarantee: each
copy is logged and traced with the answer to its own request, the primary's answers are untouched, and a
mirror that closes its connection after each answer (no keep-alive, no pipelining) still gets every copy,
the rest sent again one per connection, the back-off counted.

The burst that makes copies launch together is one HTTP/2 client connection opening many streams in one
write. Loopback block 127.0.155.0/24: gateway .1 (one worker), echo pod .2 (the primary), the recording
HTTP/1.1 mirror .4 (pipelining) and .5 (closes after each answer)."""

import socket

import h2frames
import mgtest
from h2frames import END_HEADERS, END_STREAM, HEADERS, frame, request_block
from mgtest import wait_for

NET = "127.0.155"
V1 = "infra-backend-v1-7d9c6b5f4-pl001"
BURST = 24


class RecordingMirror(mgtest.ThreadedTcpServer):
    """An HTTP/1.1 server that answers requests in order, one at a time, and records for each one its
    connection and whether it had arrived before the answer to the one ahead of it on that connection was
    written (it was pipelined). The answer's status is the number in the path after /s/ (else 200), its
    body the path. With close_each, every answer says "Connection: close" and the connection closes."""

    def __init__(self, ip: str, port: int, close_each: bool = False, framings: bool = False):
        super().__init__(ip, port, conn_timeout=None)
        self.close_each = close_each
        self.framings = framings
        self.requests: list[dict] = []  # {"connection", "path", "pipelined"}
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int) -> None:
        buf = b""
        answered = 0  # answers written on this connection
        read_since_answer = False
        while not self.stop.is_set():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                read_since_answer = True
                continue
            head, buf = buf[:end + 4], buf[end + 4:]  # the copies here have no bodies
            path = head.split(b" ", 2)[1].decode()
            with self.lock:
                # Pipelined: its bytes were here before the answer ahead of it went out.
                self.requests.append({"connection": number, "path": path,
                                      "pipelined": answered > 0 and not read_since_answer})
            status = int(path.rsplit("/s/", 1)[1][:3]) if "/s/" in path else 200
            body = path.encode()
            close = "Connection: close\r\n" if self.close_each else ""
            answer = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{close}\r\n".encode() + body
            if self.framings:
                answer = framed_answer(head.split(b" ", 1)[0].decode(), path, status)
                # In pieces, so that answers end and begin in the middle of the gateway's reads.
                for i in range(0, len(answer), 7):
                    conn.sendall(answer[i:i + 7])
                answer = b""
            conn.sendall(answer)
            answered += 1
            read_since_answer = False
            if self.close_each:
                conn.shutdown(socket.SHUT_WR)
                return

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.requests)


def framed_answer(method: str, path: str, status: int) -> bytes:
    """An answer whose framing the path names: /chunked/ (chunks and a trailer field), /interim/ (a 100
    Continue first), /empty/ (status 204 or 304: no body), else a Content-Length body; a HEAD is answered
    with the Content-Length of the body it does not get."""
    body = path.encode()
    if "/chunked/" in path:
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5]) for i in range(0, len(body), 5))
        return (f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + chunks +
                b"0\r\nX-Trailer: t\r\n\r\n")
    if "/empty/" in path:
        return f"HTTP/1.1 {status} X\r\n\r\n".encode()
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" if "/interim/" in path else b""
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return interim + head + (b"" if method == "HEAD" else body)


def config(ip: str, port: int, mirror_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("pl-gateway", ip, port),
        mgtest.route_yaml("piped", "pl-gateway", "/piped", "infra-backend-v1", mirror="pipe-mirror",
                          mirror_port=mirror_port),
        mgtest.route_yaml("closing", "pl-gateway", "/closing", "infra-backend-v1", mirror="closing-mirror",
                          mirror_port=mirror_port),
        mgtest.route_yaml("framed", "pl-gateway", "/framed", "infra-backend-v1", mirror="framing-mirror",
                          mirror_port=mirror_port),
        mgtest.service_yaml("infra-backend-v1", target_port=3000),
        mgtest.service_yaml("pipe-mirror", port=mirror_port, target_port=mirror_port),
        mgtest.service_yaml("framing-mirror", port=mirror_port, target_port=mirror_port),
        mgtest.service_yaml("closing-mirror", port=mirror_port, target_port=mirror_port),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)], port=3000),
        mgtest.endpointslice_yaml("pipe-mirror", [(f"{NET}.4", "pipe-mirror-pod", True)], port=mirror_port),
        mgtest.endpointslice_yaml("closing-mirror", [(f"{NET}.5", "closing-mirror-pod", True)], port=mirror_port),
        mgtest.endpointslice_yaml("framing-mirror", [(f"{NET}.6", "framing-mirror-pod", True)], port=mirror_port),
    )


def burst(ip: str, port: int, paths: list[str], methods: dict[str, str] | None = None) -> dict[str, int]:
    """Opens a stream per path on one HTTP/2 connection, all HEADERS in one write; the status per path.
    `methods`: each path's method (GET if absent)."""
    h2 = h2frames.RawH2(ip, port)
    try:
        streams = {1 + 2 * i: p for i, p in enumerate(paths)}
        h2.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, s,
                               request_block(p, authority="pl.example", method=(methods or {}).get(p, "GET")))
                         for s, p in streams.items()))
        statuses: dict[str, int] = {}
        while len(statuses) < len(streams):
            f = h2.frames_until(lambda f: f[0] == HEADERS and f[2] in streams, limit=10)
            assert f is not None, f"answers missing: {sorted(set(paths) - set(statuses))}"
            statuses[streams[f[2]]] = h2frames.status_of(f[3])
        return statuses
    finally:
        h2.close()


class MirrorPipelining(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        mirror_port = mgtest.free_port(f"{NET}.4")
        cls.mirror = RecordingMirror(f"{NET}.4", mirror_port)
        cls.closing = RecordingMirror(f"{NET}.5", mirror_port, close_each=True)
        cls.framing = RecordingMirror(f"{NET}.6", mirror_port, framings=True)
        c.captures += [cls.mirror, cls.closing, cls.framing]
        cfg = c.config_dir() / "config.yaml"
        cfg.write_text(config(cls.gw_ip, cls.gw_port, mirror_port))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.gw = c.gateway(cfg, admin_ip=cls.gw_ip, workers=1)
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    def copies(self, route: str) -> list[dict]:
        return [e for e in self.gw.access_log() if e.get("type") == "mirror" and e.get("route") == route]

    def bursts_until_pipelined(self, route: str, burst_paths, min_bursts: int = 1) -> int:
        """Sends bursts (burst_paths(n) gives the n-th burst's {path: method}) until some copies of `route`
        went out pipelined, at least `min_bursts`, at most 6: a burst launches its copies within a few
        event-loop turns, and one burst alone almost always pipelines some. Checks that every primary
        answered 200 and waits for a log line per copy; returns how many requests were sent."""
        sent = 0
        for n in range(6):
            paths = burst_paths(n)
            statuses = burst(self.gw_ip, self.gw_port, list(paths), paths)
            self.assertEqual(set(statuses.values()), {200}, statuses)  # the primary's answers, untouched
            sent += len(paths)
            wait_for(lambda: len(self.copies(route)) == sent, 10, "a log line per copy")
            if n + 1 >= min_bursts and self.gw.metrics().get("mirrorgate_mirror_copies_pipelined_total", route=route):
                break
        self.assertGreater(self.gw.metrics().get("mirrorgate_mirror_copies_pipelined_total", route=route), 0)
        return sent

    def assert_each_copy_got_its_own_answer(self, route: str):
        """Every copy completed with the status its path asked for (after /s/)."""
        for e in self.copies(route):
            self.assertEqual((e["outcome"], e["status"]), ("completed", int(e["path"].rsplit("/s/", 1)[1])), e)

    def test_copies_launched_together_are_pipelined_and_each_gets_its_own_answer(self):
        sent = self.bursts_until_pipelined(
            "default/piped", lambda n: {f"/piped/{n}/{i}/s/{201 + i % 3}": "GET" for i in range(BURST)})
        m = self.gw.metrics()
        self.assertEqual(m.get("mirrorgate_mirror_copies_sent_total", route="default/piped"), sent)
        self.assertEqual(m.get("mirrorgate_mirror_copies_completed_total", route="default/piped"), sent)
        # The mirror saw pipelined requests, and fewer connections than copies.
        seen = self.mirror.snapshot()
        self.assertEqual(len(seen), sent)
        self.assertTrue(any(r["pipelined"] for r in seen))
        self.assertLess(len({r["connection"] for r in seen}), sent)
        self.assert_each_copy_got_its_own_answer("default/piped")

    def test_a_mirror_that_closes_after_each_answer_still_gets_every_copy(self):
        def closing(name: str) -> float:
            return self.gw.metrics().get(name, route="default/closing")

        # At least two bursts: the copies behind the back-off go out too.
        total = self.bursts_until_pipelined(
            "default/closing", lambda n: {f"/closing/{n}/{i}": "GET" for i in range(BURST)}, min_bursts=2)
        self.assertEqual({e["outcome"] for e in self.copies("default/closing")}, {"completed"})
        # Each copy reached the mirror once (what was pipelined behind a closing answer went again).
        self.assertEqual(sorted(r["path"] for r in self.closing.snapshot()),
                         sorted(e["path"] for e in self.copies("default/closing")))
        self.assertEqual(closing("mirrorgate_mirror_copies_completed_total"), total)
        self.assertGreaterEqual(closing("mirrorgate_mirror_pipelining_backoffs_total"), 1)
        self.assertEqual(closing("mirrorgate_mirror_copies_retried_total"),
                         closing("mirrorgate_mirror_copies_pipelined_total"))

    def test_answers_of_every_framing_in_pieces_are_matched_to_their_copies_in_order(self):
        kinds = ["cl", "chunked", "interim", "empty", "head"]

        def paths(n: int) -> dict[str, str]:
            out = {}
            for i in range(BURST):
                kind = kinds[i % len(kinds)]
                status = (204, 304)[i % 2] if kind == "empty" else 231 + i % 4
                out[f"/framed/{n}/{i}/{kind}/s/{status}"] = "HEAD" if kind == "head" else "GET"
            return out

        sent = self.bursts_until_pipelined("default/framed", paths)
        self.assert_each_copy_got_its_own_answer("default/framed")
        self.assertEqual(len(self.framing.snapshot()), sent)

if __name__ == "__main__":
    mgtest.main()
