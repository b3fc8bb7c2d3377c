#!/usr/bin/env bash
# Side-by-side load benchmark on loopback: mirrorgate against nginx (with and without its `mirror`) and
# HAProxy, in the seed scenario (infra-backend-v1 pods answer, infra-backend-v2 pods get the copies).
#
# Method (bench/README.md): wrk and the mirrorgate-echo pods pinned to CPU 0, the proxy under test pinned to
# CPU 1 with one worker; per configuration a warm-up run, then a measured run; ROUNDS rounds with the order
# rotated; medians. CPU per request = proxy utime+stime (process and children, /proc/PID/stat) over the
# measured run divided by the requests wrk counted.
#
# Modes (MODE=...):
#   standard        (a) mirrorgate (b) nginx (c) nginx-mirror (d) haproxy (e) mirrorgate-mirror, and the
#                   transport floor: (f) floor-relay (g) floor-relay-mirror (bench/floor_relay.cpp)
#   slow-mirror     mirror copies to pods that answer after MIRROR_DELAY_MS, next to the same proxy mirroring
#                   to fast pods (the "-slow" configs vs their fast reference, interleaved)
#   refused-mirror  mirror copies to a port nothing listens on ("-refused" configs)
#   idle            IDLE_CONNECTIONS idle keep-alive client connections, each after one request, to each of
#                   CONFIGS (default mirrorgate-mirror nginx-mirror: one mirrored request each); VmRSS growth
#   h2c             HTTP/2 by prior knowledge from h2load (-c CONNECTIONS -m H2_STREAMS) instead of wrk:
#                   mirrorgate, nginx-h2 (nginx's `listen ... http2`), h2o (Debian's 2.2; one upstream pod),
#                   mirrorgate-mirror, nginx-h2-mirror; the proxies speak HTTP/1.1 keep-alive to the pods
#   idle-h2c        the idle mode with HTTP/2 client connections (bench/idle_clients.py --http2), to
#                   CONFIGS (default mirrorgate nginx-h2 h2o)
#   h2tls           h2c's load over TLS (h2load https://, ALPN h2; an ECDSA P-256 certificate made by the run):
#                   mirrorgate-tls, nginx-h2-tls, h2o-tls, mirrorgate-tls-mirror, nginx-h2-tls-mirror
#   tls-new         new TLS 1.3 connections: wrk over https:// with `Connection: close`, so every request is a
#                   new connection: mirrorgate-tls, nginx-tls, h2o-tls; req/s is connections/s and CPU per
#                   request is CPU per connection. wrk keeps a connection's TLS session (SSL_clear) and offers
#                   its ticket on the next connect, so a server that hands a resumed session a new ticket
#                   (nginx, mirrorgate) does resumed handshakes (PSK with ECDHE), one that does not
#                   alternates full and resumed ones
#   observability   what looking costs: mirrorgate and mirrorgate-mirror with the access log off, as JSON
#                   lines or text lines to a file ("-jsonlog", "-textlog"), and with the admin page open in
#                   headless Chromium on LOAD_CPU ("-page"), which polls the admin listener every 2 s; nginx
#                   with its access log off, as JSON lines and in its combined format, for scale
#   all             every mode above, one after the other
# Everything else is an environment variable, see the defaults below (CONFIGS=... picks configurations). PROFILE=1 adds one extra profiled
# (perf record, syscall counts) run per mirrorgate configuration after the rounds, PROFILE=all one per
# configuration; profiled runs are not counted in the table. PERF_CALL_GRAPH="--call-graph dwarf" for user-space
# call chains (the Release build keeps no frame pointers).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
MODE=${MODE:-standard}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}              # seconds
DURATION=${DURATION:-10}         # seconds
CONNECTIONS=${CONNECTIONS:-64}
H2_STREAMS=${H2_STREAMS:-10}     # h2load -m: concurrent streams per connection (MODE=h2c)
WRK_THREADS=${WRK_THREADS:-2}
URL_PATH=${URL_PATH:-/}
LOAD_CPU=${LOAD_CPU:-0}          # wrk and the backend pods
PROXY_CPU=${PROXY_CPU:-1}        # the proxy under test
WORKERS=${WORKERS:-1}
PORT=${PORT:-18080}
ADMIN_PORT=${ADMIN_PORT:-19901}
BACKEND_PORT=${BACKEND_PORT:-3000}
REFUSED_PORT=${REFUSED_PORT:-3999}   # nothing may listen here (checked)
V1_ADDRS=${V1_ADDRS:-"127.0.0.2 127.0.0.3"}
V2_ADDRS=${V2_ADDRS:-"127.0.0.4 127.0.0.5"}
V2_SLOW_ADDRS=${V2_SLOW_ADDRS:-"127.0.0.6 127.0.0.7"}
MIRROR_DELAY_MS=${MIRROR_DELAY_MS:-50}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-1000}
IDLE_SETTLE=${IDLE_SETTLE:-3}    # seconds between the last connection's request and the measurement
PROFILE=${PROFILE:-0}
CFG=""                           # the configuration being measured (run_wrk's URL)
# Extra mirrorgate flags. By default mirrorgate runs with mirror budgets large enough that every copy is
# really sent, as the "every request mirrored" figures require: 50 ms x ~30k req/s is ~1,500 copies in
# flight, and even fast mirrors pass the default per-backend budget (256) in bursts; copies it shed
# would make the mirror rows cheaper than they are. mirror-counters.txt shows what was sent and dropped.
MG_FLAGS=${MG_FLAGS-}
SKIP_BUILD=${SKIP_BUILD:-0}
# Build a committed revision (exported with git archive into BUILD_DIR/src) instead of the working tree,
# which other people may be editing: BUILD_REV=HEAD gives numbers that belong to one commit.
BUILD_REV=${BUILD_REV:-}
if [[ -n $BUILD_REV ]]; then BUILD_REV=$(git -C "$ROOT" rev-parse --short "$BUILD_REV^{commit}"); fi
RESULTS_DIR=${RESULTS_DIR:-$BUILD_DIR/bench-results/$(date +%Y%m%d-%H%M%S)-$MODE}

