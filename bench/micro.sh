#!/usr/bin/env bash
# Builds the micro-benchmarks (bench/CMakeLists.txt, a standalone project, Release) and runs them.
# BUILD_DIR (default build-bench-micro), REPETITIONS (default 5; medians reported), extra arguments are
# passed to every benchmark binary (e.g. --benchmark_filter=Match).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench-micro}
REPETITIONS=${REPETITIONS:-5}
CPU=${CPU:-}   # optional: pin to this CPU with taskset

# PREBUILT_CORE: a static library of all of src/ (minus main/) to link instead of compiling src/ here. The
# root build makes one library per layer now, so by default the sources are compiled here.
PREBUILT_CORE=${PREBUILT_CORE-}
[[ -z $PREBUILT_CORE || -f $PREBUILT_CORE ]] || { echo "no such file: $PREBUILT_CORE" >&2; exit 2; }
# SRC_DIR: the src/ the headers (and, without a prebuilt core, the sources) come from; it must be the
# tree the prebuilt core was built from (e.g. build-bench/src-<rev>/src from BUILD_REV=<rev> bench/load.sh).
SRC_DIR=${SRC_DIR:-$ROOT/src}
cmake -S "$ROOT/bench" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMG_BENCH_PREBUILT_CORE="$PREBUILT_CORE" -DMG_BENCH_SRC_DIR="$(realpath "$SRC_DIR")" >/dev/null
ninja -C "$BUILD_DIR" http_parser_bench http_serializer_bench route_match_bench route_scale_bench
pin=()
[[ -n $CPU ]] && pin=(taskset -c "$CPU")
for b in http_parser_bench http_serializer_bench route_match_bench route_scale_bench; do
  echo "== $b"
  "${pin[@]}" "$BUILD_DIR/$b" --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
    --benchmark_display_aggregates_only=true "$@"
done
