"""Per-listener limits (ClientTrafficPolicy): one Gateway with two listeners on two ports, a policy on
one of them (sectionName) with maxRequestBodySize 1Ki, maxHeaders 10, maxRequestLineSize 1Ki and a 1 s
requestHeader timeout. The policed listener answers 413 / 431 / 414 / 408, the other accepts the same
requests (the flags' defaults); /status shows the policy Accepted; a hot reload that removes the policy
lifts the limits.

Loopback block 127.0.27.0/24: gateway .1 (both listeners and admin), echo pod .2."""

import socket
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.27"
POD = "policy-backend-7c9d8b6f5-p0l1c"

POLICY = """apiVersion: mirrorgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: strict
  namespace: default
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: policy-gateway
    sectionName: strict
  limits:
    maxRequestLineSize: 1Ki
    maxHeaders: 10
    maxRequestBodySize: 1Ki
  timeouts:
    requestHeader: 1s
"""


def gateway_yaml(ip: str, open_port: int, strict_port: int) -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: policy-gateway
  namespace: default
spec:
  gatewayClassName: mirrorgate
  addresses:
  - type: IPAddress
    value: {ip}
  listeners:
  - name: open
    protocol: HTTP
    port: {open_port}
  - name: strict
    protocol: HTTP
    port: {strict_port}
"""


ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: app
  namespace: default
spec:
  parentRefs:
  - name: policy-gateway
  rules:
  - backendRefs:
    - name: policy-backend
      port: 8080
"""


def recv_until_close(sock: socket.socket, timeout: float) -> bytes:
    """Reads until the peer closes or `timeout` passes."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


class ListenerPolicy(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.ip = f"{NET}.1"
        cls.open_port, cls.strict_port = mgtest.free_port(cls.ip), mgtest.free_port(cls.ip)
        while cls.strict_port == cls.open_port:
            cls.strict_port = mgtest.free_port(cls.ip)
        cls.dir = c.config_dir()
        (cls.dir / "gateway.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            gateway_yaml(cls.ip, cls.open_port, cls.strict_port),
            ROUTE,
            mgtest.service_yaml("policy-backend"),
            mgtest.endpointslice_yaml("policy-backend", [(f"{NET}.2", POD, True)]),
        ))
        (cls.dir / "policy.yaml").write_text(POLICY)
        cls.pod = c.echo(POD, f"{NET}.2")
        # A long flag default, so that the policy's 1 s header timeout is what a slow client meets.
        cls.gw = c.gateway(cls.dir, admin_ip=cls.ip, workers=2, extra_args=["--header-timeout", "30"])
        cls.pod.wait_ready()
        cls.gw.wait_ready()

    def request(self, port: int, method: str = "GET", path: str = "/app", headers=None, body=None):
        return mgtest.http_request(self.ip, port, method, path, headers=headers, body=body)

    def many_headers(self) -> dict:
        return {f"X-Extra-{i}": "v" for i in range(12)}  # with Host and Accept-Encoding: 14 > 10

    def test_body_over_the_listener_limit_is_413_only_there(self):
        body = b"x" * 2048
        self.assertEqual(self.request(self.strict_port, "POST", "/app/big-strict", body=body).status, 413)
        self.assertEqual(self.request(self.strict_port, "POST", "/app/small", body=b"x" * 1024).status, 200)
        self.assertEqual(self.request(self.open_port, "POST", "/app/big-open", body=body).status, 200)
        self.assertTrue(self.pod.has_echoed("/app/big-open"))
        self.assertFalse(self.pod.has_echoed("/app/big-strict"), "the over-limit body reached the backend")

    def test_too_many_headers_is_431_only_there(self):
        r = self.request(self.strict_port, headers=self.many_headers())
        self.assertEqual(r.status, 431, r)
        self.assertEqual(self.request(self.open_port, headers=self.many_headers()).status, 200)
        self.assertEqual(self.request(self.strict_port, headers={"X-One": "1"}).status, 200)

    def test_long_request_line_is_414_only_there(self):
        path = "/app/" + "a" * 1500
        r = self.request(self.strict_port, path=path)
        self.assertEqual(r.status, 414, r)
        self.assertEqual(self.request(self.open_port, path=path).status, 200)

    def test_slow_request_head_gets_408_from_the_policy_timeout(self):
        strict = socket.create_connection((self.ip, self.strict_port), timeout=5)
        self.addCleanup(strict.close)
        other = socket.create_connection((self.ip, self.open_port), timeout=5)
        self.addCleanup(other.close)
        for s in (strict, other):
            s.sendall(b"GET /app HTTP/1.1\r\nHost: policy\r\n")  # never finishes the head
        start = time.monotonic()
        reply = recv_until_close(strict, 10)
        self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply[:200])
        self.assertLess(time.monotonic() - start, 5.0, "the policy's 1 s header timeout took too long")
        # The other listener keeps the 30 s flag: the same slow head is still waiting.
        other.setblocking(False)
        with self.assertRaises(BlockingIOError):
            other.recv(1)

    def test_status_shows_the_policy_accepted_on_its_listener(self):
        status = self.gw.admin("/status").json()
        items = [i for i in status["items"] if i["kind"] == "ClientTrafficPolicy"]
        self.assertEqual(len(items), 1, items)
        ancestors = items[0]["status"]["ancestors"]
        self.assertEqual(len(ancestors), 1, ancestors)
        self.assertEqual(ancestors[0]["ancestorRef"]["sectionName"], "strict")
        accepted = ancestors[0]["conditions"][0]
        self.assertEqual((accepted["type"], accepted["status"], accepted["reason"]), ("Accepted", "True", "Accepted"))
        dump = self.gw.admin("/config_dump").json()
        by_port = {l["port"]: l.get("clientTrafficPolicy") for l in dump["listeners"]}
        self.assertEqual(by_port[self.strict_port]["policy"], "default/strict", by_port)
        self.assertIsNone(by_port[self.open_port], by_port)

    def test_zz_hot_reload_removing_the_policy_lifts_the_limits(self):
        # Runs last (name order): it changes the config.
        body = b"x" * 2048
        self.assertEqual(self.request(self.strict_port, "POST", "/app/before", body=body).status, 413)
        kept = mgtest.RawConnection(self.ip, self.strict_port)  # a keep-alive connection across the reload
        self.addCleanup(kept.close)
        self.assertEqual(kept.request("GET", "/app/kept").status, 200)
        (self.dir / "policy.yaml").unlink()
        wait_for(lambda: self.request(self.strict_port, "POST", "/app/after", body=body).status == 200, 15,
                 "the body limit to be lifted by the reload")
        self.assertEqual(self.request(self.strict_port, headers=self.many_headers()).status, 200)
        # The next request of a connection opened before the reload gets the new limits too.
        self.assertEqual(kept.request("GET", "/app/kept-after", headers=self.many_headers()).status, 200)
        self.assertEqual(self.request(self.strict_port, path="/app/" + "a" * 1500).status, 200)
        self.assertEqual(self.gw.admin("/status").json()["lastReloadError"], "")


if __name__ == "__main__":
    mgtest.main()
