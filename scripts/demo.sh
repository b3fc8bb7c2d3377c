#!/usr/bin/env bash
# The seed scenario, live on this machine: four echo "pods" on loopback addresses, mirrorgate
# loaded with examples/mirror, one request through the gateway, and the proof that its copy
# reached an infra-backend-v2 pod (the pod's own log line, the same X-Request-Id on both sides,
# the mirror counters). Then it keeps serving until Ctrl-C.
#
#   scripts/demo.sh            install deps, build, run, prove, keep serving until Ctrl-C
#   scripts/demo.sh --once     same, but stop after the proof (exit 0 = proof holds)
#   scripts/demo.sh --cluster  the same scenario in a local Kubernetes control plane (scripts/cluster.sh):
#                              examples/mirror applied with kubectl, the pods on 10.244.0.2-5 in a network
#                              namespace (the API server refuses loopback endpoints), mirrorgate --kubeconfig,
#                              and the status it writes back shown by kubectl; needs root for the namespace
#
# Uses MG_GATEWAY_BIN / MG_ECHO_BIN when both are set (no build), else builds into build/.
# Run files (logs, access log, pid files) go to out/demo/ (out/demo-cluster/). Safe to run again:
# processes left by a previous run are stopped through their pid files first.
set -euo pipefail

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

once=0
cluster=0
for arg in "$@"; do
  case "$arg" in
    --once) once=1 ;;
    --cluster) cluster=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
run_dir=$root/out/demo
gw_addr=127.0.0.1:8080
admin_addr=127.0.0.1:9901
# pod name, address, Service: exactly the endpoints of examples/mirror/backends.yaml
pods=(
  "infra-backend-v1-7d9c6b5f4-x8k2p 127.0.0.2 infra-backend-v1"
  "infra-backend-v1-7d9c6b5f4-q5w9n 127.0.0.3 infra-backend-v1"
  "infra-backend-v2-5d4f8b7c9d-k2x7q 127.0.0.4 infra-backend-v2"
  "infra-backend-v2-5d4f8b7c9d-m3t6v 127.0.0.5 infra-backend-v2"
)
pod_netns=mirrorgate-demo
if ((cluster)); then
  run_dir=$root/out/demo-cluster
  pods=("${pods[@]//127.0.0./10.244.0.}")  # the same pods, on addresses an EndpointSlice may hold
fi

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
title() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "demo: $*" >&2; exit 1; }

# ---- 1. tools and binaries ------------------------------------------------------------------
scripts/deps.sh

if [[ -n "${MG_GATEWAY_BIN:-}" && -n "${MG_ECHO_BIN:-}" ]]; then
  gw_bin=$MG_GATEWAY_BIN
  echo_bin=$MG_ECHO_BIN
  echo "demo: using prebuilt $gw_bin and $echo_bin"
else
  generator=(-G Ninja)
  [[ -f build/CMakeCache.txt ]] && generator=()  # keep whatever generator build/ already uses
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMG_SANITIZER_VARIANT=OFF >/dev/null
  cmake --build build --target mirrorgate mirrorgate-echo
  gw_bin=$root/build/mirrorgate
  echo_bin=$root/build/mirrorgate-echo
fi
[[ -x "$gw_bin" && -x "$echo_bin" ]] || die "binaries not executable: $gw_bin $echo_bin"

# ---- 2. stop what a previous run left, check the ports are free -----------------------------
mkdir -p "$run_dir"
stop_pid() {  # pid: TERM, then KILL after 5 s; only our own binaries (a pid may have been reused)
  local pid=$1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mirrorgate || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 5))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
}
if ((cluster)); then
  ip netns del "$pod_netns" 2>/dev/null || true  # and with it the veth pair of a previous run
