"""A real Kubernetes control plane for end-to-end tests (standard library only).

    with kube.Cluster() as cluster:
        cluster.apply(yaml_text)
        routes = cluster.get("httproutes", "-A")["items"]

Cluster runs scripts/cluster.sh (docs/cluster.md): kube-apiserver and etcd built from the Kubernetes Go
modules, with the Gateway API CRDs (standard channel) and ours installed. Each Cluster has its own state
directory and free loopback ports, so a test's cluster never meets a developer's (scripts/cluster.sh up
without MG_CLUSTER_DIR) or another test's. It is torn down when the `with` block ends, and also, through
mgtest's exit hooks, at interpreter exit and on SIGTERM (ctest's timeout).

The API server can be stopped and started again (stop_apiserver, start_apiserver): etcd keeps running, so
every object stays, and the port and CA stay, so kubeconfigs handed out before still work.

Cluster(workloads=True, pod_subnet=...) also runs kube-controller-manager and the process-kubelet: pods run as
local processes (the conformance echo image as mirrorgate-echo) at addresses of pod_subnet, in a network
namespace of their own (docs/cluster.md). Without it, the control plane alone: nothing runs pods.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import mgtest

CLUSTER_SH = mgtest.SOURCE_DIR / "scripts" / "cluster.sh"
# The first build of the binaries takes minutes (scripts/test.sh does it before ctest); everything after
# that is seconds.
BUILD_TIMEOUT = 3600.0
UP_TIMEOUT = 120.0


class KubectlError(AssertionError):
    def __init__(self, argv: list[str], result: subprocess.CompletedProcess):
        self.result = result
        super().__init__(f"{' '.join(argv)} exited {result.returncode}\n--- stdout:\n{result.stdout}"
                         f"\n--- stderr:\n{result.stderr}")


# Commands under way (a first build can take minutes): killed with their process group at exit or SIGTERM.
_running: dict[int, subprocess.Popen] = {}


def _kill_running() -> None:
    for pid in list(_running):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


mgtest.on_exit(_kill_running)


def _run(argv: list[str], env: dict[str, str], timeout: float, input: str | None = None
         ) -> subprocess.CompletedProcess:
    """Runs argv in its own process group, killed whole when the deadline passes."""
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _running[p.pid] = p
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(f"{' '.join(argv)} still running after {timeout:.0f} s\n--- stdout:\n{out}"
                             f"\n--- stderr:\n{err}") from None
    finally:
        _running.pop(p.pid, None)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def _free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = mgtest.free_port("127.0.0.1")
        if port not in ports:
            ports.append(port)
    return ports


class Cluster:
    """One control plane: `with Cluster() as c:` starts it (up) and tears it down (down).

    apiserver_args: extra kube-apiserver flags, e.g. ["--watch-cache-sizes=httproutes.gateway.networking.k8s.io#0"]
    to serve a kind's watches from etcd, where a compaction expires them at once."""

    def __init__(self, apiserver_args: list[str] | None = None, workloads: bool = False,
                 pod_subnet: str | None = None):
        self.apiserver_args = list(apiserver_args or [])
        self.workloads = workloads
        self.pod_subnet = pod_subnet
        self.dir: Path | None = None
        self.kubeconfig: Path | None = None
        self.bin_dir: Path | None = None
        self.api_port = self.etcd_port = self.etcd_peer_port = 0
        self.env: dict[str, str] = {}
        self._exit_token: int | None = None

    # --- life cycle

    def __enter__(self) -> "Cluster":
        try:
            self.up()
        except BaseException:
            try:
                self.down()
            except AssertionError as e:  # the failure to report is up's
                print(f"cluster down after a failed up: {e}", file=sys.stderr)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca_file(self) -> Path:
        """The cluster CA's certificate (what a pod finds in /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)."""
        return self.dir / "pki" / "ca.crt"

    def up(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mg-cluster-"))
        self.api_port, self.etcd_port, self.etcd_peer_port = _free_ports(3)
        self.env = dict(os.environ, MG_CLUSTER_DIR=str(self.dir), MG_CLUSTER_API_PORT=str(self.api_port),
                        MG_CLUSTER_ETCD_PORT=str(self.etcd_port),
                        MG_CLUSTER_ETCD_PEER_PORT=str(self.etcd_peer_port),
                        MG_CLUSTER_APISERVER_ARGS=" ".join(self.apiserver_args),
                        MG_CLUSTER_WORKLOADS="1" if self.workloads else "0", MG_ECHO_BIN=mgtest.ECHO_BIN,
                        MG_GATEWAY_BIN=mgtest.GATEWAY_BIN)
        if self.pod_subnet:
            self.env["MG_CLUSTER_POD_SUBNET"] = self.pod_subnet
        self._exit_token = mgtest.on_exit(self.kill)
        self.script("build", timeout=BUILD_TIMEOUT)
        out = self.script("up", timeout=UP_TIMEOUT).stdout
        exports = dict(line.removeprefix("export ").split("=", 1)
                       for line in out.splitlines() if line.startswith("export "))
        self.kubeconfig = Path(exports["KUBECONFIG"])
        self.bin_dir = Path(exports["PATH"].removesuffix(":$PATH"))
        self.env["KUBECONFIG"] = str(self.kubeconfig)
        self.env["PATH"] = f"{self.bin_dir}:{os.environ.get('PATH', '')}"

    def down(self, timeout: float = 90.0) -> None:
        """scripts/cluster.sh down (stops etcd and the API server, removes the state dir); kills whatever is
        left if that fails."""
        if self.dir is None:
            return
        try:
            if self.dir.exists():
                self.script("down", timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the process groups in the state dir's pid files, then removes the dir: for SIGTERM and
        interpreter exit, where there is no time for a graceful stop."""
        if self._exit_token is not None:
            mgtest.cancel_on_exit(self._exit_token)
            self._exit_token = None
        if self.dir is None:
            return
        for pid in self.pids().values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.workloads and self.api_port:
            self._remove_pod_network()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _remove_pod_network(self) -> None:
        """What a killed process-kubelet leaves: its pods' processes, their network namespaces (with their
        veth pairs) and the bridge (named after the API port, as scripts/cluster.sh names them)."""
        for netns in self.pod_namespaces():
            pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, timeout=10)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", f"mgk{self.api_port}"], capture_output=True, timeout=10)

    def pod_namespaces(self) -> list[str]:
        """The network namespaces of this cluster's pods (mgc<API port>-<last octet of the pod address>)."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        prefix = f"mgc{self.api_port}-"
        return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]

    def pids(self) -> dict[str, int]:
        """{"etcd": pid, "apiserver": pid, ...} of the pid files present (the processes may have exited)."""
        found = {}
        for name in ("etcd", "apiserver", "controller-manager", "process-kubelet"):
            try:
                found[name] = int((self.dir / f"{name}.pid").read_text())
            except (OSError, ValueError, TypeError):
                pass
        return found

    def stop_apiserver(self) -> None:
        """Stops kube-apiserver (SIGTERM, graceful); etcd and every object stay."""
        self.script("stop-apiserver", timeout=60)

    def start_apiserver(self) -> None:
        """Starts kube-apiserver again on the same port with the same CA; returns once /readyz is ok."""
        self.script("start-apiserver", timeout=UP_TIMEOUT)

    def apiserver_running(self) -> bool:
        return self.script("status", timeout=30, check=False).returncode == 0

    def compact_etcd(self) -> int:
        """Compacts etcd at its current revision and returns it: every older resourceVersion is gone from etcd
        (a list at such a version is 410 Expired; watches served from the API server's watch cache are not,
        as long as the cache still holds that version; see docs/cluster.md)."""
        return int(self.script("compact", timeout=60).stdout.strip())

    # --- clients

    def script(self, *args: str, timeout: float, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(CLUSTER_SH), *args]
        result = _run(argv, self.env, timeout)
        if check and result.returncode != 0:
            raise KubectlError(argv, result)
        return result

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0,
                kubeconfig: Path | str | None = None) -> subprocess.CompletedProcess:
        """kubectl ARGS as the admin (system:masters), or as the user of `kubeconfig`. Returns the completed
        process (text stdout/stderr); with check, a non-zero exit raises KubectlError."""
        argv = [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig}",
                "--request-timeout=30s", *args]
        result = _run(argv, self.env, timeout, input=input)
        if check and result.returncode != 0:
            raise KubectlError(argv, result)
        return result

    def apply(self, yaml_text: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """kubectl apply -f - (server-side field validation is strict: unknown fields are errors)."""
        return self.kubectl("apply", "-f", "-", *args, input=yaml_text, check=check)

    def delete(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """kubectl delete ARGS (e.g. "httproute", "mirror", "-n", "default"), or the objects of `input` YAML;
        objects already gone are no error."""
        files = ["-f", "-"] if input is not None else []
        return self.kubectl("delete", "--ignore-not-found", *files, *args, input=input, check=check)

    def get(self, *args: str, kubeconfig: Path | str | None = None) -> dict:
        """kubectl get ARGS -o json, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json", kubeconfig=kubeconfig).stdout)

    def helm(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess:
        argv = [str(self.bin_dir / "helm"), *args]
        result = _run(argv, self.env, timeout)
        if check and result.returncode != 0:
            raise KubectlError(argv, result)
        return result

    def user_kubeconfig(self, user: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        """A kubeconfig whose client certificate (signed by the cluster CA) names `user` and `groups`; without
        RBAC bindings for them it may do nothing but what system:authenticated may."""
        path = self.dir / "users" / f"{user}.kubeconfig"
        path.parent.mkdir(exist_ok=True)
        path.write_text(self.script("kubeconfig", user, *groups, timeout=60).stdout)
        path.chmod(0o600)
        return path

    def service_account_token(self, name: str, namespace: str = "default", create: bool = True) -> str:
        """A bound token of ServiceAccount namespace/name (TokenRequest API, 1 h), creating the account first
        when asked: what a pod's projected token is, for in-cluster configuration."""
        if create and self.kubectl("get", "serviceaccount", name, "-n", namespace, check=False).returncode != 0:
            self.kubectl("create", "serviceaccount", name, "-n", namespace)
        return self.kubectl("create", "token", name, "-n", namespace).stdout.strip()

    def describe(self, lines: int = 30) -> str:
        """The tails of the control plane's logs, for failure messages."""
        out = []
        for name in ("etcd", "apiserver", "controller-manager", "process-kubelet"):
            try:
                text = (self.dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
            except (OSError, TypeError):
                text = []
            out.append(f"--- {name}.log (tail):\n" + "\n".join(text))
        return "\n".join(out)


def process_alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pids, timeout: float = 30.0) -> None:
    mgtest.wait_for(lambda: not any(process_alive(p) for p in pids), timeout, f"processes {list(pids)} to exit")


class KubeTestCase(mgtest.DumpsOnFailure, unittest.TestCase):
    """One control plane (self.kube) and one mgtest.Cluster of processes (self.cluster) per test class,
    started before `start(cls)` (the class's own set-up) and torn down after the last test; on a failure
    the processes' logs and the control plane's are printed."""

    APISERVER_ARGS: list[str] = []
    WORKLOADS = False  # kube-controller-manager and the process-kubelet too
    POD_SUBNET: str | None = None  # theirs: a /24 of 10.244.0.0/16 no other test uses
    cluster: mgtest.Cluster
    kube: Cluster

    @classmethod
    def start(cls) -> None:  # pragma: no cover - overridden
        pass

    @classmethod
    def stop(cls) -> None:
        """The class's own tear-down, before the processes and the control plane go."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = mgtest.Cluster(cls.__name__)
        cls.kube = Cluster(cls.APISERVER_ARGS, workloads=cls.WORKLOADS, pod_subnet=cls.POD_SUBNET)
        try:
            cls.kube.up()
            cls.start()
        except BaseException:
            cls.dump()
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop()
        finally:
            cls.cluster.close()
            cls.kube.down()

    @classmethod
    def dump(cls):
        cls.cluster.dump()
        if cls.kube.dir:
            sys.stderr.write(cls.kube.describe())

    def dump_processes(self) -> None:
        self.dump()
