"""Every header under src/ compiles on its own (it includes what it uses), against the include root
of its own layer (build/layers/<folder>, which holds only that folder and the ones below it), so a
header that includes a higher layer fails here too. Exit status 1 names each header that fails."""

import argparse
import concurrent.futures
import subprocess
import sys
from pathlib import Path

DEFINES = ["-DASIO_STANDALONE", "-DASIO_NO_DEPRECATED", "-DASIO_DISABLE_STD_ALIGNED_ALLOC", "-DSPDLOG_FMT_EXTERNAL"]


def check(compiler: str, layers: Path, src: Path, header: Path) -> tuple[Path, str]:
    layer = header.relative_to(src).parts[0]
    root = layers / layer
    if not root.is_dir():
        return header, f"no include root {root} (is {layer}/ a layer in CMakeLists.txt?)"
    include = f'#include "{header.relative_to(src).as_posix()}"\n'
    cmd = [compiler, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", *DEFINES, f"-I{root}",
           "-x", "c++", "-"]
    r = subprocess.run(cmd, input=include, capture_output=True, text=True, timeout=300)
    return header, "" if r.returncode == 0 else r.stderr.strip()[:2000]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compiler", required=True)
    ap.add_argument("--source-dir", required=True, type=Path)
    ap.add_argument("--layers-dir", required=True, type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    src = args.source_dir / "src"
    headers = sorted(p for p in src.rglob("*.h") if p.relative_to(src).parts[0] != "main")
    failures = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for header, error in pool.map(lambda h: check(args.compiler, args.layers_dir, src, h), headers):
            if error:
                failures.append(header)
                print(f"FAIL {header.relative_to(src)}\n{error}\n", flush=True)
    print(f"{len(headers) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
