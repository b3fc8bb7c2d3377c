#!/usr/bin/env python3
"""What a backend's transport costs the gateway: CPU per request through one route to a plain HTTP/1.1
backend, to a TLS backend (BackendTLSPolicy; nginx terminating TLS and answering itself), to an h2c
backend (mirrorgate-echo's h2c port) and to an HTTP/2-over-TLS backend (an h2c port under a policy; nginx
with ALPN h2), for two builds side by side (BEFORE and AFTER, e.g. a build of main and one of a branch).

Method (as bench/load.sh measures): wrk (HTTP/1.1 keep-alive, -c CONNECTIONS) and the backends pinned to
LOAD_CPU, the gateway pinned to PROXY_CPU with one worker; per (build, backend) a warm-up run, then a
measured run; ROUNDS rounds with the builds alternating; medians. CPU per request = the gateway's
utime+stime (/proc/PID/stat) over the measured run divided by the requests wrk counted.

Usage: bench/upstream_transport.py BEFORE_BIN AFTER_BIN [ECHO_BIN]   (loopback 127.0.106.0/24 only)
Environment: ROUNDS (3), DURATION (8 s), WARMUP (2 s), CONNECTIONS (64), MODES ("plain tls h2c").
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import mgtest  # noqa: E402 - the YAML helpers of the e2e tests
from test_backend_tls import NAME, config_map_yaml, make_pki, policy_yaml  # noqa: E402

NET = "127.0.106"
GW, TLS_BACKEND, ECHO = f"{NET}.1", f"{NET}.2", f"{NET}.3"
PORT, ADMIN_PORT, TLS_PORT, H2_TLS_PORT, ECHO_PORT, H2C_PORT = 18106, 19106, 8443, 8444, 3000, 3001
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "8"))
WARMUP = int(os.environ.get("WARMUP", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
MODES = os.environ.get("MODES", "plain tls h2c h2tls").split()
LOAD_CPU, PROXY_CPU = os.environ.get("LOAD_CPU", "0"), os.environ.get("PROXY_CPU", "1")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def gateway_config(ca_pem: str) -> str:
    docs = [mgtest.gatewayclass_yaml(), mgtest.gateway_yaml("bench", GW, PORT), config_map_yaml("ca", ca_pem)]
    for svc, ip, port, proto in (("plain", ECHO, ECHO_PORT, None), ("tls", TLS_BACKEND, TLS_PORT, None),
                                 ("h2c", ECHO, H2C_PORT, "kubernetes.io/h2c"),
                                 ("h2tls", TLS_BACKEND, H2_TLS_PORT, "kubernetes.io/h2c")):
        docs += [mgtest.route_yaml(svc, "bench", "/" + svc, svc, backend_port=8080),
                 mgtest.service_yaml(svc, port=8080, target_port=port, app_protocol=proto),
                 mgtest.endpointslice_yaml(svc, [(ip, svc + "-pod", True)], port=port)]
    docs += [policy_yaml("tls", "tls", "ca"), policy_yaml("h2tls", "h2tls", "ca")]
    return mgtest.join_docs(*docs)


def nginx_config(d: Path) -> str:
    return f"""daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen {TLS_BACKEND}:{TLS_PORT} ssl; ssl_certificate {d}/leaf.crt; ssl_certificate_key {d}/leaf.key;
    server_name {NAME}; location / {{ return 200 "hello from nginx over TLS\\n"; }} }}
  server {{ listen {TLS_BACKEND}:{H2_TLS_PORT} ssl http2; ssl_certificate {d}/leaf.crt;
    ssl_certificate_key {d}/leaf.key;
    server_name {NAME}; location / {{ return 200 "hello from nginx over h2\\n"; }} }} }}
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def wrk(path: str, seconds: int) -> int:
    out = subprocess.run(["taskset", "-c", LOAD_CPU, "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s",
                          f"http://{GW}:{PORT}{path}"], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {path}:\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1))


def wait_ok(path: str, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{GW}:{PORT}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"{path} never answered 200")
        time.sleep(0.1)


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = {"before": sys.argv[1], "after": sys.argv[2]}
    echo_bin = sys.argv[3] if len(sys.argv) > 3 else str(Path(sys.argv[2]).parent / "mirrorgate-echo")
    d = Path(tempfile.mkdtemp(prefix="mg-bench-transport-"))
    pems = make_pki(d)
    (d / "config.yaml").write_text(gateway_config(pems["ca1"]))
    (d / "nginx.conf").write_text(nginx_config(d))
    env = dict(os.environ, POD_NAME="bench-pod", NAMESPACE="default", SERVICE_NAME="plain")
    backends = [subprocess.Popen(["taskset", "-c", LOAD_CPU, "nginx", "-p", str(d), "-c", str(d / "nginx.conf")]),
                subprocess.Popen(["taskset", "-c", LOAD_CPU, echo_bin, "--threads", "1", "--listen",
                                  f"{ECHO}:{ECHO_PORT}", "--h2c-port", str(H2C_PORT)], env=env,
                                 stdout=subprocess.DEVNULL)]
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for r in range(ROUNDS):
            for build in (("before", "after") if r % 2 == 0 else ("after", "before")):
                gw = subprocess.Popen(["taskset", "-c", PROXY_CPU, builds[build], "-c", str(d / "config.yaml"),
                                       "--workers", "1", "--admin", f"{GW}:{ADMIN_PORT}"],
                                      stdout=subprocess.DEVNULL, stderr=open(d / f"{build}.stderr", "ab"))
                try:
                    for mode in MODES:
                        wait_ok("/" + mode)
                        wrk("/" + mode, WARMUP)
                        start = cpu_seconds(gw.pid)
                        n = wrk("/" + mode, DURATION)
                        us = (cpu_seconds(gw.pid) - start) / n * 1e6
                        results.setdefault((build, mode), []).append(us)
                        print(f"round {r + 1} {build:6} {mode:5}: {n / DURATION:8.0f} req/s, {us:6.1f} us CPU/request",
                              flush=True)
                finally:
                    gw.terminate()
                    gw.wait()
    finally:
        for p in backends:
            p.terminate()
            p.wait()
    print(f"\nmedians of {ROUNDS} rounds (wrk -c{CONNECTIONS}, {DURATION} s; gateway on CPU {PROXY_CPU}, one worker)")
    for mode in MODES:
        b, a = statistics.median(results[("before", mode)]), statistics.median(results[("after", mode)])
        print(f"{mode:5}: before {b:6.1f} us, after {a:6.1f} us CPU/request, after/before {a / b:.2f}")


if __name__ == "__main__":
    main()