MG_BIN=${MG_BIN:-$BUILD_DIR/mirrorgate}
ALT_MG_BIN=${ALT_MG_BIN:-}   # another build of the gateway: configurations "mirrorgate-alt[-mirror...]"
ECHO_BIN=$BUILD_DIR/mirrorgate-echo
CLK_TCK=$(getconf CLK_TCK)
NAMESPACE=gateway-conformance-infra

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Only ever loopback: every address we listen on or send to must be in 127.0.0.0/8.
for a in $V1_ADDRS $V2_ADDRS $V2_SLOW_ADDRS; do
  [[ $a == 127.* ]] || die "address $a is not a loopback address"
done

# --- processes we started, stopped on any exit ---------------------------------------------------------
PIDS=()
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Waits until URL answers 200, or fails after ~10 s. CURL_OPTS: e.g. --http2-prior-knowledge.
wait_http() {
  local url=$1 pid=$2 i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    # shellcheck disable=SC2086
    if [[ $(curl -s ${CURL_OPTS:-} -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

port_in_use() { # ADDR PORT: something listens there (or on the wildcard address)
  ss -Htln "sport = :$2" | awk '{ print $4 }' | grep -qE "^($1|0\.0\.0\.0|\*|\[::\]):$2\$"
}

# --- build and tools -----------------------------------------------------------------------------------
setup() {
  ulimit -n "$(ulimit -Hn)"
  local src=$ROOT
  if [[ -n $BUILD_REV ]]; then
    src=$BUILD_DIR/src-$(git -C "$ROOT" rev-parse --short "$BUILD_REV")
    if [[ ! -d $src ]]; then
      mkdir -p "$src"
      git -C "$ROOT" archive "$BUILD_REV" | tar -x -C "$src"
    fi
    BUILD_DIR=$BUILD_DIR/$(basename "$src")-build
    MG_BIN=$BUILD_DIR/mirrorgate
    ECHO_BIN=$BUILD_DIR/mirrorgate-echo
  fi
  if [[ $SKIP_BUILD != 1 ]]; then
    log "building Release of $src in $BUILD_DIR"
    cmake -S "$src" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMG_SANITIZER_VARIANT=OFF >/dev/null
    ninja -C "$BUILD_DIR" mirrorgate mirrorgate-echo >/dev/null
  fi
  [[ -x $MG_BIN && -x $ECHO_BIN ]] || die "binaries missing in $BUILD_DIR"
  # The transport floor (configuration floor-relay): one small file, built here with the same optimizer.
  FLOOR_BIN=$BUILD_DIR/floor-relay
  if [[ ! -x $FLOOR_BIN || $BENCH_DIR/floor_relay.cpp -nt $FLOOR_BIN ]]; then
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$FLOOR_BIN" "$BENCH_DIR/floor_relay.cpp" || die "floor-relay build failed"
  fi
  if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v haproxy >/dev/null ||
    ! command -v h2o >/dev/null || ! command -v h2load >/dev/null; then
    "$ROOT/scripts/deps.sh" --bench
  fi
  mkdir -p "$RESULTS_DIR"
  WORK=$(mktemp -d /tmp/mg-bench.XXXXXX)
  mkdir -p "$WORK/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
  chmod -R a+rwx "$WORK/tmp"
  chmod a+rx "$WORK"
  trap 'cleanup; rm -rf "$WORK"' EXIT
  # One certificate for every TLS configuration (the same key type for all: it sets the handshake's cost).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.example \
    -addext subjectAltName=DNS:bench.example,IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" \
    >/dev/null 2>&1 || die "openssl could not make the benchmark's certificate"
  chmod a+r "$WORK/tls.key"
}

# --- backend pods --------------------------------------------------------------------------------------
# start_pods SERVICE DELAY_MS ADDR...
start_pods() {
  local service=$1 delay=$2 i=0 a pid
  shift 2
  for a in "$@"; do
    port_in_use "$a" "$BACKEND_PORT" && die "$a:$BACKEND_PORT is already in use (a demo running?)"
    local pod=$service-bench-$i
    POD_NAME=$pod NAMESPACE=$NAMESPACE SERVICE_NAME=$service \
      taskset -c "$LOAD_CPU" "$ECHO_BIN" --threads 1 --delay "$delay" --listen "$a:$BACKEND_PORT" \
      >"$WORK/$pod.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_http "http://$a:$BACKEND_PORT/" "$pid" || die "pod $pod on $a did not start: $(cat "$WORK/$pod.log")"
    i=$((i + 1))
  done
}

# --- configuration rendering ---------------------------------------------------------------------------
# sed replacement text: escape \ & | and turn newlines into \n (GNU sed).
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g' | sed -e ':a;N;$!ba;s/\n/\\n/g'; }

# render TEMPLATE OUT KEEP_MIRROR(0|1) NAME=VALUE...
render() {
  local template=$1 out=$2 keep=$3 args=() kv
  shift 3
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|$(sed_escape "${kv#*=}")|g"); done
  if [[ $keep == 0 ]]; then args=(-e '/# BEGIN-MIRROR/,/# END-MIRROR/d' "${args[@]}"); fi
  sed "${args[@]}" "$BENCH_DIR/templates/$template" >"$out"
  ! grep -q '@[A-Z0-9_]*@' "$out" || die "unfilled placeholder in $out: $(grep -o '@[A-Z0-9_]*@' "$out" | head -1)"
}

# The v2 (mirror) side of a configuration: name suffix -slow -> slow pods, -refused -> dead port.
mirror_addrs() { case $1 in *-slow) echo "$V2_SLOW_ADDRS" ;; *) echo "$V2_ADDRS" ;; esac; }
mirror_port() { case $1 in *-refused) echo "$REFUSED_PORT" ;; *) echo "$BACKEND_PORT" ;; esac; }
has_mirror() { [[ $1 == *-mirror* ]] && echo 1 || echo 0; }
is_tls() { [[ $1 == *-tls* ]]; }  # an HTTPS listener (MODE=h2tls, tls-new)
proxy_url() { if is_tls "$1"; then echo "https://127.0.0.1:$PORT$URL_PATH"; else echo "http://127.0.0.1:$PORT$URL_PATH"; fi; }

