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
for flag in "$@"; do
  case $flag in
    --bench) packages+=(wrk nginx haproxy linux-perf h2o) ;;
    # scripts/image.sh: build the container image without Docker, from base images made with debootstrap;
    # getcap checks the gateway binary's file capability
    --image) packages+=(buildah debootstrap libcap2-bin) ;;
    *) echo "deps: unknown flag $flag (--bench, --image)" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Python libraries the end-to-end tests use as real clients (tests/e2e/test_interop.py), pinned, installed into
# the python3 that CMake finds for the tests when it lacks them; pip reaches only the package registry.
python_packages=(websockets==17.4 h2==4.4.1)
python_packages() {
  local missing_py=()
  for spec in "${python_packages[@]}"; do
    python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('${spec%%==*}') != '${spec#*==}')" \
      2>/dev/null || missing_py+=("$spec")
  done
  if ((${#missing_py[@]} == 0)); then
    echo "deps: python: ${python_packages[*]} present"
    return
  fi
  echo "deps: python: installing ${missing_py[*]}"
  if ! python3 -m pip --version >/dev/null 2>&1; then # Debian's own python3 comes without pip
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  # Debian's own python3 refuses pip installs outside a venv unless told (PEP 668); pyenv's does not.
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${missing_py[@]}" ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "${missing_py[@]}"
}

# Go builds the local Kubernetes control plane (tests/cluster) and Go-only test programs: the machine's
# when new enough, else a release from the Go module proxy, cached (scripts/go-toolchain.sh).
go_toolchain() { echo "deps: go: $("$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh")"; }

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  python_packages
  go_toolchain
  exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
python_packages
go_toolchain
