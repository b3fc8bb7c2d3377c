"""A mirrored POST carries the client's body byte for byte.

The echo server never reads bodies, so the mirror Service's only endpoint is a capture backend
(mgtest.CaptureServer, a Python thread) that records exactly what it received.
Loopback block 127.0.11.0/24: gateway .1, v1 echo pod .2, capture backend .4."""

import os

import mgtest
from mgtest import UUID_RE, http_request, unique_id, wait_for

NET = "127.0.11"
ROUTE = "default/mirror"


class MirrorBody(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.capture = c.capture(f"{NET}.4", 3000)
        config = c.config_dir() / "mirror.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("mirror-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("mirror", "mirror-gateway", "/mirror", "infra-backend-v1",
                              mirror="infra-backend-v2"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("infra-backend-v2"),
            mgtest.endpointslice_yaml("infra-backend-v1",
                                      [(f"{NET}.2", "infra-backend-v1-7d9c6b5f4-x8k2p", True)]),
            mgtest.endpointslice_yaml("infra-backend-v2",
                                      [(f"{NET}.4", "infra-backend-v2-5d4f8b7c9d-k2x7q", True)]),
        ))
        cls.v1 = c.echo("infra-backend-v1-7d9c6b5f4-x8k2p", f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    def post_and_capture(self, body: bytes, chunked: bool):
        path = f"/mirror/upload?e2e-request={unique_id()}"
        headers = {"Content-Type": "application/octet-stream"}
        # A client cannot forge the mirror mark: the gateway owns that header.
        headers["X-Mirrorgate-Mirror"] = "forged"
        r = http_request(self.gw_ip, self.gw_port, "POST", path, headers=headers,
                         body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)])
                         if chunked else body,
                         encode_chunked=chunked, timeout=10)
        self.assertEqual(r.status, 200, r)
        echo = r.json()
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["method"], "POST", echo)
        self.assertEqual(echo["path"], path, echo)
        got = wait_for(lambda: self.capture.find(lambda q: q.target == path), 10,
                       f"the mirrored copy of POST {path} at the capture backend")
        self.assertEqual(len(got), 1, [(q.method, q.target) for q in got])
        copy = got[0]
        self.assertEqual(copy.method, "POST")
        self.assertEqual(len(copy.body), len(body), "mirrored body length")
        self.assertTrue(copy.body == body, "mirrored body differs from the client's body")
        request_id = echo["headers"]["X-Request-Id"][0]
        self.assertRegex(request_id, UUID_RE)
        self.assertEqual(copy.header("X-Request-Id"), request_id,
                         f"mirror headers: {copy.headers}")
        # The copy says what it is and where it comes from; the primary never carries that mark.
        self.assertEqual(copy.header("X-Mirrorgate-Mirror"), f"route={ROUTE}; rule=0; mirror=0", copy.headers)
        self.assertNotIn("X-Mirrorgate-Mirror", echo["headers"], echo)
        self.assertEqual(self.capture.errors, [])
        return echo, copy

    def test_access_log_says_how_much_was_received_and_what_the_copy_was(self):
        body = bytes(range(256)) * 12  # 3072 bytes
        echo, copy = self.post_and_capture(body, chunked=True)
        request_id = echo["headers"]["X-Request-Id"][0]
        request = wait_for(lambda: self.gw.access_entries(request_id, mirror=False), 10, "the request's log line")
        self.assertEqual(request[0]["request_bytes"], len(body), request[0])
        mirror = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10, "the copy's log line")
        self.assertEqual((mirror[0]["method"], mirror[0]["path"]), ("POST", copy.target), mirror[0])

    def test_content_length_body_is_mirrored_identically(self):
        body = os.urandom(100 * 1024)
        echo, _copy = self.post_and_capture(body, chunked=False)
        self.assertEqual(echo["headers"].get("Content-Length"), [str(len(body))], echo)

    def test_five_mib_upload_is_mirrored_byte_exact(self):
        self.post_and_capture(os.urandom(5 * 1024 * 1024), chunked=False)

    def test_chunked_body_is_mirrored_identically(self):
        self.post_and_capture(os.urandom(100 * 1024), chunked=True)

    def test_mirror_completion_is_counted(self):
        before = self.gw.metrics().get("mirrorgate_mirror_copies_completed_total", route=ROUTE,
                                       mirror_backend="default/infra-backend-v2:8080")
        self.post_and_capture(os.urandom(1024), chunked=False)
        wait_for(lambda: self.gw.metrics().get(
            "mirrorgate_mirror_copies_completed_total", route=ROUTE,
            mirror_backend="default/infra-backend-v2:8080") >= before + 1, 5,
            "mirror completed counter")


if __name__ == "__main__":
    mgtest.main()
