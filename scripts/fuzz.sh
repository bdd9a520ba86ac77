#!/usr/bin/env bash
# Fuzzes every decoder for a bounded time (docs/fuzzing.md):
#   1. the native batch header decoder + CRC32C with libFuzzer (ASan + UBSan),
#      built by native/CMakeLists.txt (-DBLIPCAST_FUZZ=ON) into build-fuzz/,
#      seeded from test/vectors/header.json;
#   2. the fast-check properties of test/fuzz-*.test.ts with more runs.
#
# Usage: scripts/fuzz.sh [SECONDS]      (default 60: the libFuzzer time budget)
# Environment:
#   BLIPCAST_FUZZ_NATIVE_RUNS=N  run exactly N libFuzzer executions instead of SECONDS
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

echo "== native: building fuzz_header ($(clang++ --version | head -1))"
cmake -S native -B "$BUILD" -DBLIPCAST_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$BUILD" --target fuzz_header >/dev/null

rm -rf "$BUILD/seeds"
node native/fuzz/make-corpus.js "$BUILD/seeds"
mkdir -p "$BUILD/corpus" "$BUILD/artifacts"

if [ -n "${BLIPCAST_FUZZ_NATIVE_RUNS:-}" ]; then
  LIMIT=(-runs="$BLIPCAST_FUZZ_NATIVE_RUNS")
  echo "== native: libFuzzer, $BLIPCAST_FUZZ_NATIVE_RUNS executions"
else
  LIMIT=(-max_total_time="$SECONDS_BUDGET")
  echo "== native: libFuzzer, $SECONDS_BUDGET s"
fi
LOG="$BUILD/fuzz_header.log"
START_S=$(date +%s)
set +e
# corpus/ grows across runs (new coverage is kept); seeds/ is read only.
"$BUILD/fuzz_header" "${LIMIT[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$BUILD/artifacts/" "$BUILD/corpus" "$BUILD/seeds" >"$LOG" 2>&1
STATUS=$?
set -e
ELAPSED_S=$(( $(date +%s) - START_S ))
EXECS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
RATE=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -1)
if [ "$STATUS" -ne 0 ]; then
  grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$LOG" | head -20 >&2 || true
  echo "fuzz: native fuzzer FAILED (exit $STATUS) after ${EXECS:-?} executions; full log: $LOG" >&2
  exit "$STATUS"
fi
echo "native: ${EXECS:-?} executions in ${ELAPSED_S} s (${RATE:-?}/s), no crash; log: $LOG"

if [ "${BLIPCAST_FUZZ_SKIP_JS:-}" = "1" ]; then exit 0; fi
SCALE="${BLIPCAST_FUZZ_RUNS:-$(( SECONDS_BUDGET / 6 > 1 ? SECONDS_BUDGET / 6 : 1 ))}"
echo "== TypeScript: fast-check properties, run counts x$SCALE"
npx tsc -p tsconfig.json
BLIPCAST_FUZZ_RUNS="$SCALE" npx ava dist/test/fuzz-payload.test.js dist/test/fuzz-receiver.test.js
