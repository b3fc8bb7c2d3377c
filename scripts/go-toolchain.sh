#!/usr/bin/env bash
# Prints the path of a `go` command new enough for tests/cluster/go.mod (its `go` line): the machine's (on
# PATH, or /usr/local/go/bin/go) when it is, else a Go release from the Go module proxy
# (golang.org/toolchain, the module `GOTOOLCHAIN` itself downloads), unpacked once under
# ${MG_CACHE_DIR:-~/.cache/mirrorgate}/go/<version>/ and reused afterwards.
#
#   scripts/go-toolchain.sh            the path of go, downloading when needed
#
# Env: MG_GO_VERSION (the release to download, default below), MG_IGNORE_SYSTEM_GO=1 (skip the machine's:
# for the test of the download), GOPROXY (the first proxy in it is used; default proxy.golang.org).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

download_version=${MG_GO_VERSION:-1.26.8}
cache_dir=${MG_CACHE_DIR:-${HOME:-/root}/.cache/mirrorgate}/go

die() {
  echo "go-toolchain: error: $*" >&2
  exit 1
}

required=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' tests/cluster/go.mod)
[[ -n $required ]] || die "no go line in tests/cluster/go.mod"

# "go1.26.8" -> "1.26.8"; true when $1 >= $2 as versions.
at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1) == "$2" ]]; }

usable() {
  local go=$1 version
  [[ -x $go ]] || return 1
  version=$("$go" env GOVERSION 2>/dev/null) || return 1
  at_least "${version#go}" "$required"
}

if [[ ${MG_IGNORE_SYSTEM_GO:-0} != 1 ]]; then
  for candidate in "$(command -v go || true)" /usr/local/go/bin/go; do
    if [[ -n $candidate ]] && usable "$candidate"; then
      echo "$candidate"
      exit 0
    fi
  done
fi

at_least "$download_version" "$required" || die "MG_GO_VERSION $download_version is older than go.mod's $required"
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no Go release for $(uname -m)" ;;
esac
target=$cache_dir/$download_version
if ! usable "$target/bin/go"; then
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  [[ $proxy == direct || $proxy == off ]] && proxy=https://proxy.golang.org
  module_version=v0.0.1-go$download_version.linux-$arch
  url=$proxy/golang.org/toolchain/@v/$module_version.zip
  echo "go-toolchain: Go $download_version from $url (go.mod needs $required; none usable here)" >&2
  mkdir -p "$cache_dir"
  work=$(mktemp -d "$cache_dir/.download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  curl -fsSL --retry 3 -o "$work/go.zip" "$url" || die "cannot download $url"
  # The module zip holds golang.org/toolchain@<version>/{bin,pkg,src,...}, without file modes: as the go
  # command does when it switches toolchains, what is under bin/ and pkg/tool/ becomes executable.
  python3 - "$work/go.zip" "$work/unpacked" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        parts = info.filename.split("/")
        if not info.is_dir() and len(parts) > 3 and (parts[2] == "bin" or parts[2:4] == ["pkg", "tool"]):
            os.chmod(path, 0o755)
EOF
  root=$(find "$work/unpacked/golang.org" -mindepth 1 -maxdepth 1 -type d -name 'toolchain@*' | head -1)
  [[ -x $root/bin/go ]] || die "the download holds no bin/go"
  rm -rf "$target"
  mv "$root" "$target"
  usable "$target/bin/go" || die "$target/bin/go does not run"
fi
echo "$target/bin/go"