# The gateway's listener for CONFIG: LISTENER_PROTOCOL, LISTENER_TLS (its tls: block) and TLS_SECRET (the
# Secret it names, as a YAML document) for gateway.yaml.in.
gateway_listener_args() {
  if is_tls "$1"; then
    printf '%s\0' LISTENER_PROTOCOL=HTTPS \
      "LISTENER_TLS=    tls:
      certificateRefs:
      - kind: Secret
        name: bench-certificate" \
      "TLS_SECRET=---
apiVersion: v1
kind: Secret
metadata:
  name: bench-certificate
  namespace: gateway-conformance-infra
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 "$WORK/tls.crt")
  tls.key: $(base64 -w0 "$WORK/tls.key")"
  else
    printf '%s\0' LISTENER_PROTOCOL=HTTP LISTENER_TLS= TLS_SECRET=
  fi
}

endpoints_yaml() {
  local a out=""
  for a in "$@"; do out+="- addresses:"$'\n'"  - $a"$'\n'"  conditions:"$'\n'"    ready: true"$'\n'; done
  printf '%s' "${out%$'\n'}"
}
servers_lines() { # INDENT PREFIX PORT SUFFIX ADDR...
  local indent=$1 prefix=$2 port=$3 suffix=$4 a i=0 out=""
  shift 4
  for a in "$@"; do
    out+="$indent${prefix//@I@/$i} $a:$port$suffix"$'\n'
    i=$((i + 1))
  done
  printf '%s' "${out%$'\n'}"
}

