"""Export specs become DAGs with files only: no metadata-DB access at parse time."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_platform.exports import specs
from tests import harness
from tests.conftest import SESSION_ENV

SPEC = {
    "dag_id": "saved_query__sq_00112233aabbccdd",
    "saved_query_id": "sq_00112233aabbccdd",
    "name": "Monthly Revenue Report",
    "slug": "monthly-revenue-report",
    "query": "SELECT 1 AS one",
    "database": "warehouse",
    "allowed_schemas": None,
    "parameters": [],
    "schedule": "0 8 1 * *",
    "output_format": "parquet",
    "destination": "s3://reports/monthly",
    "tenant_id": "team-a",
    "owner": "alice",
}


def test_specs_build_dags_without_the_metadata_db(tmp_path: Path) -> None:
    root = tmp_path / "platform"
    dags = tmp_path / "dags"
    env = {
        **SESSION_ENV,
        "AIRFLOW__PLATFORM__DATAKITS_FOLDER": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
    }
    code = (
        "import json\n"
        "from airflow_platform.exports import specs\n"
        f"specs.write_spec({SPEC!r})\n"
        f"specs.write_spec({{**{SPEC!r}, 'dag_id': 'saved_query__sq_99999999',\n"
        "                    'saved_query_id': 'sq_99999999'})\n"
    )
    harness.python_json(env, code + "print('{}')\n")
    # A broken spec is skipped without hiding the others.
    (root / "saved_queries" / "saved_query__sq_99999999.json").write_text("{not json")
    assert (dags / specs.FACTORY_FILE).read_text() == specs.FACTORY_SOURCE
    code = (
        "import json\n"
        "from airflow_platform.exports.dag_factory import build_dags\n"
        "dags = build_dags()\n"
        "dag = dags['saved_query__sq_00112233aabbccdd']\n"
        "task = dag.get_task('export')\n"
        "print(json.dumps({'ids': sorted(dags), 'tags': sorted(dag.tags), 'operator': type(task).__name__,"
        " 'destination': task.spec['destination'], 'timetable': type(dag.timetable).__name__,"
        " 'catchup': dag.catchup, 'max_active_runs': dag.max_active_runs}))\n"
    )
    out = harness.python_json(env, code, forbid_db=True)
    assert out["ids"] == ["saved_query__sq_00112233aabbccdd"]
    assert out["operator"] == "SavedQueryExportOperator" and out["destination"] == "s3://reports/monthly"
    assert {"saved-query", "export", "parquet", "tenant:team-a"} <= set(out["tags"])
    assert "Cron" in out["timetable"] and out["catchup"] is False and out["max_active_runs"] == 1


def test_the_factory_file_is_parsed_by_airflow_without_the_db(tmp_path: Path) -> None:
    """What the DAG processor does: import the DAG folder's factory file (a DagBag)."""
    root = tmp_path / "platform"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / specs.FACTORY_FILE).write_text(specs.FACTORY_SOURCE)
    folder = root / "saved_queries"
    folder.mkdir(parents=True)
    (folder / f"{SPEC['dag_id']}.json").write_text(json.dumps({"spec_version": 1, **SPEC}))
    env = {
        **SESSION_ENV,
        "AIRFLOW__PLATFORM__DATAKITS_FOLDER": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
    }
    code = (
        "import inspect, json\n"
        "try:\n"
        "    from airflow.dag_processing.dagbag import DagBag\n"
        "except ImportError:\n"
        "    from airflow.models.dagbag import DagBag\n"
        "airflow2 = 'include_examples' in inspect.signature(DagBag).parameters\n"
        "extra = {'include_examples': False} if airflow2 else {}\n"
        f"bag = DagBag({str(dags)!r}, **extra)  # safe mode on, as the DAG processor runs\n"
        "errors = {k: str(v) for k, v in bag.import_errors.items()}\n"
        "print(json.dumps({'ids': sorted(bag.dag_ids), 'errors': errors}))\n"
    )
    out = harness.python_json(env, code, forbid_db=True)
    assert out == {"ids": [SPEC["dag_id"]], "errors": {}}
