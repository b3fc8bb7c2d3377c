#!/usr/bin/env python3
"""How fast a change made with the Kubernetes API reaches traffic, and what many routes cost
(issue 13, "Speed and scale"). Runs on the local control plane of scripts/cluster.sh (tests/e2e/kube.py),
with echo pods in a network namespace (tests/e2e/podnet.py); needs root for the namespace.

  bench/k8s_changes.py [--routes 1000] [--changes 100] [--scale-routes 10000] [--scale-endpoints 50000]
                       [--gateway build/mirrorgate] [--echo build/mirrorgate-echo]

1. Route change: with --routes HTTPRoutes present, --changes times: create one new HTTPRoute (a new
   path) with the API and poll the gateway (every 1 ms) until that path answers 200. Latency is from the
   start of the create request to the first 200.
2. EndpointSlice change: --changes times: move a Service's one endpoint from pod A to pod B (or back)
   and poll until answers come from the new pod.
3. Scale: --scale-routes HTTPRoutes and --scale-endpoints endpoints (slices of 100) created first; then
   the gateway starts: time until the API server shows the Gateway Programmed and the last route
   Accepted (written back by the gateway), and the gateway's RSS then.

Prints one line per figure and a Markdown table for bench/RESULTS.md. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import ssl
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import kube  # noqa: E402
import mgtest  # noqa: E402
import podnet  # noqa: E402

NET = "127.0.38"


class Api:
    """Plain HTTPS calls with the admin client certificate: no kubectl start-up in the timings."""

    def __init__(self, cluster: kube.Cluster):
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        user = config["users"][0]["user"]
        pem = cluster.dir / "bench-admin.pem"
        pem.write_bytes(base64.b64decode(user["client-certificate-data"]) + base64.b64decode(user["client-key-data"]))
        pem.chmod(0o600)
        self.server = cluster.server
        self.ctx = ssl.create_default_context(cafile=str(cluster.dir / "pki" / "ca.crt"))
        self.ctx.load_cert_chain(str(pem))

    def call(self, method: str, path: str, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.loads(r.read() or b"null")


def route(name: str, prefix: str, backend: str = "bench-backend") -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "bench"}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                                "backendRefs": [{"name": backend, "port": 8080}]}]}}


def endpoint_slice(name: str, service: str, ips: list[str]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def create_many(api: Api, collection: str, objects: list[dict]) -> float:
    started = time.monotonic()
    for o in objects:
        api.call("POST", collection, o)
    return time.monotonic() - started


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def poll(predicate, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.001)
    raise SystemExit("timed out waiting for a change to reach traffic")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def bench_cluster(name: str, host: int):
    """A control plane, two echo pods of Service bench-backend (its EndpointSlice holds pod A), and
    Gateway bench on NET.<host>; yields (cluster, mgtest.Cluster, Api, pod A, pod B, gateway ip, port)."""
    c = mgtest.Cluster(name)
    with kube.Cluster() as cluster:
        pods = podnet.PodNetwork()
        try:
            gw_ip = f"{NET}.{host}"
            gw_port = mgtest.free_port(gw_ip)
            api = Api(cluster)
            cluster.apply(f"""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: mirrorgate}}