# start_proxy CONFIG: renders its configuration, starts it pinned to PROXY_CPU, sets PROXY_PID.
start_proxy() {
  local cfg=$1 keep v2 v2port conf
  keep=$(has_mirror "$cfg")
  v2=$(mirror_addrs "$cfg")
  v2port=$(mirror_port "$cfg")
  # shellcheck disable=SC2086
  case $cfg in
    mirrorgate*)
      conf=$WORK/$cfg.yaml
      local listener=()
      mapfile -d '' -t listener < <(gateway_listener_args "$cfg")
      render gateway.yaml.in "$conf" "$keep" LISTEN_ADDR=127.0.0.1 PORT="$PORT" "${listener[@]}" \
        V1_TARGET_PORT="$BACKEND_PORT" V1_ENDPOINTS="$(endpoints_yaml $V1_ADDRS)" \
        V2_TARGET_PORT="$v2port" V2_ENDPOINTS="$(endpoints_yaml $v2)"
      local bin=$MG_BIN
      if [[ $cfg == mirrorgate-alt* ]]; then bin=${ALT_MG_BIN:?ALT_MG_BIN is not set}; fi
      local log_flags=(--access-log off)
      case $cfg in
        *-jsonlog) log_flags=(--access-log "$WORK/access.log" --access-log-format json) ;;
        *-textlog) log_flags=(--access-log "$WORK/access.log" --access-log-format text) ;;
      esac
      rm -f "$WORK/access.log"
      taskset -c "$PROXY_CPU" "$bin" --workers "$WORKERS" "${log_flags[@]}" \
        --admin "127.0.0.1:$ADMIN_PORT" -c "$conf" ${MODE_FLAGS:-} >"$WORK/$cfg.log" 2>&1 &
      ;;
    nginx*)
      conf=$WORK/$cfg.conf
      local listen_opts="" tls_lines=""
      if is_tls "$cfg"; then
        listen_opts=" ssl"
        tls_lines="        ssl_certificate $WORK/tls.crt;
        ssl_certificate_key $WORK/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;"
      fi
      if [[ $cfg == nginx-h2* ]]; then listen_opts+=" http2"; fi
      # An access log as its users write one: unbuffered, each line written as the request ends.
      local access_log="    access_log off;"
      case $cfg in
        *-textlog) access_log="    access_log $WORK/access.log combined;" ;;
        *-jsonlog)
          access_log="    log_format json escape=json '{\"time\":\"\$time_iso8601\",\"request_id\":\"\$request_id\",'
        '\"client\":\"\$remote_addr\",\"method\":\"\$request_method\",\"host\":\"\$host\",'
        '\"path\":\"\$request_uri\",\"protocol\":\"\$server_protocol\",\"upstream_host\":\"\$upstream_addr\",'
        '\"status\":\$status,\"request_bytes\":\$request_length,\"bytes\":\$bytes_sent,'
        '\"duration_ms\":\$request_time,\"upstream_duration_ms\":\"\$upstream_header_time\"}';
    access_log $WORK/access.log json;"
          ;;
      esac
      rm -f "$WORK/access.log"
      render nginx-proxy.conf.in "$conf" "$keep" WORKERS="$WORKERS" NOFILE="$(ulimit -n)" WORK="$WORK" \
        NAME="$cfg" WCONN=16384 PORT="$PORT" LISTEN_OPTS="$listen_opts" TLS="$tls_lines" ACCESS_LOG="$access_log" \
        V1_SERVERS="$(servers_lines '        ' server "$BACKEND_PORT" ';' $V1_ADDRS)" \
        V2_SERVERS="$(servers_lines '        ' server "$v2port" ';' $v2)"
      taskset -c "$PROXY_CPU" nginx -p "$WORK" -e "$WORK/$cfg.error.log" -c "$conf" -g 'daemon off;' \
        >"$WORK/$cfg.log" 2>&1 &
      ;;
    floor-relay*)
      local copies=()
      # shellcheck disable=SC2207
      if [[ $keep == 1 ]]; then copies=(-- $(printf "%s:$v2port " $v2)); fi
      # shellcheck disable=SC2046
      taskset -c "$PROXY_CPU" "$FLOOR_BIN" "127.0.0.1:$PORT" $(printf "%s:$BACKEND_PORT " $V1_ADDRS) \
        "${copies[@]}" >"$WORK/$cfg.log" 2>&1 &
      ;;
    h2o*)
      conf=$WORK/$cfg.conf
      local listen_tls=""
      if is_tls "$cfg"; then
        listen_tls="  ssl:
    certificate-file: $WORK/tls.crt
    key-file: $WORK/tls.key"
      fi
      render h2o.conf.in "$conf" 0 WORKERS="$WORKERS" WCONN=16384 WORK="$WORK" NAME="$cfg" PORT="$PORT" \
        LISTEN_TLS="$listen_tls" \
        V1_URL="http://${V1_ADDRS%% *}:$BACKEND_PORT/"
      taskset -c "$PROXY_CPU" h2o -c "$conf" >"$WORK/$cfg.log" 2>&1 &
      ;;
    haproxy*)
      conf=$WORK/$cfg.cfg
      render haproxy.cfg.in "$conf" 0 WORKERS="$WORKERS" MAXCONN=8192 PORT="$PORT" \
        V1_SERVERS="$(servers_lines '    ' 'server v1-@I@' "$BACKEND_PORT" '' $V1_ADDRS)"
      taskset -c "$PROXY_CPU" haproxy -db -f "$conf" >"$WORK/$cfg.log" 2>&1 &
      ;;
    *) die "unknown configuration $cfg" ;;
  esac
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  local curl_opts=""
  if is_tls "$cfg"; then
    curl_opts=--insecure
  elif [[ $cfg == nginx-h2* ]]; then
    curl_opts=--http2-prior-knowledge
  fi
  CURL_OPTS=$curl_opts wait_http "$(proxy_url "$cfg")" "$PROXY_PID" ||
    die "$cfg did not start: $(tail -5 "$WORK/$cfg.log" "$WORK/$cfg.error.log" 2>/dev/null)"
  if [[ $cfg == *-page ]]; then open_admin_page; fi
}

