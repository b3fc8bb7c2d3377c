#!/usr/bin/env bash
# A real, local Kubernetes cluster for mirrorgate's tests (docs/cluster.md): kube-apiserver, etcd and
# kube-controller-manager built from the Kubernetes Go modules (tests/cluster/), a process-kubelet (one node that
# runs the pods' containers as local processes in a network namespace of its own), kubectl and helm of pinned
# releases, the Gateway API CRDs (standard channel) and ours. The control plane listens on 127.0.0.1 only; the
# pods, the kubelet endpoint and the process-kubelet's relay to the API server (port 443 of the node's address,
# what pods reach as KUBERNETES_SERVICE_HOST) on the pod subnet's bridge.
#
#   scripts/cluster.sh build                   build the binaries once, cached outside the repo
#   eval "$(scripts/cluster.sh up)"            start (or find running), then KUBECONFIG and PATH for kubectl
#   scripts/cluster.sh status                  exit 0 when running, 3 when not
#   scripts/cluster.sh down                    stop everything started here and remove the state dir
#   scripts/cluster.sh env                     the two export lines of `up`, without starting anything
#   scripts/cluster.sh kubeconfig USER [GROUP...] > FILE   a client-certificate kubeconfig signed by the cluster CA
#   scripts/cluster.sh compact                 compact etcd at its current revision (prints the revision)
#   scripts/cluster.sh stop-apiserver | start-apiserver   etcd (and so every object) stays
#
# Env: MG_CLUSTER_DIR (state: certificates, etcd data, logs, pid files; default /tmp/mirrorgate-cluster),
# MG_CLUSTER_API_PORT (16443), MG_CLUSTER_ETCD_PORT (16379), MG_CLUSTER_ETCD_PEER_PORT (16380): the ports are
# read at the first `up` of a state dir and kept in it; MG_CLUSTER_APISERVER_ARGS (extra kube-apiserver flags,
# space-separated, e.g. --watch-cache-sizes=httproutes.gateway.networking.k8s.io#0); MG_CACHE_DIR (build cache
# root, default ~/.cache/mirrorgate).
# Workloads (read at the first `up` too): MG_CLUSTER_WORKLOADS (1: also kube-controller-manager and the
# process-kubelet; 0: the control plane alone), MG_CLUSTER_POD_SUBNET (IPv4 /24, default 10.244.0.0/24; .1 is
# the node), MG_CLUSTER_KUBELET_PORT (10250, on the node's address), MG_ECHO_BIN (mirrorgate-echo, run for the
# conformance echo image; default build/mirrorgate-echo when present), MG_UPSTREAM_ECHO_BIN (the suite's own
# echo-basic, for the echo image's gRPC and TCP modes; scripts/conformance.sh builds it), MG_COREDNS_BIN
# (CoreDNS, for the CoreDNS image; scripts/conformance.sh builds it), MG_GATEWAY_BIN (mirrorgate, run for the
# chart's image; default build/mirrorgate when present).
# Progress goes to stderr; stdout carries only what a caller evaluates or captures. No stdin is read.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

K8S_VERSION=v1.37.2
GATEWAY_API_VERSION=v1.6.3
HELM_VERSION=v4.3.2
# Bump when the build recipe below changes in a way the sources do not show (flags, file layout).
RECIPE=2

state_dir=${MG_CLUSTER_DIR:-/tmp/mirrorgate-cluster}
cache_root=${MG_CACHE_DIR:-${HOME:-/root}/.cache/mirrorgate}/cluster

log() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: error: $*" >&2
  exit 1
}

# The machine's Go when new enough for tests/cluster/go.mod, else one from the module proxy, cached.
go_cmd() {
  local go
  go=$("$repo"/scripts/go-toolchain.sh) || die "no Go toolchain for tests/cluster/go.mod (scripts/go-toolchain.sh)"
  GOTOOLCHAIN=local "$go" "$@"
}

