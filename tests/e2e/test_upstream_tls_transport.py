"""TLS to backends runs in the gateway's process, on the backend's own TCP connection: a pooled TLS
connection is one TCP socket in the gateway and no local (AF_UNIX) socket pair beside it, as a relay
would need. A TLS close reads as a plain one: a body delimited by the backend's close ends cleanly both
after a close_notify and after a TCP close without one (a truncated record). A WebSocket tunnel to a TLS
backend reads and writes the one TLS stream both ways at once.

Loopback block 127.0.106.0/24: gateway .1, keep-alive TLS backend .2, closing TLS backend .3."""

import os
import socket
import ssl
import threading

import mgtest
import test_backend_tls
import wsframes
from mgtest import wait_for
from test_backend_tls import TlsBackend, config_map_yaml, make_pki, policy_yaml

NET = "127.0.106"
BODY = b"the body ends where the connection does"


class ClosingTlsBackend(mgtest.ThreadedTcpServer):
    """Answers one request per connection with a body delimited by its close: after a close_notify when
    the path ends in /notify, else by closing TCP under TLS (what OpenSSL calls a truncated stream).
    A path ending in /ws switches to WebSocket and sends back every byte after the head, until EOF."""

    def __init__(self, ip: str, port: int, context: ssl.SSLContext):
        super().__init__(ip, port, conn_timeout=2.0)
        self.context = context
        self.requests: list[bytes] = []  # the heads read, as Cluster.dump reads a capture
        self.start_accepting()

    def serve(self, conn, peer, number):
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                piece = tls.recv(4096)
                if not piece:
                    return
                head += piece
            with self.lock:
                self.requests.append(head)
            path = head.split(b" ", 2)[1]
            if path.endswith(b"/ws"):
                self.echo_tunnel(tls, head)
                return
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + BODY)
            if path.endswith(b"/notify"):
                tls.unwrap()  # close_notify, then the TCP close
            tls.close()  # without unwrap: the TCP connection ends under an open TLS session
        except (ssl.SSLError, OSError) as e:
            self.errors.append(f"closing backend: {e!r}")

    @staticmethod
    def echo_tunnel(tls, head: bytes) -> None:
        head, rest = head.split(b"\r\n\r\n", 1)
        key = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        tls.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Accept: {wsframes.accept_for(key)}\r\n\r\n").encode() + rest)
        while chunk := tls.recv(65536):
            tls.sendall(chunk)
        tls.close()


def config(ip: str, port: int, keep_port: int, close_port: int, ca_pem: str) -> str:
    docs = [mgtest.gatewayclass_yaml(), mgtest.gateway_yaml("tlst-gateway", ip, port),
            config_map_yaml("ca-good", ca_pem)]
    for svc, backend_ip, backend_port in (("tls-keep", f"{NET}.2", keep_port), ("tls-close", f"{NET}.3", close_port)):
        docs += [mgtest.route_yaml(svc, "tlst-gateway", "/" + svc.removeprefix("tls-"), svc, backend_port=8443),
                 mgtest.service_yaml(svc, port=8443, target_port=backend_port),
                 mgtest.endpointslice_yaml(svc, [(backend_ip, svc + "-pod", True)], port=backend_port),
                 policy_yaml(svc, svc, "ca-good")]
    return mgtest.join_docs(*docs)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in (f"/proc/{pid}/fd/{name}" for name in os.listdir(f"/proc/{pid}/fd")):
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def unix_socket_inodes(pid: int) -> set[str]:
    with open(f"/proc/{pid}/net/unix") as f:
        next(f)
        return {line.split()[6] for line in f if len(line.split()) >= 7}


def tcp_peers(pid: int) -> dict[str, tuple[str, int]]:
    """inode -> (remote ip, port) of the process's network namespace's IPv4 TCP sockets."""
    out = {}
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, port = fields[2].split(":")
            ip = socket.inet_ntoa(int(addr, 16).to_bytes(4, "little"))
            out[fields[9]] = (ip, int(port, 16))
    return out


class UpstreamTlsTransport(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        pki = c.config_dir("pki")
        pems = make_pki(pki)
        cls.keep_port = mgtest.free_port(f"{NET}.2")
        cls.keep = TlsBackend(f"{NET}.2", cls.keep_port, str(pki / "leaf.crt"), str(pki / "leaf.key"))
        c.captures.append(cls.keep)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pki / "leaf.crt"), str(pki / "leaf.key"))
        close_port = mgtest.free_port(f"{NET}.3")
        cls.closing = ClosingTlsBackend(f"{NET}.3", close_port, context)
        c.captures.append(cls.closing)
        d = c.config_dir()
        (d / "config.yaml").write_text(config(cls.gw_ip, cls.gw_port, cls.keep_port, close_port, pems["ca1"]))
        # One worker: the pooled connection and the request that reuses it meet on it.
        cls.gw = c.gateway(d, admin_ip=cls.gw_ip, workers=1)
        cls.gw.wait_ready()

    def get(self, path: str) -> mgtest.Response:
        return mgtest.get(self.gw_ip, self.gw_port, path)

    def test_a_pooled_tls_connection_is_one_tcp_socket_and_no_local_pair(self):
        r = self.get("/keep/first")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sni"], test_backend_tls.NAME)
        to_backend = (f"{NET}.2", self.keep_port)
        pid = self.gw.pid

        def pooled():
            peers = tcp_peers(pid)
            return [i for i in socket_inodes(pid) if peers.get(i) == to_backend]

        wait_for(lambda: pooled(), 5, "the gateway's pooled TCP connection to the TLS backend")
        local = socket_inodes(pid) & unix_socket_inodes(pid)
        self.assertEqual(local, set(), "a TLS backend connection must not go through a local socket pair")
        # The pooled connection carries the next request: no TLS connection opened for it.
        opened = self.gw.metrics().get("mirrorgate_upstream_tls_connections_total")
        self.assertEqual(self.get("/keep/second").status, 200)
        self.assertEqual(self.gw.metrics().get("mirrorgate_upstream_tls_connections_total"), opened)
        self.assertEqual(len(pooled()), 1)

    def test_a_body_ended_by_a_tcp_close_under_tls_is_complete(self):
        r = self.get("/close/truncated")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, BODY)

    def test_a_body_ended_by_close_notify_is_complete(self):
        r = self.get("/close/notify")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, BODY)

    def test_a_websocket_tunnel_to_a_tls_backend_carries_both_ways_at_once(self):
        payload = os.urandom(512 * 1024)
        with socket.create_connection((self.gw_ip, self.gw_port), timeout=10) as sock:
            sock.sendall(wsframes.handshake_request("/close/ws", self.gw_ip, "dGhlIHNhbXBsZSBub25jZQ=="))
            head = wsframes.read_head(sock)
            self.assertEqual(head.status, 101)
            # Sent from a thread while this one reads: the backend echoes as it receives, so the gateway
            # writes to and reads from the backend's TLS stream at the same time.
            sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
            sender.start()
            got = bytearray(head.rest)
            while len(got) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
            sender.join()
            self.assertEqual(len(got), len(payload))
            self.assertTrue(bytes(got) == payload, "the tunnel altered the bytes")


if __name__ == "__main__":
    mgtest.main()
