#!/usr/bin/env python3
"""Opens N keep-alive client connections to a loopback HTTP server, sends one request on each, reads the
answer, then holds every connection open and idle. Prints "READY <open> ..." once all are idle, then
sleeps until killed (bench/load.sh reads the server's VmRSS meanwhile)."""

import argparse
import resource
import selectors
import socket
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True, help="127.x.y.z:PORT")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--hold", type=float, default=3600.0, help="seconds to hold the connections")
    args = ap.parse_args()

    host, port = args.connect.rsplit(":", 1)
    if not host.startswith("127."):
        print("refusing a non-loopback address", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    request = (f"GET {args.path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: mirrorgate-bench-idle\r\n"
               "Accept: */*\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    pending = {}
    conns = []
    started = time.monotonic()
    # Connect in batches so the listen backlog never overflows.
    for i in range(0, args.count, 100):
        batch = []
        for _ in range(min(100, args.count - i)):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(request)
            s.setblocking(False)
            pending[s] = b""
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
                buf = pending[s] + data
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    pending[s] = buf
                    continue
                head = buf[:head_end].decode("latin-1").lower()
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip() == "content-length":
                        length = int(value.strip())
                if not head.startswith("http/1.1 200"):
                    print("unexpected answer: " + head.split("\r\n")[0], file=sys.stderr)
                    return 1
                if len(buf) - head_end - 4 >= length:
                    del pending[s]
                    sel.unregister(s)
                else:
                    pending[s] = buf
        if pending:
            print(f"{len(pending)} answers missing", file=sys.stderr)
            return 1

    print(f"READY {len(conns)} connections, one request each, in {time.monotonic() - started:.2f} s", flush=True)
    time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
