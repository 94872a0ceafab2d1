#!/usr/bin/env bash
# The whole suite under load: runs the README's test command (scripts/test.sh) three times in a
# row while two CPU-bound processes run beside it, as on a shared 2-core machine. Prints pass or
# fail and the wall time of each run; exits non-zero if any run fails. Each run's output is kept
# in test-artifacts/stress-run-N.log. Extra arguments go to pytest (`bash scripts/stress_tests.sh
# tests/browser` stresses the browser tests only). STRESS_RUNS and STRESS_BURNERS change the counts.
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${STRESS_RUNS:-3}"
burners="${STRESS_BURNERS:-2}"
burner_pids=()
stop_burners() {
  for pid in "${burner_pids[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM  # the EXIT trap still stops the burners

for _ in $(seq "$burners"); do
  python3 -c 'while True: pass' &
  burner_pids+=($!)
done
echo "$burners CPU-bound processes running beside the suite (pids ${burner_pids[*]}) on $(nproc) cores"

mkdir -p test-artifacts
failed=0
for run in $(seq "$runs"); do
  log="test-artifacts/stress-run-$run.log"
  start=$(date +%s)
  if bash scripts/test.sh -q "$@" >"$log" 2>&1; then
    result="passed"
  else
    result="FAILED"
    failed=1
  fi
  seconds=$(($(date +%s) - start))
  summary=$(grep -E '[0-9]+ (passed|failed|errors?)\b' "$log" | tail -n 1)
  printf 'run %d/%d: %s in %dm%02ds  %s\n' "$run" "$runs" "$result" $((seconds / 60)) $((seconds % 60)) "$summary"
done

if [ "$failed" -ne 0 ]; then
  echo "at least one run failed: see test-artifacts/stress-run-*.log"
  exit 1
fi
echo "all $runs runs passed under load"