fi
for f in "$run_dir"/*.pid; do
  [[ -e "$f" ]] || continue
  echo "demo: stopping $(basename "$f" .pid) left by a previous run (pid $(<"$f"))"
  stop_pid "$(<"$f")"
  rm -f "$f"
done

port_in_use() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
addrs=("$gw_addr" "$admin_addr")
# (The cluster's pods live in a namespace of their own, made afresh below.)
((cluster)) || for spec in "${pods[@]}"; do read -r _ ip _ <<<"$spec"; addrs+=("$ip:3000"); done
for a in "${addrs[@]}"; do
  if port_in_use "$a"; then die "$a is already in use by another process (see: ss -ltnp)"; fi
done

# ---- 3. start the pods and the gateway ------------------------------------------------------
started=()
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do stop_pid "$pid"; wait "$pid" 2>/dev/null || true; done
  rm -f "$run_dir"/*.pid
  if ((cluster)); then
    ip netns del "$pod_netns" 2>/dev/null || true
    scripts/cluster.sh down >&2 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -f "$run_dir"/*.log
pod_cmd=()
source_args=(-c examples/mirror)
if ((cluster)); then
  title "0. A local Kubernetes control plane (scripts/cluster.sh up) and examples/mirror applied with kubectl"
  # The control plane alone: the demo's pods are its own processes at 10.244.0.2-5 with EndpointSlices it
  # writes, where the process-kubelet would claim the same subnet.
  exports=$(MG_CLUSTER_WORKLOADS=0 scripts/cluster.sh up) || die "scripts/cluster.sh up failed"
  eval "$exports"
  # The pods' network: a namespace joined to this one by a veth pair (host side 10.244.0.1).
  ip netns add "$pod_netns"
  ip link add mgdemo0 type veth peer name eth0 netns "$pod_netns"
  ip addr add 10.244.0.1/24 dev mgdemo0
  ip link set mgdemo0 up
  ip -n "$pod_netns" link set lo up
  ip -n "$pod_netns" link set eth0 up
  for spec in "${pods[@]}"; do read -r _ ip _ <<<"$spec"; ip -n "$pod_netns" addr add "$ip/24" dev eth0; done
  pod_cmd=(ip netns exec "$pod_netns")
  kubectl apply -f examples/mirror/gateway.yaml
  sed 's/127\.0\.0\.\([2-5]\)/10.244.0.\1/' examples/mirror/backends.yaml | kubectl apply -f -
  source_args=(--kubeconfig "$KUBECONFIG")
fi
for spec in "${pods[@]}"; do
  read -r pod ip svc <<<"$spec"
  POD_NAME=$pod NAMESPACE=default SERVICE_NAME=$svc \
    "${pod_cmd[@]}" "$echo_bin" --listen "$ip:3000" </dev/null >"$run_dir/$pod.log" 2>&1 &
  started+=($!)
  echo $! >"$run_dir/$pod.pid"
done
"$gw_bin" "${source_args[@]}" --admin "$admin_addr" --access-log "$run_dir/access.log" \
  </dev/null >"$run_dir/gateway.log" 2>&1 &
gw_pid=$!
started+=("$gw_pid")
echo "$gw_pid" >"$run_dir/gateway.pid"

show_logs() {
  local f
  for f in "$run_dir"/gateway.log "$run_dir"/infra-backend-*.log; do
    echo "--- $f (tail)" >&2
    tail -n 15 "$f" >&2 || true
  done
}

all_ready() {
  curl -fsS -o /dev/null --max-time 1 "http://$admin_addr/ready" || return 1
  local spec ip
  for spec in "${pods[@]}"; do
    read -r _ ip _ <<<"$spec"
    curl -fsS -o /dev/null --max-time 1 "http://$ip:3000/health" || return 1
  done
}
deadline=$((SECONDS + 30))
until all_ready 2>/dev/null; do
  for pid in "${started[@]}"; do
    kill -0 "$pid" 2>/dev/null || { show_logs; die "a process exited during start-up (pid $pid)"; }
  done
  ((SECONDS < deadline)) || { show_logs; die "not ready after 30 s"; }
  sleep 0.05
done
echo "demo: 4 echo pods and mirrorgate are ready (logs in ${run_dir#"$root"/}/)"

# ---- 4. the request and the proof -----------------------------------------------------------
proof_failed() {
  echo "PROOF FAILED: $*" >&2
  show_logs
  exit 1
}
# python3 (installed by deps.sh) reads JSON; jq would be one more package.
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1:]: d=d[k] if not isinstance(d,list) else d[int(k)]
print(d)' "$@"; }
mirror_counters() {
  curl -fsS --max-time 5 "http://$admin_addr/metrics" | grep -E '^mirrorgate_mirror_copies_' || true
}
counter() {  # name: the value for route default/mirror (0 when absent)
  mirror_counters | python3 -c '
import re, sys
total = 0.0
for line in sys.stdin:
    if line.startswith(sys.argv[1] + "{") and "route=\"default/mirror\"" in line:
        total += float(line.rsplit(None, 1)[1])
print(int(total))' "$1"
}
sent_before=$(counter mirrorgate_mirror_copies_sent_total)
completed_before=$(counter mirrorgate_mirror_copies_completed_total)

title "1. A client request through the gateway:  curl -sS http://$gw_addr/mirror"
first=$(curl -sS --max-time 5 "http://$gw_addr/mirror") || proof_failed "the request failed"
printf '%s\n' "$first"
first_pod=$(json_get pod <<<"$first") || proof_failed "the answer is not echo JSON"
[[ $first_pod == infra-backend-v1-* ]] || proof_failed "answered by $first_pod, not an infra-backend-v1 pod"
echo "-> answered by $first_pod (Service infra-backend-v1)"

demo_id=$(tr -d '-' </proc/sys/kernel/random/uuid | cut -c1-12)
path="/mirror?demo-id=$demo_id"
title "2. A second request with a distinctive query, to find its copy:  curl -sS 'http://$gw_addr$path'"
answer=$(curl -sS --max-time 5 "http://$gw_addr$path") || proof_failed "the request failed"
v1_pod=$(json_get pod <<<"$answer") || proof_failed "the answer is not echo JSON: $answer"
v1_id=$(json_get headers X-Request-Id 0 <<<"$answer") || proof_failed "no X-Request-Id in: $answer"
[[ $v1_pod == infra-backend-v1-* ]] || proof_failed "answered by $v1_pod, not an infra-backend-v1 pod"
echo "answered by:                 $v1_pod"
echo "X-Request-Id seen by v1 pod: $v1_id   (from its echo JSON, headers.X-Request-Id)"

title "3. The copy reached infra-backend-v2: the v2 pod's own log line for $path"
needle="Echoing back request made to $path to client ("
v2_pod="" v2_ip=""
deadline=$((SECONDS + 10))
while [[ -z "$v2_pod" ]]; do
  for spec in "${pods[@]}"; do
    read -r pod ip svc <<<"$spec"
    [[ $svc == infra-backend-v2 ]] || continue
    if grep -qF "$needle" "$run_dir/$pod.log"; then v2_pod=$pod v2_ip=$ip; fi
  done
  [[ -n "$v2_pod" ]] && break
  ((SECONDS < deadline)) || proof_failed "no infra-backend-v2 pod logged '$needle' within 10 s"
  sleep 0.05
done
echo "${run_dir#"$root"/}/$v2_pod.log:"
grep -nF "$needle" "$run_dir/$v2_pod.log" | sed 's/^/  /'

title "4. The same X-Request-Id on both sides (gateway access log, ${run_dir#"$root"/}/access.log)"
find_entries() {  # request id -> the access-log lines carrying it; exit 1 unless both are there
  python3 - "$run_dir/access.log" "$1" <<'PY'
import json, sys
path, rid = sys.argv[1], sys.argv[2]
found = {"request": None, "mirror": None}
with open(path, errors="replace") as f:
    for line in f.read().split("\n")[:-1]:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("request_id") == rid:
            found["mirror" if e.get("type") == "mirror" else "request"] = line
if found["request"] and found["mirror"]:
    print(found["request"])
    print(found["mirror"])
    sys.exit(0)
sys.exit(1)
PY
}
deadline=$((SECONDS + 10))
until entries=$(find_entries "$v1_id"); do
  ((SECONDS < deadline)) || proof_failed "no request + mirror access-log lines with request_id $v1_id"
  sleep 0.05
done
request_line=$(sed -n 1p <<<"$entries")
mirror_line=$(sed -n 2p <<<"$entries")
echo "request: $request_line"
echo "mirror:  $mirror_line"
req_id=$(json_get request_id <<<"$request_line")
req_upstream=$(json_get upstream_host <<<"$request_line")
mir_id=$(json_get request_id <<<"$mirror_line")
mir_upstream=$(json_get upstream_host <<<"$mirror_line")
mir_outcome=$(json_get outcome <<<"$mirror_line")
printf '%-54s %s\n' "X-Request-Id seen by $v1_pod:" "$v1_id" \
  "request_id of the request (to $req_upstream):" "$req_id" \
  "request_id of the copy (to $mir_upstream):" "$mir_id"
[[ $req_id == "$v1_id" && $mir_id == "$v1_id" ]] || proof_failed "request ids differ"
[[ $mir_upstream == "$v2_ip:3000" ]] ||
  proof_failed "the copy went to $mir_upstream, but $v2_pod ($v2_ip:3000) logged it"
[[ $mir_outcome == completed ]] || proof_failed "mirror outcome is $mir_outcome"
echo "-> equal: the copy with X-Request-Id $v1_id went to $mir_upstream = $v2_pod, which logged it"

title "5. Mirror counters (http://$admin_addr/metrics)"
deadline=$((SECONDS + 10))
until (($(counter mirrorgate_mirror_copies_completed_total) >= completed_before + 2)); do
  ((SECONDS < deadline)) || { mirror_counters; proof_failed "mirror counters did not grow by 2"; }
  sleep 0.05
done
mirror_counters | sed 's/^/  /'
echo "-> sent $sent_before -> $(counter mirrorgate_mirror_copies_sent_total)," \
  "completed $completed_before -> $(counter mirrorgate_mirror_copies_completed_total) for route default/mirror"

title "6. One command answers it:  mirrorgate mirrors --admin $admin_addr --request-id $v1_id"
trace=$("$gw_bin" mirrors --admin "$admin_addr" --request-id "$v1_id") ||
  proof_failed "mirrorgate mirrors found no copy of $v1_id"
echo "$trace"
grep -q "$v2_pod" <<<"$trace" || proof_failed "the mirror trace does not name $v2_pod"
grep -q "completed" <<<"$trace" || proof_failed "the mirror trace does not show the copy completed"
echo "-> request $v1_id: primary answered by a v1 pod, its copy answered by $v2_pod (outcome completed)"

if ((cluster)); then
  title "7. The status mirrorgate wrote back, in kubectl:  kubectl get gateway,httproute -A"
  deadline=$((SECONDS + 15))
  until [[ $(kubectl get httproute mirror -o jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}') == True ]]; do
    ((SECONDS < deadline)) || proof_failed "HTTPRoute mirror has no Accepted=True status from mirrorgate"
    sleep 0.1
  done
  kubectl get gateway,httproute -A
  kubectl get httproute mirror -o jsonpath='{range .status.parents[*].conditions[*]}  {.type}={.status} ({.reason}): {.message}{"\n"}{end}'
fi

title "PROOF OK: the client was answered by infra-backend-v1 and its copy reached infra-backend-v2"

if ((once)); then
  exit 0
fi

cat <<EOF

mirrorgate is serving on http://$gw_addr (admin http://$admin_addr). Try:
  http://$admin_addr/ in a browser: the topology, live mirror rates, and a request id lookup
  curl -sS http://$gw_addr/mirror/anything
  curl -sS http://$admin_addr/metrics | grep mirror
  $gw_bin mirrors --admin $admin_addr --follow
  tail -f ${run_dir#"$root"/}/access.log ${run_dir#"$root"/}/infra-backend-v2-*.log
Ctrl-C stops everything.
EOF
set +e
wait "$gw_pid"
rc=$?
echo "demo: mirrorgate exited (status $rc)" >&2
exit 1
