"""The container image (Dockerfile, built by scripts/image.sh with buildah) runs: its binaries start as the
chart's user 65532, every shared library they load is in the image, the gateway carries
cap_net_bind_service and binds port 80 with it as that user, and the gateway from the image serves the seed
scenario (examples/mirror) with echo pods from the image.

The image build compiles mirrorgate inside a container (minutes on two cores), more than CTest gives a test,
so this runs only when MG_TEST_IMAGE=1 asks for it (and as root: buildah and chroot). scripts/image.sh
caches its result: with an image already built from the same sources, the test takes seconds.

The processes run with chroot into the image's root filesystem (buildah mount of a container made from it),
with /proc and /dev bound in, sharing the host's network, under the chart's securityContext (AS_CHART).

Loopback block 127.0.100.0/24: gateway 127.0.100.1 (port 80), pods 127.0.100.2-5."""

import json
import os
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

import mgtest
from mgtest import EXAMPLE_PODS, get, unique_id, wait_for

NET = "127.0.100"
GW_PORT = 80  # below 1024: only the file capability lets user 65532 bind it
# The chart's securityContext as runc applies it: user and group 65532, no new privileges
# (allowPrivilegeEscalation: false), capabilities dropped but NET_BIND_SERVICE (util-linux's setpriv, in
# the image as in every Debian system).
AS_CHART = ["/usr/bin/setpriv", "--reuid=65532", "--regid=65532", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all,+net_bind_service"]
RUN_IMAGE = os.environ.get("MG_TEST_IMAGE") == "1"


def buildah(cache: Path, *args: str) -> str:
    """buildah on scripts/image.sh's own storage (the same flags as its buildah_)."""
    return subprocess.run(["buildah", "--root", str(cache / "storage"), "--runroot", str(cache / "run"),
                           "--storage-driver", "vfs", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@unittest.skipUnless(RUN_IMAGE, "builds the container image (minutes): set MG_TEST_IMAGE=1 to run it")
@unittest.skipUnless(os.geteuid() == 0, "needs root for buildah and chroot")
class ImageRuns(mgtest.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        script = mgtest.SOURCE_DIR / "scripts" / "image.sh"
        archive = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        cls.archive = Path(archive)
        cls.cache = cls.archive.parent
        cls.container = buildah(cls.cache, "from", "--pull=never", "mirrorgate:0.1.0")
        cls.rootfs = Path(buildah(cls.cache, "mount", cls.container))
        cls.mounts = []
        for special in ("proc", "dev"):
            subprocess.run(["mount", "--bind", f"/{special}", str(cls.rootfs / special)], check=True)
            cls.mounts.append(cls.rootfs / special)
        # The test's files (config, access log) live in the image's /tmp, so the same paths work inside.
        cls.old_tempdir, tempfile.tempdir = tempfile.tempdir, str(cls.rootfs / "tmp")
        cls.wrappers = Path(tempfile.mkdtemp(prefix="mg-image-bin-", dir="/tmp"))
        mgtest.GATEWAY_BIN = cls.wrapper("mirrorgate")
        mgtest.ECHO_BIN = cls.wrapper("mirrorgate-echo")
        try:
            super().setUpClass()
        except BaseException:
            cls.release()
            raise

    @classmethod
    def wrapper(cls, binary: str) -> str:
        """A host executable that runs the image's binary as 65532 in the image, host paths under the root
        filesystem rewritten to the paths inside it."""
        path = cls.wrappers / binary
        path.write_text(f"""#!/bin/sh
root='{cls.rootfs}'
for a; do shift; set -- "$@" "$(printf '%s' "$a" | sed "s|^$root||; s|=$root|=|")"; done
exec chroot "$root" {" ".join(AS_CHART)} /usr/local/bin/{binary} "$@"
""")
        path.chmod(0o755)
        return str(path)

    @classmethod
    def release(cls):
        tempfile.tempdir = cls.old_tempdir
        for m in reversed(cls.mounts):
            subprocess.run(["umount", str(m)], check=False)
        buildah(cls.cache, "umount", cls.container)
        buildah(cls.cache, "rm", cls.container)
        subprocess.run(["rm", "-rf", str(cls.wrappers)], check=False)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.release()

    @classmethod
    def start(cls, c):
        c.dir.chmod(0o777)  # the gateway, as 65532, writes its access log there
        pod_ips = {old: f"{NET}.{old.rsplit('.', 1)[1]}" for _, old, _ in EXAMPLE_PODS}
        cls.gw_ip = f"{NET}.1"
        config = mgtest.copy_example(c.config_dir(), cls.gw_ip, GW_PORT, pod_ips)
        cls.pods = [c.echo(pod, pod_ips[ip], service=svc) for pod, ip, svc in EXAMPLE_PODS]
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        for p in cls.pods:
            p.wait_ready()
        cls.gw.wait_ready()

    def in_image(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["chroot", str(self.rootfs), *AS_CHART, *argv],
                              capture_output=True, text=True, timeout=30)

    def test_binaries_start_as_the_charts_user(self):
        version = self.in_image("/usr/local/bin/mirrorgate", "--version")
        self.assertEqual(version.returncode, 0, version)
        self.assertRegex(version.stdout, r"^mirrorgate 0\.1\.0", version)
        echo = self.in_image("/usr/local/bin/mirrorgate-echo", "--help")
        self.assertEqual(echo.returncode, 0, echo)
        self.assertIn("--listen", echo.stdout, echo)

    def test_every_shared_library_is_in_the_image(self):
        for binary in ("mirrorgate", "mirrorgate-echo"):
            ldd = self.in_image("/usr/bin/ldd", f"/usr/local/bin/{binary}")
            self.assertEqual(ldd.returncode, 0, ldd)
            self.assertNotIn("not found", ldd.stdout, ldd.stdout)
            self.assertIn("libc.so.6", ldd.stdout)

    def test_gateway_carries_net_bind_service_and_the_image_is_slim(self):
        getcap = subprocess.run(["getcap", str(self.rootfs / "usr/local/bin/mirrorgate")],
                                capture_output=True, text=True, check=True)
        self.assertRegex(getcap.stdout, r"cap_net_bind_service[=+]ep", getcap)
        self.assertFalse((self.rootfs / "usr/sbin/setcap").exists(), "libcap2-bin was not purged")
        self.assertFalse((self.rootfs / "usr/bin/g++").exists(), "the build stage leaked into the image")

    def test_archive_holds_the_tagged_image_with_the_charts_user_and_entrypoint(self):
        # The exported OCI archive, as a registry would receive it: index -> manifest -> config.
        with tarfile.open(self.archive) as tar:
            def blob(digest: str) -> dict:
                return json.load(tar.extractfile("blobs/sha256/" + digest.removeprefix("sha256:")))
            index = json.load(tar.extractfile("index.json"))
            [entry] = index["manifests"]
            self.assertEqual(entry["annotations"]["org.opencontainers.image.ref.name"], "mirrorgate:0.1.0")
            config = blob(blob(entry["digest"])["config"]["digest"])["config"]
        self.assertEqual(config["User"], "65532:65532")  # the chart's runAsUser
        self.assertEqual(config["Entrypoint"], ["/usr/local/bin/mirrorgate"])  # the chart passes args only
        self.assertEqual(set(config["ExposedPorts"]), {"80/tcp", "443/tcp", "9901/tcp"})
        self.assertEqual(config["Labels"]["org.opencontainers.image.version"], "0.1.0")

    def test_port_80_needs_the_file_capability(self):
        # The control for the seed scenario's port 80: the echo binary has no file capability and, under
        # the same securityContext, cannot bind it.
        echo = self.in_image("/usr/local/bin/mirrorgate-echo", "--listen", f"{NET}.6:{GW_PORT}")
        self.assertNotEqual(echo.returncode, 0, echo)
        self.assertRegex(echo.stdout + echo.stderr, r"(?i)permission denied", echo)

    def test_seed_scenario_through_the_image_on_port_80(self):
        path = f"/mirror?e2e-request={unique_id()}"
        r = get(self.gw_ip, GW_PORT, path)
        self.assertEqual(r.status, 200, r)
        echo = r.json()
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["path"], path, echo)
        v2 = [p for p in self.pods if p.pod.startswith("infra-backend-v2-")]
        wait_for(lambda: any(p.has_echoed(path) for p in v2), 10, "the mirrored copy at a v2 pod")
        # The processes really are the image's, as 65532.
        for proc in (self.gw, *self.pods):
            status = Path(f"/proc/{proc.pid}/status").read_text()
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            self.assertEqual(uid_line.split()[1], "65532", f"{proc.name}: {uid_line}")
            self.assertEqual(os.readlink(f"/proc/{proc.pid}/root"), str(self.rootfs), proc.name)


if __name__ == "__main__":
    mgtest.main()
