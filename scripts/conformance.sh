#!/usr/bin/env bash
# The upstream Gateway API conformance suite (sigs.k8s.io/gateway-api/conformance, unmodified: flags only)
# against mirrorgate in the local cluster of scripts/cluster.sh (kube-controller-manager and the
# process-kubelet running the suite's echo pods). Issue 11; docs/cluster.md.
#
#   scripts/conformance.sh                      build the suite (cached), start a cluster and mirrorgate, run
#                                               the GATEWAY-HTTP and GATEWAY-TLS profiles, write the report, tear everything down
#   scripts/conformance.sh -- -test.run 'TestConformance' --run-test HTTPRouteSimpleSameNamespace
#                                               extra arguments after -- go to the suite's test binary
#   scripts/conformance.sh build                only build (or find cached) the suite, its echo-basic and CoreDNS:
#                                               scripts/test.sh does it before CTest, out of any test's timeout
#
# Env: MG_GATEWAY_BIN, MG_ECHO_BIN (default build/mirrorgate, build/mirrorgate-echo);
# MG_CONFORMANCE_CHANNEL (the Gateway API CRDs: experimental, the default, for HTTPRoute's retry; or standard);
# MG_CONFORMANCE_POOL (Gateway addresses, default 127.0.100.0/24); MG_CONFORMANCE_ADMIN (mirrorgate's admin
# listener, default 127.0.0.1:19901); MG_CONFORMANCE_REPORT (default build/conformance-report.yaml);
# MG_CONFORMANCE_KEEP=1 leaves the cluster and mirrorgate running; MG_CLUSTER_DIR (default
# /tmp/mirrorgate-conformance), MG_CLUSTER_POD_SUBNET (default 10.244.100.0/24) and the other MG_CLUSTER_*
# variables of scripts/cluster.sh; MG_CACHE_DIR.
# Progress goes to stderr; the suite's output to stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

SUITE_VERSION=v1.6.3
# The version of the image the suite's base manifests name (registry.k8s.io/coredns/coredns).
COREDNS_VERSION=v1.14.6
export MG_CLUSTER_DIR=${MG_CLUSTER_DIR:-/tmp/mirrorgate-conformance}
export MG_CLUSTER_POD_SUBNET=${MG_CLUSTER_POD_SUBNET:-10.244.100.0/24}
export MG_CLUSTER_WORKLOADS=1
gateway_bin=${MG_GATEWAY_BIN:-$repo/build/mirrorgate}
export MG_ECHO_BIN=${MG_ECHO_BIN:-$repo/build/mirrorgate-echo}
pool=${MG_CONFORMANCE_POOL:-127.0.100.0/24}
admin=${MG_CONFORMANCE_ADMIN:-127.0.0.1:19901}
report=${MG_CONFORMANCE_REPORT:-$repo/build/conformance-report.yaml}
channel=${MG_CONFORMANCE_CHANNEL:-experimental}
cache_root=${MG_CACHE_DIR:-${HOME:-/root}/.cache/mirrorgate}/conformance

log() { echo "conformance: $*" >&2; }
die() {
  echo "conformance: error: $*" >&2
  exit 1
}

build_only=0
case ${1:-} in
  --) shift ;;
  build)
    build_only=1
    shift
    ;;
esac
[[ $channel == experimental || $channel == standard ]] ||
  die "MG_CONFORMANCE_CHANNEL=$channel: want experimental or standard"
if [[ $build_only == 0 ]]; then
  [[ -x $gateway_bin ]] || die "no mirrorgate at $gateway_bin (MG_GATEWAY_BIN; build it first)"
  [[ -x $MG_ECHO_BIN ]] || die "no mirrorgate-echo at $MG_ECHO_BIN (MG_ECHO_BIN)"
  # The process-kubelet starts the echo from a directory of its own: a relative path would name nothing there.
  gateway_bin=$(realpath "$gateway_bin")
  MG_ECHO_BIN=$(realpath "$MG_ECHO_BIN")
fi

go_cmd() {
  local go
  go=$("$repo"/scripts/go-toolchain.sh) || die "no Go toolchain (scripts/go-toolchain.sh)"
  GOTOOLCHAIN=local "$go" "$@"
}

# The suite's test binary and its own echo-basic (the echo image's program, run by the process-kubelet for the
# gRPC and TCP modes mirrorgate-echo does not have), built from the module proxy's release as they are, cached
# by version and go.sum.
build_suite() {
  local key
  key=$SUITE_VERSION-$(cat tests/upstream-conformance/go.mod tests/upstream-conformance/go.sum | sha256sum | cut -c1-16)
  suite_cache=$cache_root/$key
  if [[ ! -x $suite_cache/conformance.test || ! -x $suite_cache/echo-basic ]]; then
    log "building sigs.k8s.io/gateway-api/conformance $SUITE_VERSION and its echo-basic (minutes, once)"
    mkdir -p "$suite_cache"
    (cd tests/upstream-conformance && CGO_ENABLED=0 go_cmd test -c -o "$suite_cache/conformance.test.tmp" \
      sigs.k8s.io/gateway-api/conformance &&
      CGO_ENABLED=0 go_cmd build -o "$suite_cache/echo-basic.tmp" sigs.k8s.io/gateway-api/conformance/echo-basic) >&2
    mv "$suite_cache/conformance.test.tmp" "$suite_cache/conformance.test"
    mv "$suite_cache/echo-basic.tmp" "$suite_cache/echo-basic"
  fi
}

