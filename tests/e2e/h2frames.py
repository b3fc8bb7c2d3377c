"""Raw HTTP/2 frames for tests: enough of the protocol to send requests (and misbehave on purpose) and read
answers, with no HPACK state (literal fields only, no Huffman), on a plain or TLS socket (test_http2.py).
A response's header block is not decoded beyond its :status (status_of)."""

from __future__ import annotations

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def read_preface(conn: socket.socket) -> bytes | None:
    """A test backend's start: reads the client's connection preface and returns the bytes after it (the
    start of its frames), or None when the client closed first."""
    buf = b""
    while len(buf) < len(PREFACE):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return buf[len(PREFACE):]


def next_frame(conn: socket.socket, buf: bytes):
    """A test backend's next frame from `conn`, the bytes in `buf` first: ((type, flags, stream, payload),
    the bytes after it), or (None, b"") when the peer closed or the socket failed."""
    while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
    length = int.from_bytes(buf[:3], "big")
    return (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + length]), buf[9 + length:]


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name: str, value: str, kind: bytes = b"\x00") -> bytes:
    """A header field as a literal (without indexing unless `kind` says; no Huffman)."""
    def string(s: bytes) -> bytes:
        if len(s) < 127:
            return bytes([len(s)]) + s
        n, out = len(s) - 127, bytearray([127])
        while n >= 128:
            out.append((n % 128) | 128)
            n //= 128
        out.append(n)
        return bytes(out) + s
    return kind + string(name.encode()) + string(value.encode())


def request_block(path: str = "/", authority: str = "h2.example", method: str = "GET", extra=(),
                  scheme: str = "http") -> bytes:
    block = literal(":method", method) + literal(":scheme", scheme) + literal(":authority", authority) + \
        literal(":path", path)
    for name, value in extra:
        block += literal(name, value)
    return block


STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}


def status_of(block: bytes) -> int:
    """The :status of a response header block whose first field is :status (as nghttp2 writes it):
    indexed from the static table, or a literal whose value may be Huffman-coded (digits only here)."""
    if block[0] & 0x80:
        return STATIC_STATUS[block[0] & 0x7F]
    size, value = block[1] & 0x7F, block[2:2 + (block[1] & 0x7F)]
    if not block[1] & 0x80:
        return int(value)
    bits = "".join(f"{b:08b}" for b in value)
    digits, i = "", 0
    while i + 5 <= len(bits) and len(digits) < 3:
        if bits[i:i + 5] in ("00000", "00001", "00010"):  # '0'-'2' have 5-bit codes
            digits += str(int(bits[i:i + 5], 2))
            i += 5
        else:  # '3'-'9': 011001 .. 011111
            digits += str(int(bits[i:i + 6], 2) - 0b011001 + 3)
            i += 6
    assert size == len(value)
    return int(digits)


class RawH2:
    """A client connection that sends frames as given and reads frames as they come."""

    def __init__(self, host: str, port: int, window: int | None = None, timeout: float = 5.0, wrap=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if wrap:
            self.sock = wrap(self.sock)
        settings = b"" if window is None else struct.pack(">HI", 4, window)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
        self.buf = b""

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def read_frame(self):
        """(type, flags, stream, payload), or None when the connection ended."""
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    kind, flags = self.buf[3], self.buf[4]
                    stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                    payload = self.buf[9:9 + length]
                    self.buf = self.buf[9 + length:]
                    return kind, flags, stream, payload
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def frames_until(self, predicate, limit: float = 5.0):
        """Reads frames (acking SETTINGS) until predicate(frame) holds; the matching frame, or None."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            f = self.read_frame()
            if f is None:
                return None
            if f[0] == SETTINGS and not f[1] & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            if predicate(f):
                return f
        return None

    def close(self):
        self.sock.close()

