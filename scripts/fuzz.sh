#!/usr/bin/env bash
# Fuzzes every decoder for a bounded time (docs/fuzzing.md):
#   1. with libFuzzer (ASan + UBSan), built by native/CMakeLists.txt
#      (-DBLIPCAST_FUZZ=ON) into build-fuzz/, seeded from test/vectors/header.json:
#      fuzz_header (the native batch header decoder + CRC32C) and fuzz_aead
#      (the AES-256-GCM batch open), each for the time budget;
#   2. the fast-check properties of test/fuzz-*.test.ts with more runs.
#
# Usage: scripts/fuzz.sh [SECONDS]      (default 60: the libFuzzer time budget per target)
# Environment:
#   BLIPCAST_FUZZ_NATIVE_RUNS=N  run exactly N libFuzzer executions per target instead of SECONDS
#   BLIPCAST_FUZZ_TARGETS=LIST   native targets to run, comma-separated (default header,aead)
#   BLIPCAST_FUZZ_RUNS=K         multiply the fast-check run counts by K (default SECONDS / 6, at least 1)
#   BLIPCAST_FUZZ_SKIP_JS=1      native fuzzer only
# Exit status: non-zero when either finds a failure (libFuzzer's crash input is
# kept in build-fuzz/artifacts/, fast-check prints its counterexample and seed).
set -euo pipefail

SECONDS_BUDGET="${1:-60}"
if ! [[ "$SECONDS_BUDGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_BUDGET" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]  (a positive integer, default 60)" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-fuzz"
cd "$ROOT"

# clang with the libFuzzer runtime (Debian: clang pulls in libclang-rt-*-dev).
if ! command -v clang++ >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing clang with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
  else
    echo "fuzz: clang++ not found; install clang (apt-get install -y clang)" >&2
    exit 1
  fi
fi
for tool in cmake node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "fuzz: $tool not found" >&2; exit 1; }
done
[ -d node_modules ] || { echo "fuzz: run npm ci first (node_modules is missing)" >&2; exit 1; }

TARGETS="${BLIPCAST_FUZZ_TARGETS:-header,aead}"
echo "== native: building $TARGETS ($(clang++ --version | head -1))"
cmake -S native -B "$BUILD" -DBLIPCAST_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null

# fuzz_native NAME CORPUS_SCRIPT: builds fuzz_NAME, writes its seeds, runs it.
# Layout per target: seeds-NAME/ (regenerated), corpus-NAME/ (grows across
# runs), artifacts/ (crash inputs, prefixed with the target name).
fuzz_native() {
  local name="$1" corpus_script="$2"
  cmake --build "$BUILD" --target "fuzz_$name" >/dev/null
  rm -rf "$BUILD/seeds-$name"
  node "$corpus_script" "$BUILD/seeds-$name"
  mkdir -p "$BUILD/corpus-$name" "$BUILD/artifacts"
  local limit
  if [ -n "${BLIPCAST_FUZZ_NATIVE_RUNS:-}" ]; then
    limit=-runs="$BLIPCAST_FUZZ_NATIVE_RUNS"
    echo "== native: fuzz_$name, $BLIPCAST_FUZZ_NATIVE_RUNS executions"
  else
    limit=-max_total_time="$SECONDS_BUDGET"
    echo "== native: fuzz_$name, $SECONDS_BUDGET s"
  fi
  local log="$BUILD/fuzz_$name.log" start_s status elapsed_s execs rate
  start_s=$(date +%s)
  set +e
  BLIPCAST_FUZZ_AEAD_CODES=1 "$BUILD/fuzz_$name" "$limit" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/artifacts/$name-" "$BUILD/corpus-$name" "$BUILD/seeds-$name" >"$log" 2>&1
  status=$?
  set -e
  elapsed_s=$(( $(date +%s) - start_s ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -20 >&2 || true
    echo "fuzz: fuzz_$name FAILED (exit $status) after ${execs:-?} executions; full log: $log" >&2
    exit "$status"
  fi
  echo "native: fuzz_$name ${execs:-?} executions in ${elapsed_s} s (${rate:-?}/s), no crash; log: $log"
  grep '^fuzz_aead codes:' "$log" || true
}

for target in ${TARGETS//,/ }; do
  case "$target" in
    header) fuzz_native header native/fuzz/make-corpus.js ;;
    aead) fuzz_native aead native/fuzz/make-aead-corpus.js ;;
    *) echo "fuzz: unknown target '$target' (header, aead)" >&2; exit 2 ;;
  esac
done

if [ "${BLIPCAST_FUZZ_SKIP_JS:-}" = "1" ]; then exit 0; fi
SCALE="${BLIPCAST_FUZZ_RUNS:-$(( SECONDS_BUDGET / 6 > 1 ? SECONDS_BUDGET / 6 : 1 ))}"
echo "== TypeScript: fast-check properties, run counts x$SCALE"
npx tsc -p tsconfig.json
BLIPCAST_FUZZ_RUNS="$SCALE" npx ava dist/test/fuzz-payload.test.js dist/test/fuzz-receiver.test.js