spec: {{controllerName: mirrorgate.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: bench, namespace: default}}
spec:
  gatewayClassName: mirrorgate
  addresses: [{{type: IPAddress, value: {gw_ip}}}]
  listeners: [{{name: http, protocol: HTTP, port: {gw_port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: bench-backend, namespace: default}}
spec: {{ports: [{{name: http, port: 8080, targetPort: 3000}}]}}
""")
            a = pods.echo(c, "bench-backend-5c6d7e8f9-aaaaa", "bench-backend")
            b = pods.echo(c, "bench-backend-5c6d7e8f9-bbbbb", "bench-backend")
            a.wait_ready()
            b.wait_ready()
            api.call("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                     endpoint_slice("bench-backend-x", "bench-backend", [a.ip]))
            yield cluster, c, api, a, b, gw_ip, gw_port
        finally:
            c.close()
            pods.close()


def create_routes(api: Api, n: int) -> None:
    print(f"creating {n} HTTPRoutes ...", file=sys.stderr)
    took = create_many(api, "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes",
                       [route(f"r{i}", f"/r{i}") for i in range(n)])
    print(f"  {took:.1f} s", file=sys.stderr)


def changes(args) -> list[str]:
    rows = []
    with bench_cluster("k8s-bench", 1) as (cluster, c, api, a, b, gw_ip, gw_port):
        create_routes(api, args.routes)
        gw = c.gateway(None, admin_ip=gw_ip, workers=1,
                       extra_args=["--kubeconfig", str(cluster.kubeconfig)])
        gw.wait_ready(60)
        poll(lambda: mgtest.get(gw_ip, gw_port, f"/r{args.routes - 1}", timeout=1).status == 200, 60)

        route_ms = []
        for k in range(args.changes):
            started = time.monotonic()
            api.call("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes",
                     route(f"probe-{k}", f"/probe-{k}"))
            served = poll(lambda: mgtest.get(gw_ip, gw_port, f"/probe-{k}", timeout=1).status == 200)
            route_ms.append((served - started) * 1000)
        rows.append(f"| route created -> first request served, {args.routes} routes present, "
                    f"{args.changes} changes | p50 {statistics.median(route_ms):.0f} ms | "
                    f"p99 {percentile(route_ms, 99):.0f} ms | max {max(route_ms):.0f} ms |")

        slice_path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/bench-backend-x"
        endpoint_ms = []
        current = a
        for k in range(args.changes):
            target = b if current is a else a
            started = time.monotonic()
            api.call("PATCH", slice_path, {"endpoints": [{"addresses": [target.ip], "conditions": {"ready": True}}]},
                     "application/merge-patch+json")
            served = poll(lambda: mgtest.get(gw_ip, gw_port, "/r0", timeout=1).json()["pod"] == target.pod)
            endpoint_ms.append((served - started) * 1000)
            current = target
        rows.append(f"| EndpointSlice changed -> requests reach the new pod, {args.routes} routes present, "
                    f"{args.changes} changes | p50 {statistics.median(endpoint_ms):.0f} ms | "
                    f"p99 {percentile(endpoint_ms, 99):.0f} ms | max {max(endpoint_ms):.0f} ms |")
        rows.append(f"| gateway RSS with {args.routes} routes | {rss_kib(gw.pid) / 1024:.0f} MiB | | |")
    return rows


def scale(args) -> list[str]:
    rows = []
    with bench_cluster("k8s-scale", 2) as (cluster, c, api, _, _, gw_ip, gw_port):
        create_routes(api, args.scale_routes)
        # The endpoints belong to a Service of their own, behind a route that no request uses: they
        # are translated and balanced over, but never contacted (198.18.0.0/15 is the benchmark range;
        # nothing leaves this machine).
        slices = args.scale_endpoints // 100
        print(f"creating {slices} EndpointSlices of 100 endpoints ...", file=sys.stderr)
        cluster.apply("apiVersion: v1\nkind: Service\nmetadata: {name: many-backend, namespace: default}\n"
                      "spec: {ports: [{name: http, port: 8080, targetPort: 3000}]}\n")
        api.call("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes",
                 route("many", "/never-requested", "many-backend"))
        ips = [f"198.{18 + i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(args.scale_endpoints)]
        took = create_many(api, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                           [endpoint_slice(f"many-{s}", "many-backend", ips[s * 100:(s + 1) * 100])
                            for s in range(slices)])
        print(f"  {took:.1f} s", file=sys.stderr)
        started = time.monotonic()
        gw = c.gateway(None, admin_ip=gw_ip, workers=1,
                       extra_args=["--kubeconfig", str(cluster.kubeconfig)])

        def programmed():
            g = api.call("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/bench")
            conds = g.get("status", {}).get("conditions", [])
            return any(x["type"] == "Programmed" and x["status"] == "True" for x in conds)

        def last_route_accepted():
            r = api.call("GET", f"/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/"
                                f"r{args.scale_routes - 1}")
            return any(x["type"] == "Accepted" and x["status"] == "True"
                       for p in r.get("status", {}).get("parents", []) for x in p["conditions"])
        t_programmed = poll(programmed, 300) - started
        t_served = poll(lambda: mgtest.get(gw_ip, gw_port, f"/r{args.scale_routes - 1}", timeout=1).status == 200,
                        300) - started
        t_accepted = poll(last_route_accepted, 600) - started
        rows.append(f"| {args.scale_routes} routes, {args.scale_endpoints} endpoints: start -> Gateway "
                    f"Programmed | {t_programmed:.1f} s | | |")
        rows.append(f"| ... start -> last route served | {t_served:.1f} s | | |")
        rows.append(f"| ... start -> every route's status written (last Accepted) | {t_accepted:.1f} s | | |")
        rows.append(f"| ... gateway RSS | {rss_kib(gw.pid) / 1024:.0f} MiB | | |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--routes", type=int, default=1000)
    p.add_argument("--changes", type=int, default=100)
    p.add_argument("--scale-routes", type=int, default=10000)
    p.add_argument("--scale-endpoints", type=int, default=50000)
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--skip-changes", action="store_true")
    p.add_argument("--gateway", default=str(ROOT / "build" / "mirrorgate"))
    p.add_argument("--echo", default=str(ROOT / "build" / "mirrorgate-echo"))
    args = p.parse_args()
    mgtest.GATEWAY_BIN, mgtest.ECHO_BIN = args.gateway, args.echo
    rows = [] if args.skip_changes else changes(args)
    if not args.skip_scale:
        rows += scale(args)
    print("| what | figure | | |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
