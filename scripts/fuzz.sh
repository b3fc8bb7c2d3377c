#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang) and fuzzes them, growing the checked-in corpus.
#
#   scripts/fuzz.sh [TARGET] [SECONDS]
#
# TARGET: request_parser_fuzz, response_parser_fuzz, chunked_decoder_fuzz, http2_session_fuzz, h2_client_codec_fuzz,
# websocket_frame_fuzz, trace_context_fuzz, client_hello_fuzz (the "_fuzz" may be left off) or "all" (default); SECONDS per target (default 60).
# Each target fuzzes on a scratch copy of tests/fuzz/corpus/<target>/, then only the inputs that add
# coverage are merged back into it (so the corpus stays small). A crash leaves its reproducer in
# build-fuzz/artifacts/ and fails the script.
# Environment: BUILD_DIR (default build-fuzz), CXX (default clang++), JOBS for ninja (default 2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-all}
seconds=${2:-60}
build=${BUILD_DIR:-$root/build-fuzz}
all=(request_parser_fuzz response_parser_fuzz chunked_decoder_fuzz http2_session_fuzz websocket_frame_fuzz h2_client_codec_fuzz trace_context_fuzz client_hello_fuzz)

if [[ "$target" == all ]]; then
  targets=("${all[@]}")
else
  [[ "$target" == *_fuzz ]] || target="${target}_fuzz"
  if [[ ! " ${all[*]} " == *" $target "* ]]; then
    echo "fuzz: unknown target '$target' (one of: ${all[*]}, all)" >&2
    exit 2
  fi
  targets=("$target")
fi

if ! command -v "${CXX:-clang++}" >/dev/null; then
  echo "fuzz: ${CXX:-clang++} not found; run scripts/deps.sh" >&2
  exit 2
fi
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-clang++}" >/dev/null
ninja -C "$build" -j "${JOBS:-2}" >/dev/null

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/$t"
  scratch="$build/scratch/$t"
  rm -rf "$scratch"
  mkdir -p "$scratch" "$corpus"
  cp "$corpus"/. "$scratch"/ -r
  echo "fuzz: $t for ${seconds}s"
  if ! "$build/$t" -dict="$root/tests/fuzz/http.dict" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$scratch" \
      2> >(tee "$build/$t.log" | grep -E '^(#[0-9]+ *DONE|stat::|==[0-9]+==|SUMMARY)' >&2); then
    echo "fuzz: $t FAILED, reproducer(s): $(ls "$build/artifacts/$t-"* 2>/dev/null | tr '\n' ' ')" >&2
    status=1
    continue
  fi
  before=$(find "$corpus" -type f | wc -l)
  "$build/$t" -merge=1 -rss_limit_mb=2048 "$corpus" "$scratch" 2>/dev/null
  echo "fuzz: $t corpus $before -> $(find "$corpus" -type f | wc -l) files"
done
exit $status
