#!/usr/bin/env bash
# Run `.ci/run` on fresh clones N times in a row while a full test run competes for the
# CPUs, as the CI flake hunt asks: prints one line per run (exit code, seconds, summary).
#   bash scripts/ci-under-load.sh [RUNS] [WORKDIR]
# WORKDIR (default /tmp/ci-under-load) gets the clones, with ../shared linked beside each.
set -u
RUNS=${1:-10}
WORK=${2:-/tmp/ci-under-load}
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$REPO/../shared" && pwd)
COMMIT=$(git -C "$REPO" rev-parse HEAD)
rm -rf "$WORK" && mkdir -p "$WORK"
git clone -q "$REPO" "$WORK/compete" && git -C "$WORK/compete" checkout -q "$COMMIT"
(cd "$WORK/compete" && python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]') \
    > "$WORK/compete-install.log" 2>&1
# The competitor: full test runs back to back until the last CI run ends.
( while [ ! -e "$WORK/stop" ]; do
      (cd "$WORK/compete" && .venv/bin/python -m pytest -q -p no:cacheprovider \
          >> "$WORK/compete.log" 2>&1)
  done ) &
COMPETITOR=$!
passed=0
for i in $(seq 1 "$RUNS"); do
    run="$WORK/run$i"
    mkdir -p "$run" && ln -s "$SHARED" "$run/shared"
    git clone -q "$REPO" "$run/main" && git -C "$run/main" checkout -q "$COMMIT"
    start=$(date +%s)
    (cd "$run/main" && CI=true bash .ci/run > "$run/out.log" 2>&1 < /dev/null)
    code=$?
    [ "$code" -eq 0 ] && passed=$((passed + 1))
    summary=$(grep -E "^=+ .*(passed|failed)" "$run/out.log" | tail -1)
    echo "run $i: exit $code in $(( $(date +%s) - start )) s ${summary}"
done
touch "$WORK/stop"
wait "$COMPETITOR"
echo "$passed of $RUNS passed at $COMMIT"