# The admin page open in headless Chromium on LOAD_CPU, as an operator would leave it (PAGE_PID).
open_admin_page() {
  command -v chromium >/dev/null || die "chromium is missing (scripts/deps.sh installs it)"
  mkdir -p "$WORK/chromium"
  taskset -c "$LOAD_CPU" chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$WORK/chromium" "http://127.0.0.1:$ADMIN_PORT/" >"$WORK/chromium.log" 2>&1 &
  PAGE_PID=$!
  PIDS+=("$PAGE_PID")
  sleep 3  # loaded, and polling
}

stop_proxy() {
  if [[ -n ${PAGE_PID:-} ]]; then
    stop_pid "$PAGE_PID"
    forget_pid "$PAGE_PID"
    PAGE_PID=
  fi
  stop_pid "$PROXY_PID"
  forget_pid "$PROXY_PID"
  PROXY_PID=
}

# CPU clock ticks (utime+stime+cutime+cstime) of PID and its live children (nginx's worker).
cpu_ticks() {
  local total=0 p f
  for p in "$1" $(pgrep -P "$1" || true); do
    [[ -r /proc/$p/stat ]] || continue
    # Fields after "(comm) ": index 0 is field 3 (state); utime/stime/cutime/cstime are fields 14-17.
    read -r -a f <<<"$(sed 's/^.*) //' "/proc/$p/stat")"
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}

# Mirror counters from mirrorgate's admin /metrics: "sent completed failed dropped" (sums over labels).
mirror_counters() {
  curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '/^mirrorgate_mirror_copies_[a-z_]*_total[{ ]/ { split($1, n, "{"); sum[n[1]] += $NF }
         END { p = "mirrorgate_mirror_copies_"; printf "%d %d %d %d %d %d\n", sum[p "sent_total"],
               sum[p "completed_total"], sum[p "failed_total"], sum[p "dropped_total"], sum[p "pipelined_total"],
               sum[p "retried_total"] }'
}

run_wrk() { # SECONDS OUTFILE (CFG: the configuration under test)
  if [[ $MODE_NOW == h2c || $MODE_NOW == h2tls ]]; then
    run_h2load "$@"
    return
  fi
  local close=()
  if [[ $MODE_NOW == tls-new ]]; then close=(-H 'Connection: close'); fi
  taskset -c "$LOAD_CPU" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$1"s --latency "${close[@]}" \
    -s "$BENCH_DIR/wrk_report.lua" "$(proxy_url "$CFG")" >"$2" 2>&1
}

# run_h2load SECONDS OUTFILE: h2load over HTTP/2 (by prior knowledge, or by ALPN over TLS) for SECONDS, its report in OUTFILE
# followed by the same MG_RESULT line as wrk_report.lua writes (percentiles from h2load's per-request log).
run_h2load() {
  local log=$WORK/h2load-requests.log
  # Bounded: nginx's mirror over h2 with TLS was seen to leave h2load waiting for streams forever.
  timeout -k 5 $(($1 + 30)) taskset -c "$LOAD_CPU" h2load -t"$WRK_THREADS" -c"$CONNECTIONS" -m"$H2_STREAMS" -D"$1" \
    --log-file="$log" "$(proxy_url "$CFG")" >"$2" 2>&1 || true
  local done_ok failed errored duration_s non2xx
  read -r done_ok failed errored < <(awk '/^requests:/ { print $8, $10, $12 }' "$2")
  duration_s=$(awk '/^finished in/ { sub(/s,$/, "", $3); print $3 }' "$2")
  non2xx=$(awk '/^status codes:/ { print $7 + $9 }' "$2")
  [[ -n $done_ok && -n $duration_s ]] || { echo "MG_RESULT missing: h2load failed" >>"$2"; return; }
  # The log: start time, status, request time in microseconds, one line per request.
  sort -n -k3,3 "$log" | awk -v ok="$done_ok" -v d="$duration_s" -v f="$failed" -v e="$errored" -v n="$non2xx" '
    { t[NR] = $3 } END { printf "MG_RESULT %d %d %d %d %d %d\n", ok, d * 1e6, t[int(NR * 0.5)], t[int(NR * 0.99)],
                               f + e, n }' >>"$2"
}

