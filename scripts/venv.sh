#!/usr/bin/env bash
# Make (or refresh) .venv/airflow-$1 with that Airflow, this package (editable) and the test tools.
# Prints the venv's path. Rebuilds only when pyproject.toml or the constraints changed.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/venv.sh AIRFLOW_VERSION}"
venv=".venv/airflow-$version"
constraints="constraints/airflow-$version.txt"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || py=python3

uv_bin=".venv/tools/bin/uv"
if [ ! -x "$uv_bin" ]; then
  echo "==> bootstrapping uv into .venv/tools" >&2
  "$py" -m venv .venv/tools >&2
  .venv/tools/bin/pip install -q "uv>=0.4" >&2
fi

stamp="$venv/.platform-stamp"
want="$(cat pyproject.toml "$constraints" scripts/venv.sh 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv"; exit 0
fi

echo "==> installing Airflow $version and airflow-platform into $venv" >&2
[ -x "$venv/bin/python" ] || "$uv_bin" venv -q -p "$py" "$venv" >&2
case "$version" in
  3.*) providers=(apache-airflow-providers-fab apache-airflow-providers-duckdb apache-airflow-providers-postgres apache-airflow-providers-http apache-airflow-providers-cncf-kubernetes) ;;
  *)   providers=(apache-airflow-providers-duckdb apache-airflow-providers-postgres apache-airflow-providers-http apache-airflow-providers-cncf-kubernetes) ;;
esac
cflag=()
[ -f "$constraints" ] && cflag=(-c "$constraints")
"$uv_bin" pip install -q --python "$venv/bin/python" "${cflag[@]}" \
  "apache-airflow==$version" "${providers[@]}" -e ".[server,test,dev]" >&2
# setuptools leaves an egg-info in src/; a second copy of our metadata would register the plugin twice.
rm -rf src/*.egg-info
echo "$want" > "$stamp"
echo "$venv"