# CoreDNS, which the process-kubelet runs for the base manifests' coredns pod (the UDPRoute tests' DNS
# backend; the suite waits for every pod of its namespace to be Ready), built from the module proxy's release
# that the manifest's image names, unmodified, cached by version.
build_coredns() {
  coredns_bin=${MG_CACHE_DIR:-${HOME:-/root}/.cache/mirrorgate}/coredns/$COREDNS_VERSION/coredns
  if [[ ! -x $coredns_bin ]]; then
    log "building github.com/coredns/coredns $COREDNS_VERSION (minutes, once)"
    mkdir -p "$(dirname "$coredns_bin")"
    local gobin
    gobin=$(mktemp -d "$(dirname "$coredns_bin")/build.XXXXXX")
    (cd "$gobin" && CGO_ENABLED=0 GOBIN=$gobin go_cmd install "github.com/coredns/coredns@$COREDNS_VERSION") >&2
    mv "$gobin/coredns" "$coredns_bin"
    rmdir "$gobin"
  fi
}

build_suite
suite=$suite_cache/conformance.test
export MG_UPSTREAM_ECHO_BIN=$suite_cache/echo-basic
build_coredns
export MG_COREDNS_BIN=$coredns_bin
if [[ $build_only == 1 ]]; then
  log "built: $suite, $MG_UPSTREAM_ECHO_BIN, $coredns_bin"
  exit 0
fi
# The suite's manifests (base/, tests/) are read from its package directory, as `go test` runs it there.
suite_dir=$(cd tests/upstream-conformance && go_cmd list -f '{{.Dir}}' sigs.k8s.io/gateway-api/conformance)

gateway_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [[ ${MG_CONFORMANCE_KEEP:-0} == 1 ]]; then
    log "kept: the cluster ($MG_CLUSTER_DIR) and mirrorgate (pid ${gateway_pid:-none}); scripts/cluster.sh down stops the cluster"
    return
  fi
  if [[ -n $gateway_pid ]] && kill -TERM "$gateway_pid" 2>/dev/null; then wait "$gateway_pid" 2>/dev/null || true; fi
  scripts/cluster.sh down >&2 || true
}
trap cleanup EXIT

eval "$(scripts/cluster.sh up)"
# HTTPRoute's retry (HTTPRouteRetry*, claimed by mirrorgate) is in the experimental channel only: the standard
# CRDs prune it, and the suite's retry tests then see no retries. The experimental CRDs of the same release
# replace the standard ones that cluster.sh installed; the standard channel's safe-upgrades policy refuses
# that unless removed, as its own message says. The report records the channel the suite finds.
if [[ $channel == experimental ]]; then
  crd_dir=$(cd tests/upstream-conformance && go_cmd list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/experimental
  log "installing the Gateway API experimental channel CRDs ($crd_dir)"
  kubectl delete --ignore-not-found validatingadmissionpolicybinding,validatingadmissionpolicy \
    safe-upgrades.gateway.networking.k8s.io >&2
  crd_args=()
  # The channel's own safe-upgrades policy (refusing experimental CRDs over standard ones, like the standard
  # channel's) comes after the CRDs.
  for f in "$crd_dir"/gateway.networking.*.yaml; do
    [[ $f == *_vap_safeupgrades.yaml ]] || crd_args+=(-f "$f")
  done
  # The API server drops a deleted policy from its admission cache a moment later: retry for up to 30 s.
  for ((attempt = 1; ; attempt++)); do
    kubectl apply --server-side --force-conflicts --field-manager=mirrorgate-conformance "${crd_args[@]}" \
      >/dev/null 2>"$MG_CLUSTER_DIR/crd-apply.err" && break
    ((attempt < 30)) || die "experimental CRDs refused: $(cat "$MG_CLUSTER_DIR/crd-apply.err")"
    sleep 1
  done
  kubectl apply --server-side --field-manager=mirrorgate-conformance \
    -f "$crd_dir"/gateway.networking.k8s.io_vap_safeupgrades.yaml >/dev/null
  kubectl wait --for=condition=Established --timeout=60s --all crd >/dev/null
fi
kubectl apply -f - >&2 <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mirrorgate}
spec: {controllerName: mirrorgate.io/gateway-controller}
EOF

log "starting mirrorgate (Gateway addresses from $pool, admin $admin, log $MG_CLUSTER_DIR/mirrorgate.log)"
"$gateway_bin" --kubeconfig "$KUBECONFIG" --gateway-address-pool "$pool" --admin "$admin" \
  >"$MG_CLUSTER_DIR/mirrorgate.log" 2>&1 &
gateway_pid=$!

features=$("$gateway_bin" --supported-features | paste -sd, -)
version=$(git describe --always --dirty 2>/dev/null || echo unknown)
mkdir -p "$(dirname "$report")"
log "running the suite: GATEWAY-HTTP and GATEWAY-TLS, features $features"
started=$SECONDS
status=0
(cd "$suite_dir" && "$suite" -test.run '^TestConformance$' -test.v -test.timeout 90m \
  --gateway-class=mirrorgate --conformance-profiles=GATEWAY-HTTP,GATEWAY-TLS --supported-features="$features" \
  --report-output="$report" --organization=mirrorgate --project=mirrorgate \
  --url=https://github.com/mirrorgate/mirrorgate --version="$version" --contact=mirrorgate-maintainers \
  "$@") || status=$?
log "the suite exited $status after $((SECONDS - started)) s; report: $report"
exit "$status"