# measure CONFIG ROUND: one warm-up and one measured run; appends a row to results.tsv.
measure() {
  local cfg=$1 round=$2 before after out line
  CFG=$cfg
  start_proxy "$cfg"
  run_wrk "$WARMUP" "$WORK/warmup.txt"
  local m0=(0 0 0 0 0 0) m1=(0 0 0 0 0 0)
  [[ $cfg == mirrorgate* ]] && read -r -a m0 <<<"$(mirror_counters)"
  before=$(cpu_ticks "$PROXY_PID")
  out=$RESULTS_DIR/wrk-$cfg-r$round.txt
  run_wrk "$DURATION" "$out"
  after=$(cpu_ticks "$PROXY_PID")
  [[ $cfg == mirrorgate* ]] && read -r -a m1 <<<"$(mirror_counters)"
  if ! line=$(grep '^MG_RESULT [0-9]' "$out"); then
    log "$cfg r$round: no result, row left out: $(tail -3 "$out" | tr '\n' ' ')"
    stop_proxy
    return
  fi
  # MG_RESULT requests duration_us p50_us p99_us errors non2xx
  read -r _ req dur p50 p99 errs non2xx <<<"$line"
  local rps cpu
  rps=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v r="$req" 'BEGIN { printf "%.2f", t * 1e6 / hz / r }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$MODE_NOW" "$round" "$cfg" "$rps" "$p50" "$p99" "$cpu" \
    "$req" "$errs" "$non2xx" >>"$RESULTS_DIR/results.tsv"
  if [[ $cfg == mirrorgate*-mirror* ]]; then
    echo "$MODE_NOW r$round $cfg: measured run requests=$req mirror copies sent=$((m1[0] - m0[0]))" \
      "completed=$((m1[1] - m0[1])) failed=$((m1[2] - m0[2])) dropped=$((m1[3] - m0[3]))" \
      "pipelined=$((m1[4] - m0[4])) retried=$((m1[5] - m0[5]))" \
      >>"$RESULTS_DIR/mirror-counters.txt"
  fi
  log "$(printf '%-26s r%s %8s req/s  p50 %6.2f ms  p99 %6.2f ms  %6s us CPU/req  errors %s non-2xx %s' \
    "$cfg" "$round" "$rps" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
    "$cpu" "$errs" "$non2xx")"
  stop_proxy
}

# profile CONFIG: one extra run under `perf record` (cpu-clock: this VM has no hardware counters).
profile() {
  local cfg=$1 data=$RESULTS_DIR/perf-$1.data perf_pid stat_pid
  command -v perf >/dev/null || { log "perf missing; skipping profile"; return; }
  CFG=$cfg
  start_proxy "$cfg"
  run_wrk "$WARMUP" "$WORK/warmup.txt"
  local pids  # nginx: the master and its worker
  pids=$(echo "$PROXY_PID" $(pgrep -P "$PROXY_PID") | tr ' ' ,)
  taskset -c "$LOAD_CPU" perf record -q -e cpu-clock -F 999 ${PERF_CALL_GRAPH:--g} -p "$pids" -o "$data" \
    -- sleep "$DURATION" >"$WORK/perf.log" 2>&1 &
  perf_pid=$!
  PIDS+=("$perf_pid")
  # Syscalls per request, from the syscalls:sys_enter_* tracepoints (cheap counters, no ptrace).
  taskset -c "$LOAD_CPU" perf stat -x, -e 'syscalls:sys_enter_*' -p "$pids" -o "$WORK/syscalls.csv" \
    -- sleep "$DURATION" >/dev/null 2>&1 &
  stat_pid=$!
  PIDS+=("$stat_pid")
  run_wrk "$DURATION" "$RESULTS_DIR/wrk-$cfg-profiled.txt"
  wait "$perf_pid" || true
  wait "$stat_pid" || true
  forget_pid "$perf_pid"
  forget_pid "$stat_pid"
  stop_proxy
  local req
  req=$(awk '/^MG_RESULT/ { print $2 }' "$RESULTS_DIR/wrk-$cfg-profiled.txt")
  awk -F, -v req="$req" '$3 ~ /sys_enter_/ && $1 + 0 > 0 {
      sub(/.*sys_enter_/, "", $3); printf "%8.2f  %s\n", $1 / req, $3 }' "$WORK/syscalls.csv" |
    sort -rn | head -15 >"$RESULTS_DIR/syscalls-$cfg.txt" || true
  awk -v req="$req" '{ t += $1 } END { printf "%8.2f  total syscalls per request (%d requests)\n", t, req }' \
    "$RESULTS_DIR/syscalls-$cfg.txt" >>"$RESULTS_DIR/syscalls-$cfg.txt"
  # Flat self-time per symbol, then the kernel's split by caller for the top kernel symbols: on a VM the
  # cpu-clock samples of IRQ-disabled sections land on the *_unlock_irq* that re-enables them.
  local tidy=(sed -e 's/ *- *- *$//' -e 's/ *$//')
  perf report -i "$data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.3 2>/dev/null |
    grep '%' | "${tidy[@]}" | cut -c1-180 | head -40 >"$RESULTS_DIR/perf-$cfg-top.txt" || true
  perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | "${tidy[@]}" |
    head -10 >"$RESULTS_DIR/perf-$cfg-dso.txt" || true
  perf report -i "$data" --no-children --sort symbol --stdio -g caller,2,callee,function,percent \
    --percent-limit 5 2>/dev/null | grep -v '^#' | grep -v '^$' | "${tidy[@]}" | cut -c1-180 | head -120 \
    >"$RESULTS_DIR/perf-$cfg-callers.txt" || true
  log "profile of $cfg: $RESULTS_DIR/perf-$cfg-top.txt"
}

