#!/usr/bin/env bash
# `make test`: lint once, then the whole suite against each Airflow in $TEST_AIRFLOW_VERSIONS.
# Extra arguments go to pytest (e.g. `make test PYTEST_ARGS="-k health"`).
set -uo pipefail
cd "$(dirname "$0")/.."
versions="${TEST_AIRFLOW_VERSIONS:-3.3.2 2.11.2}"
artifacts="${PLATFORM_TEST_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$artifacts"
status=0

first="${versions%% *}"
venv="$(bash scripts/venv.sh "$first")" || exit 1
echo "==> lint (ruff, mypy)"
"$venv/bin/ruff" check src tests bench dags_examples || status=1
"$venv/bin/ruff" format --check src tests bench dags_examples || status=1
"$venv/bin/mypy" || status=1

for version in $versions; do
  venv="$(bash scripts/venv.sh "$version")" || { status=1; continue; }
  echo "==> tests against Airflow $version"
  start=$(date +%s)
  PLATFORM_TEST_ARTIFACTS="$artifacts" "$venv/bin/python" -m pytest -p no:cacheprovider \
    --junitxml="$artifacts/junit-airflow-$version.xml" "$@"
  rc=$?
  echo "==> Airflow $version: pytest exit $rc in $(( $(date +%s) - start ))s"
  # 5 = no tests collected: that is a failure of the suite, not a pass.
  [ "$rc" -eq 0 ] || status=1
done

python3 - "$artifacts" $versions <<'PY'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
art, versions = Path(sys.argv[1]), sys.argv[2:]
total = {"passed": 0, "failed": 0, "skipped": 0}
for v in versions:
    f = art / f"junit-airflow-{v}.xml"
    if not f.exists():
        continue
    for s in ET.parse(f).getroot().iter("testsuite"):
        t, fl, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        total["failed"] += fl + e
        total["skipped"] += sk
        total["passed"] += t - fl - e - sk
print(f"platform: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
PY
exit $status
