"""Mirror copies to an h2c Service keep the guarantees of HTTP/1.1 copies: the copy (its head written by the
shadow writer as HTTP/1.1 text, parsed once into HTTP/2 fields) arrives with its body, the
X-Mirrorgate-Mirror marker and a traceparent of the request's trace, is logged as an h2c copy; a copy the
mirror never answers fails as a timeout after --mirror-timeout, its stream reset (CANCEL) while the shared
connection to the mirror carries the next copy; the primary never waits for either.

Loopback block 127.0.152.0/24: gateway .1 (one worker, --mirror-timeout 1), echo pod .2 (the primary,
HTTP/1.1), raw HTTP/2 mirror backend .4."""

import socket
import struct
import time

import h2frames
import hpack_decode
import mgtest
from h2frames import DATA, END_HEADERS, END_STREAM, HEADERS, RST_STREAM, SETTINGS
from h2frames import frame, literal
from mgtest import wait_for

NET = "127.0.152"
H2C = "kubernetes.io/h2c"
V1 = "infra-backend-v1-7d9c6b5f4-h2m01"
CANCEL = 8
MIRROR_TIMEOUT = 1.0


class RecordingH2Mirror(mgtest.ThreadedTcpServer):
    """An HTTP/2 server with prior knowledge that records each request (connection number, stream id, fields,
    body) and answers it once its body ended, except /...stall..., which it never answers. Records every
    RST_STREAM it receives."""

    def __init__(self, ip: str, port: int):
        super().__init__(ip, port, conn_timeout=None)
        self.requests: dict[str, dict] = {}  # path -> {"connection", "stream", "fields", "body"}
        self.resets: list[tuple[int, int, int]] = []  # (connection number, stream id, error code)
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int) -> None:
        buf = h2frames.read_preface(conn)
        if buf is None:
            return
        decoder = hpack_decode.Decoder()
        conn.sendall(frame(SETTINGS, 0, 0))
        open_streams: dict[int, dict] = {}
        while not self.stop.is_set():
            f, buf = h2frames.next_frame(conn, buf)
            if f is None:
                return
            kind, flags, stream, payload = f
            if kind == SETTINGS and not flags & 1:
                conn.sendall(frame(SETTINGS, 1, 0))
                continue
            if kind == RST_STREAM:
                with self.lock:
                    self.resets.append((number, stream, struct.unpack(">I", payload)[0]))
                continue
            if kind == HEADERS:
                fields = decoder.decode(payload)
                request = {"connection": number, "stream": stream, "fields": fields, "body": b""}
                open_streams[stream] = request
                with self.lock:
                    self.requests[dict(fields).get(":path", "")] = request
            elif kind == DATA and stream in open_streams:
                open_streams[stream]["body"] += payload
            else:
                continue
            if not flags & END_STREAM:
                continue
            request = open_streams.pop(stream)
            path = dict(request["fields"]).get(":path", "")
            if "stall" in path:
                continue
            body = f"mirror {path}".encode()
            conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200") +
                               literal("content-length", str(len(body)))) +
                         frame(DATA, END_STREAM, stream, body))

    def request_of(self, path: str) -> dict | None:
        with self.lock:
            return self.requests.get(path)

    def reset_of(self, path: str) -> int | None:
        with self.lock:
            r = self.requests.get(path)
            return next((code for number, stream, code in self.resets
                         if r and (number, stream) == (r["connection"], r["stream"])), None)


def config(ip: str, port: int, mirror_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("h2m-gateway", ip, port),
        mgtest.route_yaml("mirrored", "h2m-gateway", "/m", "infra-backend-v1", mirror="h2-mirror",
                          mirror_port=mirror_port),
        mgtest.service_yaml("infra-backend-v1", target_port=3000),
        mgtest.service_yaml("h2-mirror", port=mirror_port, target_port=mirror_port, app_protocol=H2C),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)], port=3000),
        mgtest.endpointslice_yaml("h2-mirror", [(f"{NET}.4", "h2-mirror-pod", True)], port=mirror_port),
    )