run_rounds() { # CONFIG...
  local configs=("$@") n=$# r i
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < n; i++)); do
      measure "${configs[$(((i + r - 1) % n))]}" "$r"
    done
  done
  if [[ $PROFILE == 1 ]]; then
    for i in "${configs[@]}"; do
      if [[ $i == mirrorgate* ]]; then profile "$i"; fi
    done
  elif [[ $PROFILE == all ]]; then
    for i in "${configs[@]}"; do profile "$i"; done
  fi
}

# Resident memory of PID and its live children (nginx's workers), in kB.
rss_kb() {
  local total=0 p v
  for p in "$1" $(pgrep -P "$1" || true); do
    v=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + v))
  done
  echo "$total"
}

# idle_check CONFIG: IDLE_CONNECTIONS keep-alive client connections, one request each (a mirrored one for
# the -mirror configurations), then idle; the proxy's VmRSS before and after IDLE_SETTLE seconds.
idle_check() {
  local cfg=$1 rss0 rss1 est client_pid
  start_proxy "$cfg"
  # Warm-up traffic first, so that what fills up once and then stays the same size (pools, the mirror
  # trace ring, allocator caches) is in the "before" figure and not charged to the idle connections.
  local client_flags=()
  if [[ $MODE_NOW == idle-h2c ]]; then
    taskset -c "$LOAD_CPU" h2load -c8 -m10 -D2 "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
    client_flags=(--http2)
  else
    taskset -c "$LOAD_CPU" wrk -t1 -c8 -d2s "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
  fi
  sleep "$IDLE_SETTLE"
  rss0=$(rss_kb "$PROXY_PID")
  : >"$WORK/idle.out"  # (not the previous configuration's READY line)
  python3 "$BENCH_DIR/idle_clients.py" --connect "127.0.0.1:$PORT" --count "$IDLE_CONNECTIONS" \
    --path "$URL_PATH" "${client_flags[@]}" >"$WORK/idle.out" 2>&1 &
  client_pid=$!
  PIDS+=("$client_pid")
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q '^READY' "$WORK/idle.out" && break
    kill -0 "$client_pid" 2>/dev/null || die "idle client failed: $(cat "$WORK/idle.out")"
    sleep 0.1
  done
  grep -q '^READY' "$WORK/idle.out" || die "idle client not ready: $(cat "$WORK/idle.out")"
  sleep "$IDLE_SETTLE"  # let anything lazily freed settle (mirrorgate parks sessions idle for 1-2 s)
  rss1=$(rss_kb "$PROXY_PID")
  est=$(ss -Htn state established "sport = :$PORT" | wc -l)
  local upstream=""
  if [[ $cfg == mirrorgate* ]]; then  # what else the gateway holds: its idle upstream connections
    upstream=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^mirrorgate_upstream_connections_idle / { print $2 }')
  fi
  stop_pid "$client_pid"
  forget_pid "$client_pid"
  stop_proxy
  {
    echo "idle check ($MODE_NOW): $cfg --workers $WORKERS, $IDLE_CONNECTIONS keep-alive client connections to $URL_PATH (one request each, then idle)"
    echo "  client: $(grep '^READY' "$WORK/idle.out")"
    echo "  established at the proxy after $IDLE_SETTLE s idle: $est${upstream:+; idle upstream connections: $upstream}"
    echo "  VmRSS before: $((rss0 / 1024)) MiB ($rss0 kB); with the connections: $((rss1 / 1024)) MiB ($rss1 kB);" \
      "per connection: $(((rss1 - rss0) * 1024 / IDLE_CONNECTIONS)) bytes"
  } | tee -a "$RESULTS_DIR/idle.txt"
}

