#!/usr/bin/env bash
# `make bench [NAME=x]`: run bench/x.py (or every bench/*.py) with the default Airflow's venv.
# Each benchmark prints its figure as its last line, `name: value`.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
venv="$(bash scripts/venv.sh "$AIRFLOW_VERSION")"
export PATH="$PWD/$venv/bin:$PATH"
export AIRFLOW_HOME="${BENCH_AIRFLOW_HOME:-$PWD/bench/.work/airflow-$AIRFLOW_VERSION}"
mkdir -p "$AIRFLOW_HOME"
if [ -n "${1:-}" ]; then
  names=("$1")
else
  names=()
  for f in bench/*.py; do names+=("$(basename "$f" .py)"); done
fi
status=0
for name in "${names[@]}"; do
  [ -f "bench/$name.py" ] || { echo "no benchmark bench/$name.py" >&2; exit 2; }
  echo "==> bench/$name.py (Airflow $AIRFLOW_VERSION)"
  "$venv/bin/python" "bench/$name.py" || status=1
done
exit $status
