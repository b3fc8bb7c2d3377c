"""scripts/go-toolchain.sh, which scripts/deps.sh and scripts/cluster.sh use to find Go: the machine's Go
when it is new enough for tests/cluster/go.mod, else a Go release from the Go module proxy, unpacked once
into the cache and reused. The machine's Go is hidden here (MG_IGNORE_SYSTEM_GO=1) to prove the second
way: the release it gives builds and runs a program. The default cache is used, so the download (about
70 MB) happens once per machine."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import mgtest

SCRIPT = mgtest.SOURCE_DIR / "scripts" / "go-toolchain.sh"


def toolchain(**env) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **env})


class GoToolchain(unittest.TestCase):
    def test_a_release_from_the_module_proxy_when_the_machine_has_none(self):
        out = toolchain(MG_IGNORE_SYSTEM_GO="1")
        self.assertEqual(out.returncode, 0, out.stderr)
        go = Path(out.stdout.strip())
        self.assertTrue(str(go).endswith("/bin/go"), go)
        self.assertIn("/mirrorgate/go/", str(go))
        again = toolchain(MG_IGNORE_SYSTEM_GO="1")  # cached: no second download
        self.assertEqual(again.stdout.strip(), str(go))
        self.assertNotIn("from https://", again.stderr)
        with tempfile.TemporaryDirectory() as d:
            Path(d, "go.mod").write_text("module hello\n\ngo 1.22\n")
            Path(d, "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n')
            run = subprocess.run([str(go), "run", "."], cwd=d, capture_output=True, text=True, timeout=240,
                                 env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
                                      "GOCACHE": str(Path(d, "cache"))})
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout.strip(), "hello from go")

    def test_an_older_release_than_go_mod_wants_is_refused(self):
        out = toolchain(MG_IGNORE_SYSTEM_GO="1", MG_GO_VERSION="1.20.1")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("older than go.mod's", out.stderr)


if __name__ == "__main__":
    mgtest.main()
