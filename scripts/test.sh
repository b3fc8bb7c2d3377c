#!/usr/bin/env bash
# Builds everything with warnings as errors (plain and ASan/UBSan variants) and the local Kubernetes control
# plane (scripts/cluster.sh build), and runs every test: unit tests and the end-to-end tests in tests/e2e/, which
# start the real binaries (and, for the cluster tests, kube-apiserver and etcd) on loopback.
#
#   scripts/test.sh [ctest args...]      e.g. scripts/test.sh -R e2e -V
#
# Env: MG_BUILD_DIR (default build-ci), MG_SANITIZER_VARIANT (default ON).
# Idempotent; the last thing printed is ctest's summary, and the exit status is ctest's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/deps.sh

build_dir=${MG_BUILD_DIR:-build-ci}
generator=(-G Ninja)
[[ -f "$build_dir/CMakeCache.txt" ]] && generator=()  # already configured (with Ninja, by us)
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_WERROR=ON \
  -DMG_SANITIZER_VARIANT="${MG_SANITIZER_VARIANT:-ON}"
cmake --build "$build_dir"

# The local Kubernetes control plane of the cluster tests (docs/cluster.md): built here, once, so that its first
# build (Go modules downloaded and compiled: minutes) is not inside a test's timeout; cached afterwards.
scripts/cluster.sh build
# The upstream conformance suite, its echo-basic and CoreDNS (scripts/conformance.sh; the CTest test
# conformance.upstream_suite runs them): minutes on a first build, cached afterwards.
scripts/conformance.sh build

cd "$build_dir"
exec ctest --output-on-failure -j2 "$@"