run_mode() {
  MODE_NOW=$1
  MODE_FLAGS=$MG_FLAGS
  if [[ -z $MG_FLAGS ]]; then
    MODE_FLAGS="--mirror-max-in-flight 65536 --mirror-backend-max-in-flight 65536 --mirror-backend-max-bytes 4294967296"
  fi
  log "mode $MODE_NOW${MODE_FLAGS:+ (mirrorgate flags: $MODE_FLAGS)}"
  case $MODE_NOW in
    standard)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate nginx nginx-mirror haproxy mirrorgate-mirror floor-relay floor-relay-mirror}
      ;;
    slow-mirror)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      start_pods infra-backend-v2 "$MIRROR_DELAY_MS" $V2_SLOW_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate-mirror mirrorgate-mirror-slow nginx-mirror nginx-mirror-slow}
      ;;
    refused-mirror)
      port_in_use 127.0.0.4 "$REFUSED_PORT" && die "something listens on $REFUSED_PORT"
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate mirrorgate-mirror-refused nginx nginx-mirror-refused}
      ;;
    idle)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      local cfg r
      for ((r = 1; r <= ROUNDS; r++)); do
        for cfg in ${CONFIGS:-mirrorgate-mirror nginx-mirror}; do idle_check "$cfg"; done
      done
      ;;
    h2c)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate nginx-h2 h2o mirrorgate-mirror nginx-h2-mirror}
      ;;
    h2tls)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate-tls nginx-h2-tls h2o-tls mirrorgate-tls-mirror nginx-h2-tls-mirror}
      ;;
    tls-new)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate-tls nginx-tls h2o-tls}
      ;;
    idle-h2c)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      local cfg r
      for ((r = 1; r <= ROUNDS; r++)); do
        for cfg in ${CONFIGS:-mirrorgate nginx-h2 h2o}; do idle_check "$cfg"; done
      done
      ;;
    observability)
      start_pods infra-backend-v1 0 $V1_ADDRS
      start_pods infra-backend-v2 0 $V2_ADDRS
      # shellcheck disable=SC2086
      run_rounds ${CONFIGS:-mirrorgate mirrorgate-jsonlog mirrorgate-textlog nginx nginx-jsonlog nginx-textlog \
        mirrorgate-mirror mirrorgate-mirror-jsonlog mirrorgate-mirror-textlog mirrorgate-mirror-page}
      ;;
    *) die "unknown MODE $MODE_NOW" ;;
  esac
  cleanup
}

setup
{
  echo "date: $(date -Is)"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r)"
  echo "load: $(uptime)"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | cut -d' ' -f1-3), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)," \
    "$(h2o --version 2>/dev/null | head -1), h2load $(dpkg-query -W -f='${Version}' nghttp2-client 2>/dev/null)"
  if [[ -n $BUILD_REV ]]; then
    echo "mirrorgate: $(git -C "$ROOT" rev-parse --short "$BUILD_REV") (committed tree, $MG_BIN, Release)"
  else
    echo "mirrorgate: working tree at $(git -C "$ROOT" rev-parse --short HEAD)" \
      "($(git -C "$ROOT" status --porcelain -- src | wc -l) files in src/ changed), $MG_BIN, Release"
  fi
  echo "settings: MODE=$MODE ROUNDS=$ROUNDS WARMUP=$WARMUP DURATION=$DURATION CONNECTIONS=$CONNECTIONS H2_STREAMS=$H2_STREAMS" \
    "WRK_THREADS=$WRK_THREADS WORKERS=$WORKERS LOAD_CPU=$LOAD_CPU PROXY_CPU=$PROXY_CPU URL_PATH=$URL_PATH"
} | tee "$RESULTS_DIR/env.txt"
printf 'mode\tround\tconfig\trps\tp50_us\tp99_us\tcpu_us_per_req\trequests\terrors\tnon2xx\n' >"$RESULTS_DIR/results.tsv"

if [[ $MODE == all ]]; then
  for m in standard slow-mirror refused-mirror idle h2c idle-h2c h2tls tls-new observability; do run_mode "$m"; done
else
  run_mode "$MODE"
fi
if [[ $(wc -l <"$RESULTS_DIR/results.tsv") -gt 1 ]]; then
  python3 "$BENCH_DIR/summarize.py" "$RESULTS_DIR/results.tsv" | tee "$RESULTS_DIR/summary.md"
fi
log "results in $RESULTS_DIR"
