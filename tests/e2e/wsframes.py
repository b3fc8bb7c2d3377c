"""A small WebSocket client (RFC 6455) on a raw socket, stdlib only: the opening handshake, masked
frames out, frames in. Shared by test_websocket.py and the conformance harness (websocket cases)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    """One frame; a client's is masked (RFC 6455 5.3)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n <= 125:
        head += bytes([bit | n])
    elif n <= 0xFFFF:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, key)
    return head + key + masked


def parse(buf: bytes):
    """(opcode, fin, payload, rest) of the server frame at the start of `buf`, or None while incomplete."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    if b1 & 0x80:
        raise ValueError("masked frame from the server")
    n, pos = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < pos + n:
        return None
    return b0 & 0x0F, bool(b0 & 0x80), buf[pos:pos + n], buf[pos + n:]


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


class Response:
    def __init__(self, status: int, headers: dict[str, str], rest: bytes):
        self.status, self.headers, self.rest = status, headers, rest


def handshake_request(path: str, host: str, key: str, origin: str | None = "http://localhost",
                      extra: dict[str, str] | None = None, upgrade: str = "websocket") -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"Upgrade: {upgrade}", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_head(sock: socket.socket, buf: bytes = b"") -> Response:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head (got {buf[:200]!r})")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return Response(status, headers, rest)


class WebSocket:
    """A connected, upgraded client socket."""

    def __init__(self, sock: socket.socket, rest: bytes = b"", response: Response | None = None):
        self.sock, self.buf, self.response = sock, rest, response

    @classmethod
    def connect(cls, ip: str, port: int, path: str = "/ws", host: str | None = None,
                origin: str | None = "http://localhost", timeout: float = 10.0,
                extra: dict[str, str] | None = None, wrap=None) -> "WebSocket":
        """`wrap`: a function that turns the TCP socket into another (TLS: an SSLContext's wrap_socket)."""
        sock = socket.create_connection((ip, port), timeout=timeout)
        try:
            if wrap:
                sock = wrap(sock)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(handshake_request(path, host or f"{ip}:{port}", key, origin, extra))
            resp = read_head(sock)
            if resp.status != 101:
                raise ValueError(f"handshake answered {resp.status}, not 101")
            if resp.headers.get("sec-websocket-accept") != accept_for(key):
                raise ValueError(f"bad Sec-WebSocket-Accept {resp.headers.get('sec-websocket-accept')!r}")
            return cls(sock, resp.rest, resp)
        except BaseException:
            sock.close()
            raise

    def close_socket(self) -> None:
        self.sock.close()

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close_socket()

    def send(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self.sock.sendall(frame(opcode, payload, fin))

    def recv_frame(self) -> tuple[int, bool, bytes]:
        while (parsed := parse(self.buf)) is None:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed mid-frame")
            self.buf += chunk
        opcode, fin, payload, self.buf = parsed
        return opcode, fin, payload

    def recv_message(self) -> tuple[int, bytes]:
        """The next data message (fragments joined); control frames in between are skipped."""
        opcode, data = None, b""
        while True:
            op, fin, payload = self.recv_frame()
            if op >= 0x8:
                if op == CLOSE:
                    raise ConnectionError(f"close frame {payload!r}")
                continue
            if op != CONT:
                opcode = op
            data += payload
            if fin:
                return opcode, data
