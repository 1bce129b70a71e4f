#!/usr/bin/env bash
# `make bench [NAME=x]`: run bench/x.py (or every bench/*.py) with the default Airflow's venv.
# Each benchmark prints its figure as its last line, `name: value`. Each run's output is kept in
# bench/.work/logs/<name>-<airflow version>.log and bench/report.py collects the figures, the machine
# and the date into bench/RESULTS.md (bench/results.json keeps the rows of earlier runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
venv="$(bash scripts/venv.sh "$AIRFLOW_VERSION")"
export PATH="$PWD/$venv/bin:$PATH"
export AIRFLOW_HOME="${BENCH_AIRFLOW_HOME:-$PWD/bench/.work/airflow-$AIRFLOW_VERSION}"
mkdir -p "$AIRFLOW_HOME" bench/.work/logs
if [ -n "${1:-}" ]; then
  names=("$1")
else
  names=()
  for f in bench/*.py; do
    name="$(basename "$f" .py)"
    [ "$name" = report ] || names+=("$name")
  done
fi
status=0
logs=()
for name in "${names[@]}"; do
  [ -f "bench/$name.py" ] && [ "$name" != report ] || { echo "no benchmark bench/$name.py" >&2; exit 2; }
  echo "==> bench/$name.py (Airflow $AIRFLOW_VERSION)"
  log="bench/.work/logs/$name-$AIRFLOW_VERSION.log"
  if "$venv/bin/python" "bench/$name.py" 2>&1 | tee "$log.tmp"; then
    mv "$log.tmp" "$log"
    logs+=("$name-$AIRFLOW_VERSION.log")
  else
    status=1
    rm -f "$log.tmp"
  fi
done
if [ ${#logs[@]} -gt 0 ]; then
  "$venv/bin/python" bench/report.py "${logs[@]}"
fi
exit $status
