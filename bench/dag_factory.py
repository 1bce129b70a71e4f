"""How fast the DAG factory turns deployment specs into DAGs, and proof that it never asks the DB.

1,000 deployment specs (the reference's kit, each its own DAG id) are written to a fresh folder;
Airflow's own DagBag then parses the factory DAG file, as the DAG processor does. Every SQL
statement any SQLAlchemy engine executes meanwhile is counted (``before_cursor_execute`` on the
Engine class): the count must be zero. Baseline in the same process: the same 1,000 DAGs written
out as plain Python (one DAG + one operator each) and parsed by the same DagBag.

    make bench NAME=dag_factory        # last line: dag_factory_parse_s_per_1000: X (goal ≤ 1.0)
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

N = int(os.environ.get("BENCH_SPECS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

MANIFEST = {
    "name": "customer-360-datakit", "version": "1.2.0", "description": "Customer 360 view",
    "image": "registry.localhost/datakits/customer-360:1.2.0", "type": "transformation",
    "inputs": [{"name": "customers", "type": "table", "schema": "bronze", "description": None}],
    "outputs": [{"name": "customer_360", "type": "table", "schema": "gold", "description": None}],
    "configuration": {"batch_size": {"type": "integer", "default": 1000, "description": None,
                                     "required": False, "enum": None, "minimum": None, "maximum": None}},
    "requirements": {"cpu": "2000m", "memory": "4Gi", "gpu": False, "network": False},
    "tags": ["customer"],
}  # fmt: skip

BASELINE_DAG = """
from datetime import datetime, timezone
from airflow_platform.compat import dag_class
from airflow_platform.operators.datakit import DataKitOperator
for i in range({n}):
    dag = dag_class()(dag_id=f"plain_{{i}}", schedule="0 2 * * *", catchup=False, max_active_runs=1,
                      start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), tags=["datakit"])
    DataKitOperator(task_id="run_datakit", dag=dag, image="registry.localhost/datakits/x:1.0.0",
                    configuration={{"batch_size": 5000}})
    globals()[dag.dag_id] = dag
"""


def write_specs(folder: Path) -> None:
    deployments = folder / "platform_datakits" / "deployments"
    deployments.mkdir(parents=True)
    for i in range(N):
        dag_id = f"datakit__customer-360-datakit__env-{i}"
        spec = {
            "spec_version": 1, "dag_id": dag_id, "deployment_id": dag_id, "datakit": MANIFEST["name"],
            "version": "1.2.0", "environment": f"env-{i}", "tenant_id": "analytics-team",
            "namespace": "analytics", "schedule": "0 2 * * *", "configuration": {"batch_size": 5000},
            "notifications": {"on_success": [], "on_failure": [], "on_retry": []}, "runtime": "docker",
            "inputs": {}, "outputs": {}, "paused": False, "timeout_seconds": None, "owner": "admin",
            "updated_at": "2026-11-26T00:00:00+00:00", "manifest": MANIFEST,
        }  # fmt: skip
        (deployments / f"{dag_id}.json").write_text(json.dumps(spec))


def dagbag_class() -> type:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


def parse(folder: Path) -> tuple[float, int]:
    start = time.perf_counter()
    kwargs = {"dag_folder": str(folder), "safe_mode": False}
    if "include_examples" in inspect.signature(dagbag_class()).parameters:  # Airflow 2
        kwargs["include_examples"] = False
    bag = dagbag_class()(**kwargs)
    elapsed = time.perf_counter() - start
    if bag.import_errors:
        sys.exit(f"import errors: {bag.import_errors}")
    return elapsed, len(bag.dags)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-dag-factory-"))
    factory_dags, plain_dags = work / "factory", work / "plain"
    factory_dags.mkdir()
    plain_dags.mkdir()
    write_specs(factory_dags)
    os.environ["AIRFLOW__PLATFORM__DATAKITS_FOLDER"] = str(factory_dags / "platform_datakits")
    os.environ.setdefault("AIRFLOW_HOME", str(work / "home"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

    from airflow_platform.datakits.files import ensure_factory_file

    ensure_factory_file(factory_dags)
    (plain_dags / "plain_dags.py").write_text(BASELINE_DAG.format(n=N))

    import sqlalchemy as sa

    statements: list[str] = []
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", lambda *a, **k: statements.append(str(a[2])))

    parse(factory_dags)  # warm imports
    factory, plain = [], []
    for _ in range(ROUNDS):
        seconds, count = parse(factory_dags)
        assert count == N, f"the factory built {count} DAGs, expected {N}"
        factory.append(seconds)
    queries_during_factory = len(statements)
    for _ in range(ROUNDS):
        seconds, count = parse(plain_dags)
        assert count == N
        plain.append(seconds)

    f_med, p_med = statistics.median(factory), statistics.median(plain)
    print(f"specs: {N}, rounds: {ROUNDS}")
    print(f"DagBag parse of the factory file ({N} specs): median {f_med:.3f} s")
    print(f"DagBag parse of {N} plain Python DAGs (baseline): median {p_med:.3f} s")
    print(f"metadata-DB statements during factory parsing: {queries_during_factory}")
    if queries_during_factory:
        print("first statement:", statements[0][:200])
        sys.exit(1)
    print(f"dag_factory_overhead_ratio: {f_med / p_med:.3f}")
    print(f"dag_factory_parse_s_per_1000: {f_med * 1000 / N:.3f}")


if __name__ == "__main__":
    main()
