"""Pod addresses for end-to-end tests against a real API server (standard library only).

The API server refuses loopback addresses in EndpointSlices, so the tests' pods get addresses such as
10.244.N.x inside a network namespace the test creates: a veth pair joins it to this machine's own
namespace (host side 10.244.N.1/24), the echo pods run inside it (`ip netns exec`), and the gateway,
outside, reaches them through the pair. Nothing is routed beyond this machine. The namespace, its
processes and the pair are removed when the test ends, also on failure (atexit)."""

from __future__ import annotations

import atexit
import os
import subprocess

import mgtest


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=10)


class PodNetwork:
    def __init__(self, subnet: int | None = None):
        pid = os.getpid()
        self.subnet = subnet if subnet is not None else 20 + pid % 200
        self.ns = f"mgpods{pid}"
        self.host_if = f"mgp{pid % 1000000}"
        self.gateway_ip = f"10.244.{self.subnet}.1"
        self._next = 2
        _ip("netns", "add", self.ns)
        atexit.register(self.close)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        _ip("addr", "add", f"{self.gateway_ip}/24", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.ns, "link", "set", "lo", "up")
        _ip("-n", self.ns, "link", "set", "eth0", "up")

    def new_ip(self) -> str:
        """A fresh pod address, assigned inside the namespace."""
        ip = f"10.244.{self.subnet}.{self._next}"
        self._next += 1
        _ip("-n", self.ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        return ip

    def echo(self, cluster: mgtest.Cluster, pod: str, service: str, namespace: str = "default",
             ip: str | None = None) -> mgtest.EchoPod:
        """An echo pod on a fresh address (or `ip`), started in the namespace; not yet waited for."""
        return cluster.echo(pod, ip or self.new_ip(), namespace=namespace, service=service,
                            wrapper=["ip", "netns", "exec", self.ns])

    def close(self) -> None:
        pids = _ip("netns", "pids", self.ns, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), 9)
            except (ProcessLookupError, ValueError):
                pass
        _ip("netns", "del", self.ns, check=False)  # the veth pair goes with it
        _ip("link", "del", self.host_if, check=False)
