#!/usr/bin/env bash
# Installs, from Debian's packages, exactly what mirrorgate needs to build, test and demo.
# Idempotent: packages already present are skipped, and apt is not touched at all when nothing is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libasio-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libre2-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev
  libcurl4-openssl-dev libnghttp2-dev
  # test and demo tools
  python3 python3-yaml curl nghttp2-client procps openssl iproute2
  # the admin page's browser test (tests/e2e/test_admin_page.py): Debian builds the driver from the same
  # Chromium release, so the two never disagree on a version; a font so screenshots have legible text
  chromium chromium-driver fonts-dejavu-core
  # the Prometheus test (tests/e2e/test_prometheus.py) and the alert rules' tests (deploy/monitoring/):
  # prometheus scrapes the gateway, promtool checks the metrics, the rules and their unit tests
  prometheus
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx haproxy linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Go builds the local Kubernetes control plane (tests/cluster) and Go-only test programs: the machine's
# when new enough, else a release from the Go module proxy, cached (scripts/go-toolchain.sh).
go_toolchain() { echo "deps: go: $("$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh")"; }

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  go_toolchain
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
go_toolchain
