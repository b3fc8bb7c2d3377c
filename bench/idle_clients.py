#!/usr/bin/env python3
"""Opens N keep-alive client connections to a loopback HTTP server, sends one request on each, reads the
answer, then holds every connection open and idle. With --http2 the connections speak HTTP/2 by prior
knowledge (the `h2` library, from scripts/deps.sh): one stream each, then idle with the session open. Prints "READY <open> ..." once all are idle, then
sleeps until killed (bench/load.sh reads the server's VmRSS meanwhile)."""

import argparse
import resource
import selectors
import socket
import sys
import time


class Http1Exchange:
    """One GET on a keep-alive HTTP/1.1 connection; done when the whole answer (Content-Length) is in."""

    def __init__(self, authority: str, path: str):
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: mirrorgate-bench-idle\r\n"
                        "Accept: */*\r\n\r\n").encode()
        self.buf = b""

    def opening(self) -> bytes:
        return self.request

    def feed(self, data: bytes) -> tuple[bool, bytes]:
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return False, b""
        head = self.buf[:head_end].decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip() == "content-length":
                length = int(value.strip())
        if not head.startswith("http/1.1 200"):
            raise ValueError(head.split("\r\n")[0])
        return len(self.buf) - head_end - 4 >= length, b""


class Http2Exchange:
    """The connection preface and one GET stream by HTTP/2 prior knowledge; done at the stream's end. The
    session stays open afterwards (settings acknowledged, nothing pending), as a browser's idle one does."""

    def __init__(self, authority: str, path: str):
        import h2.config
        import h2.connection
        import h2.events
        self.events = h2.events
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(self.stream, [(":method", "GET"), (":scheme", "http"), (":authority", authority),
                                             (":path", path), ("user-agent", "mirrorgate-bench-idle")],
                               end_stream=True)
        self.status = None

    def opening(self) -> bytes:
        return self.conn.data_to_send()

    def feed(self, data: bytes) -> tuple[bool, bytes]:
        done = False
        for event in self.conn.receive_data(data):
            if isinstance(event, self.events.ResponseReceived):
                self.status = dict(event.headers).get(b":status")
                if self.status != b"200":
                    raise ValueError(f"HTTP/2 status {self.status!r}")
            elif isinstance(event, self.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (self.events.StreamEnded, self.events.StreamReset)):
                if isinstance(event, self.events.StreamReset):
                    raise ValueError(f"stream reset ({event.error_code})")
                done = True
            elif isinstance(event, self.events.ConnectionTerminated):
                raise ValueError(f"GOAWAY ({event.error_code})")
        return done, self.conn.data_to_send()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True, help="127.x.y.z:PORT")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--hold", type=float, default=3600.0, help="seconds to hold the connections")
    ap.add_argument("--http2", action="store_true", help="HTTP/2 by prior knowledge instead of HTTP/1.1")
    args = ap.parse_args()

    host, port = args.connect.rsplit(":", 1)
    if not host.startswith("127."):
        print("refusing a non-loopback address", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sel = selectors.DefaultSelector()
    pending = {}
    conns = []
    started = time.monotonic()
    exchange = Http2Exchange if args.http2 else Http1Exchange
    # Connect in batches so the listen backlog never overflows.
    for i in range(0, args.count, 100):
        batch = []
        for _ in range(min(100, args.count - i)):
            s = socket.create_connection((host, int(port)), timeout=10)
            pending[s] = exchange(f"{host}:{port}", args.path)
            s.sendall(pending[s].opening())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            batch.append(s)
        conns.extend(batch)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                data = s.recv(65536)
                if not data:
                    print("server closed a connection", file=sys.stderr)
                    return 1
                try:
                    done, reply = pending[s].feed(data)
                except ValueError as e:
                    print(f"unexpected answer: {e}", file=sys.stderr)
                    return 1
                if reply:
                    s.setblocking(True)
                    s.sendall(reply)
                    s.setblocking(False)
                if done:
                    del pending[s]
                    sel.unregister(s)
        if pending:
            print(f"{len(pending)} answers missing", file=sys.stderr)
            return 1

    print(f"READY {len(conns)} connections, one request each, in {time.monotonic() - started:.2f} s", flush=True)
    time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