# The cache key: the Kubernetes version and everything that goes into the build.
cache_key() {
  local sum
  sum=$(
    {
      echo "$K8S_VERSION $GATEWAY_API_VERSION $HELM_VERSION recipe=$RECIPE"
      (cd tests/cluster && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
  )
  echo "$K8S_VERSION-$sum"
}

cache_dir=$cache_root/$(cache_key)
build_bin_dir=$cache_dir/bin
bin_dir=$build_bin_dir # a running cluster's own, from its cluster.env (load_config)
gateway_crds=$cache_dir/crds/gateway-api

built() {
  [[ -x $build_bin_dir/kube-controlplane && -x $build_bin_dir/kube-controller-manager &&
    -x $build_bin_dir/process-kubelet && -x $build_bin_dir/kubectl && -x $build_bin_dir/helm &&
    -f $cache_dir/complete ]]
}

cmd_build() {
  if built; then
    log "binaries cached in $build_bin_dir"
    return
  fi
  mkdir -p "$cache_root"
  # One build at a time per cache (two test runs may start together); the second finds the first's result.
  exec 8>"$cache_root/.build.lock"
  flock -w 3600 8 || die "timed out waiting for another build ($cache_root/.build.lock)"
  if built; then
    log "binaries cached in $build_bin_dir (built meanwhile)"
    return
  fi
  local started=$SECONDS
  rm -rf "$cache_root"/.build.* # under the lock: what a killed build left
  tmp=$(mktemp -d "$cache_root/.build.XXXXXX") # global: the EXIT trap removes a failed build's leftovers
  trap 'rm -rf "$tmp"' EXIT
  go_cmd version >&2
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  # What the Kubernetes release build (hack/lib/version.sh) stamps, so that /version and `kubectl version` say
  # which release this is; stripped, as release binaries are.
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local kube_ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    kube_ldflags+=" -X $pkg.gitTreeState=clean"
  done
  log "building kube-controlplane, kube-controller-manager, process-kubelet and kubectl from k8s.io/kubernetes $K8S_VERSION (the first build takes minutes)"
  (cd tests/cluster && go_cmd build -trimpath -ldflags "$kube_ldflags" -o "$tmp/bin/" \
    ./cmd/kube-controlplane ./cmd/kube-controller-manager ./cmd/process-kubelet ./cmd/kubectl)
  log "building helm $HELM_VERSION"
  (cd "$tmp" && GOBIN=$tmp/bin go_cmd install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
  log "fetching the Gateway API $GATEWAY_API_VERSION CRDs (standard channel)"
  local module_dir
  module_dir=$(cd "$tmp" && go_cmd mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$tmp/crds/gateway-api"
  cp "$module_dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$tmp/crds/gateway-api/"
  chmod -R u+w "$tmp/crds"
  touch "$tmp/complete"
  rm -rf "$cache_dir"
  mv "$tmp" "$cache_dir"
  trap - EXIT
  log "built in $((SECONDS - started)) s: $build_bin_dir"
  # Each change of tests/cluster is a new key of about 250 MB: keep the three newest builds.
  local old
  while IFS= read -r old; do
    log "removing the older build $old"
    rm -rf "$old"
  done < <(find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name 'v*-*' -printf '%T@ %p\n' |
    sort -rn | tail -n +4 | cut -d' ' -f2-)
}

# --- the running cluster

# Ports are fixed at the first `up` of a state dir, so a restarted API server and later kubeconfigs use the same;
# so are the binaries (a source change while the cluster runs builds new ones for the next `up`).
load_config() {
  if [[ -f $state_dir/cluster.env ]]; then
    # A state dir of an older cluster.sh has no workloads.
    workloads=0 pod_subnet=10.244.0.0/24 kubelet_port=10250 echo_bin='' gateway_bin=''
    # shellcheck source=/dev/null
    source "$state_dir/cluster.env"
    [[ -x $bin_dir/kube-controlplane ]] || bin_dir=$build_bin_dir
  else
    api_port=${MG_CLUSTER_API_PORT:-16443}
    etcd_port=${MG_CLUSTER_ETCD_PORT:-16379}
    etcd_peer_port=${MG_CLUSTER_ETCD_PEER_PORT:-16380}
    workloads=${MG_CLUSTER_WORKLOADS:-1}
    pod_subnet=${MG_CLUSTER_POD_SUBNET:-10.244.0.0/24}
    kubelet_port=${MG_CLUSTER_KUBELET_PORT:-10250}
    echo_bin=${MG_ECHO_BIN:-}
    if [[ -z $echo_bin && -x $repo/build/mirrorgate-echo ]]; then echo_bin=$repo/build/mirrorgate-echo; fi
    gateway_bin=${MG_GATEWAY_BIN:-}
    if [[ -z $gateway_bin && -x $repo/build/mirrorgate ]]; then gateway_bin=$repo/build/mirrorgate; fi
  fi
  # The pods' network namespaces (mgc<port>-<last octet>) and the bridge here, named after the API port
  # (unique per machine).
  pod_netns=mgc$api_port
  pod_host_if=mgk$api_port
  # The node's address (the bridge's): pods reach the API server there (the process-kubelet's relay).
  node_ip=${pod_subnet%.*}.1
}

save_config() {
  mkdir -p "$state_dir"
  chmod 700 "$state_dir"
  printf 'api_port=%d\netcd_port=%d\netcd_peer_port=%d\nbin_dir=%q\nworkloads=%q\npod_subnet=%q\nkubelet_port=%d\necho_bin=%q\n' \
    "$api_port" "$etcd_port" "$etcd_peer_port" "$bin_dir" "$workloads" "$pod_subnet" "$kubelet_port" "$echo_bin" \
    >"$state_dir/cluster.env"
  printf 'gateway_bin=%q\n' "$gateway_bin" >>"$state_dir/cluster.env"
}

pid_of() { # name -> pid of a live process started here, or nothing
  local f=$state_dir/$1.pid pid
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts `kube-controlplane SUBCOMMAND ARGS...` (or, with spawn_binary, another binary of the build) as the
# leader of its own session and process group; the process writes its own pid (the inner shell execs the
# binary), whatever setsid does about forking.
spawn() {
  local name=$1
  shift
  spawn_binary "$name" kube-controlplane "$@"
}

spawn_binary() {
  local name=$1 binary=$2
  shift 2
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$state_dir/$name.pid" "$bin_dir/$binary" "$@" \
    </dev/null >>"$state_dir/$name.log" 2>&1 8>&- 9>&- &  # not the lock descriptors: those are ours
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $state_dir/$name.pid ]] && return 0
    sleep 0.1
  done
  die "$name did not start (see $state_dir/$name.log)"
}

wait_until() { # seconds what command...
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
  log "$what after $((SECONDS + limit - deadline)) s"
}

etcd_healthy() {
  [[ -n $(pid_of etcd) ]] || die "etcd exited: $(tail -n 20 "$state_dir/etcd.log")"
  curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health" >/dev/null
}

apiserver_ready() {
  [[ -n $(pid_of apiserver) ]] || die "kube-apiserver exited: $(tail -n 20 "$state_dir/apiserver.log")"
  curl -sf --max-time 2 --cacert "$state_dir/pki/ca.crt" "https://127.0.0.1:$api_port/readyz" >/dev/null
}

start_etcd() {
  [[ -n $(pid_of etcd) ]] && return 0
  port_busy "$etcd_port" && die "127.0.0.1:$etcd_port is in use (MG_CLUSTER_ETCD_PORT)"
  port_busy "$etcd_peer_port" && die "127.0.0.1:$etcd_peer_port is in use (MG_CLUSTER_ETCD_PEER_PORT)"
  log "starting etcd on 127.0.0.1:$etcd_port (data $state_dir/etcd)"
  spawn etcd etcd --dir "$state_dir" --client-port "$etcd_port" --peer-port "$etcd_peer_port"
  wait_until 30 "etcd healthy" etcd_healthy || die "etcd not healthy after 30 s (see $state_dir/etcd.log)"
}

cmd_start_apiserver() {
  load_config
  [[ -f $state_dir/cluster.env ]] || die "no cluster in $state_dir (run up first)"
  [[ -n $(pid_of etcd) ]] || die "etcd is not running in $state_dir (run up)"
  if [[ -z $(pid_of apiserver) ]]; then
    port_busy "$api_port" && die "127.0.0.1:$api_port is in use (MG_CLUSTER_API_PORT)"
    log "starting kube-apiserver on https://127.0.0.1:$api_port"
    local extra=()
    read -r -a extra <<<"${MG_CLUSTER_APISERVER_ARGS:-}"
    spawn apiserver apiserver --dir "$state_dir" --api-port "$api_port" --etcd-client-port "$etcd_port" \
      -- "${extra[@]}"
  fi
  wait_until 60 "kube-apiserver ready" apiserver_ready ||
    die "kube-apiserver not ready after 60 s (see $state_dir/apiserver.log)"
}

stop_process() { # name: SIGTERM to its process group, SIGKILL after 20 s
  local name=$1 pid i
  pid=$(pid_of "$name")
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after 20 s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    log "stopped $name"
  fi
  rm -f "$state_dir/$name.pid"
}

cmd_stop_apiserver() {
  stop_process apiserver
}

print_env() {
  echo "export KUBECONFIG=$state_dir/admin.kubeconfig"
  echo "export PATH=$bin_dir:\$PATH"
}

kubectl_admin() { "$bin_dir/kubectl" --kubeconfig "$state_dir/admin.kubeconfig" --request-timeout=30s "$@"; }

install_crds() {
  local files=("$gateway_crds"/*.yaml "$repo"/charts/mirrorgate/crds/*.yaml) crds=()
  log "installing the Gateway API $GATEWAY_API_VERSION CRDs (standard channel) and charts/mirrorgate/crds"
  local args=()
  for f in "${files[@]}"; do args+=(-f "$f"); done
  # Server-side: the HTTPRoute CRD is too large for the last-applied annotation of a client-side apply.
  kubectl_admin apply --server-side --force-conflicts --field-manager=mirrorgate-cluster "${args[@]}" >/dev/null
  mapfile -t crds < <(kubectl_admin get crd -o name)
  kubectl_admin wait --for=condition=Established --timeout=60s "${crds[@]}" >/dev/null ||
    die "CRDs not Established after 60 s"
  log "${#crds[@]} CRDs established"
}

# --- workloads: kube-controller-manager and the process-kubelet

# What makes Deployments become pods, ready pods EndpointSlices and deleted Namespaces go (docs/cluster.md).
CONTROLLERS=deployment-controller,replicaset-controller,endpoints-controller,endpointslice-controller
CONTROLLERS+=,endpointslice-mirroring-controller,namespace-controller,garbage-collector-controller
CONTROLLERS+=,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller
CONTROLLERS+=,pod-garbage-collector-controller,statefulset-controller,daemonset-controller,job-controller
CONTROLLERS+=,cronjob-controller,ttl-after-finished-controller,disruption-controller,resourcequota-controller
CONTROLLERS+=,clusterrole-aggregation-controller

start_controller_manager() {
  [[ -n $(pid_of controller-manager) ]] && return 0
  [[ -s $state_dir/controller-manager.kubeconfig ]] ||
    cmd_kubeconfig system:kube-controller-manager >"$state_dir/controller-manager.kubeconfig"
  log "starting kube-controller-manager"
  # No serving port (nothing scrapes it; two clusters on one machine would fight for 10257); each controller
  # with its own service account's token, as kubeadm runs it.
  spawn_binary controller-manager kube-controller-manager \
    --kubeconfig="$state_dir/controller-manager.kubeconfig" --secure-port=0 --leader-elect=false \
    --use-service-account-credentials=true --controllers="$CONTROLLERS" --cluster-name=mirrorgate-test \
    --service-account-private-key-file="$state_dir/pki/sa.key" --root-ca-file="$state_dir/pki/ca.crt"
}

# The process-kubelet's rights: its Node, binding pods to it (it is the scheduler too), their status, removing
# them when their deletion is due, what their environment and volumes refer to, and their service accounts'
# tokens (a kubelet's by the Node authorizer).
kubelet_rbac() {
  cat <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "mirrorgate:process-kubelet"}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: [nodes/status, pods/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [pods/binding]
  verbs: [create]
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [get]
- apiGroups: [""]
  resources: [serviceaccounts/token]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "mirrorgate:process-kubelet"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "mirrorgate:process-kubelet"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "mirrorgate:process-kubelet"}
EOF
}

node_ready() {
  [[ -n $(pid_of process-kubelet) ]] || die "process-kubelet exited: $(tail -n 20 "$state_dir/process-kubelet.log")"
  [[ $(kubectl_admin get node mirrorgate-node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' \
    2>/dev/null) == True ]]
}

start_process_kubelet() {
  [[ -n $(pid_of process-kubelet) ]] && return 0
  kubelet_rbac | kubectl_admin apply -f - >/dev/null
  [[ -s $state_dir/process-kubelet.kubeconfig ]] ||
    cmd_kubeconfig mirrorgate:process-kubelet >"$state_dir/process-kubelet.kubeconfig"
  [[ -n $echo_bin ]] || log "no MG_ECHO_BIN: pods of the echo image will wait (ImageNotMapped)"
  log "starting the process-kubelet (pods in $pod_subnet, network namespaces $pod_netns-N, bridge $pod_host_if, API server relay $node_ip:443)"
  mkdir -p "$state_dir/node"
  spawn_binary process-kubelet process-kubelet --kubeconfig="$state_dir/process-kubelet.kubeconfig" \
    --dir="$state_dir/node" --pod-subnet="$pod_subnet" --netns="$pod_netns" --host-interface="$pod_host_if" \
    --port="$kubelet_port" --ca-cert="$state_dir/pki/ca.crt" --ca-key="$state_dir/pki/ca.key" \
    --echo-binary="$echo_bin" --mirrorgate-binary="$gateway_bin"
  wait_until 30 "node mirrorgate-node Ready" node_ready ||
    die "node not Ready after 30 s (see $state_dir/process-kubelet.log)"
}

# What a killed process-kubelet left: the processes in its pods' namespaces, the namespaces (and with them
# the veth pairs) and the bridge.
remove_pod_network() {
  local ns p
  for ns in $(ip netns list 2>/dev/null | cut -d' ' -f1 | grep -E "^$pod_netns-[0-9]+\$" || true); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$pod_host_if" 2>/dev/null || true
}

cmd_up() {
  local started=$SECONDS
  cmd_build
  mkdir -p "$state_dir"
  exec 9>"$state_dir/.lock"
  flock -w 120 9 || die "another cluster.sh holds $state_dir/.lock"
  load_config
  if [[ -z $(pid_of etcd) && -z $(pid_of apiserver) ]]; then bin_dir=$build_bin_dir; fi
  save_config
  local node_san=()
  if [[ $workloads == 1 ]]; then node_san=(--apiserver-ip "$node_ip"); fi
  "$bin_dir/kube-controlplane" pki --dir "$state_dir" --api-port "$api_port" "${node_san[@]}"
  start_etcd
  cmd_start_apiserver
  install_crds
  if [[ $workloads == 1 ]]; then
    start_controller_manager
    start_process_kubelet
  fi
  log "up in $((SECONDS - started)) s: https://127.0.0.1:$api_port, state in $state_dir"
  print_env
}

cmd_down() {
  [[ -d $state_dir ]] || {
    log "no cluster in $state_dir"
    return 0
  }
  [[ -f $state_dir/cluster.env || -f $state_dir/etcd.pid || -f $state_dir/apiserver.pid ]] ||
    die "$state_dir does not look like a cluster state dir; not removing it"
  load_config
  stop_process process-kubelet
  remove_pod_network
  stop_process controller-manager
  stop_process apiserver
  stop_process etcd
  rm -rf "$state_dir"
  log "removed $state_dir"
}

cmd_status() {
  load_config
  local etcd apiserver
  etcd=$(pid_of etcd)
  apiserver=$(pid_of apiserver)
  if [[ -n $etcd && -n $apiserver ]] && apiserver_ready 2>/dev/null; then
    local workload_pids=""
    if [[ $workloads == 1 ]]; then
      workload_pids=", kube-controller-manager pid $(pid_of controller-manager), process-kubelet pid $(pid_of process-kubelet) (pods in $pod_subnet)"
    fi
    echo "running: https://127.0.0.1:$api_port (kube-apiserver pid $apiserver, etcd pid $etcd on 127.0.0.1:$etcd_port$workload_pids), state $state_dir"
    return 0
  fi
  echo "not running (state dir $state_dir; etcd pid ${etcd:-none}, kube-apiserver pid ${apiserver:-none})"
  return 3
}

cmd_kubeconfig() {
  (($# >= 1)) || die "usage: cluster.sh kubeconfig USER [GROUP...]"
  load_config
  [[ -f $state_dir/pki/ca.key ]] || die "no cluster CA in $state_dir (run up first)"
  local user=$1 args=()
  shift
  for g in "$@"; do args+=(--group "$g"); done
  "$bin_dir/kube-controlplane" kubeconfig --dir "$state_dir" --api-port "$api_port" --user "$user" "${args[@]}"
}

cmd_compact() {
  load_config
  [[ -n $(pid_of etcd) ]] || die "etcd is not running in $state_dir"
  "$bin_dir/kube-controlplane" compact --client-port "$etcd_port"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) load_config && print_env ;;
  kubeconfig) shift && cmd_kubeconfig "$@" ;;
  compact) cmd_compact ;;
  stop-apiserver) cmd_stop_apiserver ;;
  start-apiserver) cmd_start_apiserver ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