class H2cMirror(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        mirror_port = mgtest.free_port(f"{NET}.4")
        cls.mirror = RecordingH2Mirror(f"{NET}.4", mirror_port)
        c.captures.append(cls.mirror)
        cfg = c.config_dir() / "config.yaml"
        cfg.write_text(config(cls.gw_ip, cls.gw_port, mirror_port))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.gw = c.gateway(cfg, admin_ip=cls.gw_ip, workers=1,
                           extra_args=["--mirror-timeout", str(int(MIRROR_TIMEOUT))])
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    def copy_entry(self, path: str) -> dict:
        return wait_for(lambda: next((e for e in self.gw.access_log()
                                      if e.get("type") == "mirror" and e.get("path") == path), None),
                        10, f"the access log line of the copy of {path}")

    def test_copy_with_a_body_arrives_over_http2_with_its_marker_and_trace(self):
        payload = b"mirrored body " * 100
        r = mgtest.http_request(self.gw_ip, self.gw_port, "POST", "/m/body", body=payload,
                                headers={"Host": "mirror.example", "Connection": "keep-alive, X-Hop",
                                         "X-Hop": "not forwarded", "X-Custom": "kept"})
        self.assertEqual(r.status, 200, r)
        request = wait_for(lambda: self.mirror.request_of("/m/body"), 10, "the copy at the h2c mirror")
        fields = dict(request["fields"])
        self.assertEqual(fields[":method"], "POST")
        self.assertEqual(fields[":scheme"], "http")
        self.assertTrue(fields[":authority"].startswith("mirror.example"), fields)
        self.assertEqual(request["body"], payload)
        self.assertEqual(fields["content-length"], str(len(payload)))
        self.assertEqual(fields["x-custom"], "kept")
        self.assertNotIn("x-hop", fields)
        self.assertNotIn("connection", fields)
        self.assertNotIn("host", fields)
        self.assertRegex(fields["x-mirrorgate-mirror"], r"^route=default/mirrored; rule=0; mirror=0$")
        primary = wait_for(lambda: next((e for e in self.gw.access_log()
                                         if e.get("type") != "mirror" and e.get("path") == "/m/body"), None),
                           10, "the access log line of the request")
        self.assertEqual(fields["x-request-id"], primary["request_id"])
        self.assertEqual(fields["traceparent"].split("-")[1], primary["trace_id"])
        copy = self.copy_entry("/m/body")
        self.assertEqual((copy["outcome"], copy["status"], copy["upstream_protocol"]), ("completed", 200, "h2c"))

    def test_a_copy_never_answered_times_out_and_resets_only_its_stream(self):
        started = time.monotonic()
        r = mgtest.get(self.gw_ip, self.gw_port, "/m/stall")
        self.assertEqual(r.status, 200, r)
        self.assertLess(time.monotonic() - started, MIRROR_TIMEOUT)  # the primary does not wait for its copy
        stalled = wait_for(lambda: self.mirror.request_of("/m/stall"), 10, "the stalled copy at the mirror")
        copy = self.copy_entry("/m/stall")
        self.assertEqual((copy["outcome"], copy["reason"]), ("failed", "timeout"))
        self.assertGreaterEqual(copy["duration_ms"], MIRROR_TIMEOUT * 1000 * 0.9)
        self.assertEqual(wait_for(lambda: self.mirror.reset_of("/m/stall"), 10,
                                  "the RST_STREAM of the stalled copy"), CANCEL)
        # The shared connection to the mirror lives on: the next copy goes over it and completes.
        self.assertEqual(mgtest.get(self.gw_ip, self.gw_port, "/m/after").status, 200)
        after = wait_for(lambda: self.mirror.request_of("/m/after"), 10, "the next copy at the mirror")
        self.assertEqual(after["connection"], stalled["connection"])
        self.assertEqual(self.copy_entry("/m/after")["outcome"], "completed")


if __name__ == "__main__":
    mgtest.main()
