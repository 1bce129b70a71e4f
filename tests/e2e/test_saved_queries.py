"""Saved queries over HTTP on the real Airflow server (3.x api-server, 2.11 webserver).

The reference's save body (its destination moved under the allowed export folder), what a save
refuses, tenant walls, execute with typed/required/default parameters, PATCH and DELETE keeping the
export DAG's spec file in step, the reference's SDK calls, and a tenant's forced delete taking its
export specs along. The scheduled export itself runs in test_saved_query_export.py (a scheduler).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_platform import PlatformClient
from tests.conftest import SESSION_ENV
from tests.e2e.analytics_support import (
    QUERY,
    error_of,
    key_set,
    run,
    wait_final,
)
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e

SAVED = "/api/v1/analytics/saved-queries"
EXPORTS = Path(SESSION_ENV["AIRFLOW_HOME"]) / "platform" / "exports"
SPECS = Path(SESSION_ENV["AIRFLOW_HOME"]) / "dags" / "platform_datakits" / "saved_queries"
REFERENCE_SAVE = {
    "name": "Monthly Revenue Report",
    "description": "Monthly revenue breakdown by region and product",
    "query": "SELECT DATE_TRUNC('month', order_date) as month, region, product_category, "
    "SUM(total_amount) as revenue FROM gold.fact_orders WHERE order_date >= :start_date GROUP BY 1, 2, 3",
    "parameters": [{"name": "start_date", "type": "date", "default": "2024-01-01", "required": True}],
    "tags": ["revenue", "monthly", "report"],
    "schedule": "0 8 1 * *",
    "output_format": "csv",
    "destination": "s3://reports/monthly/",
}
SDK_EXAMPLE = """
    SELECT
        DATE_TRUNC('day', order_date) as date,
        COUNT(*) as order_count,
        SUM(total_amount) as revenue
    FROM gold.fact_orders
    WHERE order_date >= :start_date
    GROUP BY 1
    ORDER BY 1
"""
COUNT = (
    "SELECT count(*) AS n FROM gold.fact_orders "
    "WHERE order_date >= :start_date AND region = :region AND total_amount >= :min_amount"
)
COUNT_PARAMETERS = [
    {"name": "start_date", "type": "date", "default": "2024-01-01", "required": True},
    {"name": "region", "type": "string", "required": True},
    {"name": "min_amount", "type": "decimal", "default": "0"},
]


def spec_file(saved_query_id: str) -> Path:
    return SPECS / f"saved_query__{saved_query_id}.json"


@pytest.fixture(scope="module")
def keys(actors: Actors) -> dict[str, str]:
    return key_set(actors, "saved queries e2e")


def save(c: httpx.Client, **body: Any) -> dict[str, Any]:
    r = c.post(SAVED, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


# -- save, read, delete ------------------------------------------------------------------------


def test_save_the_reference_body(admin: httpx.Client) -> None:
    body = {**REFERENCE_SAVE, "destination": f"file://{EXPORTS}/monthly/"}
    saved = save(admin, **body)
    try:
        assert saved["id"].startswith("sq_") and saved["dag_id"] == f"saved_query__{saved['id']}"
        for field in ("name", "description", "query", "tags", "schedule", "output_format"):
            assert saved[field] == body[field], field
        assert saved["parameters"] == [{**REFERENCE_SAVE["parameters"][0], "description": None}]  # type: ignore[index]
        assert saved["destination"] == f"file://{EXPORTS}/monthly" and saved["database"] == "warehouse"
        assert saved["created_by"] == "admin" and saved["tenant_id"] is None
        assert admin.get(f"{SAVED}/{saved['id']}").json() == saved
        spec = json.loads(spec_file(saved["id"]).read_text())
        assert spec["query"] == body["query"] and spec["schedule"] == "0 8 1 * *"
        assert spec["slug"] == "monthly-revenue-report" and spec["destination"] == saved["destination"]
        assert spec["allowed_schemas"] is None  # a platform admin's query reads every schema
        assert (Path(SESSION_ENV["AIRFLOW_HOME"]) / "dags" / "platform_saved_query_dags.py").is_file()
        # The reference's own destination is accepted as written (S3 needs the workers' S3 extra).
        s3 = save(admin, **{**REFERENCE_SAVE, "name": unique("Monthly Revenue S3")})
        assert s3["destination"] == "s3://reports/monthly"
        assert admin.delete(f"{SAVED}/{s3['id']}").status_code == 204
    finally:
        assert admin.delete(f"{SAVED}/{saved['id']}").status_code == 204
    assert not spec_file(saved["id"]).exists()
    error_of(admin.get(f"{SAVED}/{saved['id']}"), 404, "RESOURCE_NOT_FOUND")
    error_of(admin.delete(f"{SAVED}/{saved['id']}"), 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"query": "DELETE FROM gold.fact_orders WHERE order_date >= :start_date"}, 400, "read-only"),
        ({"query": "SELECT * FROM read_csv('/etc/passwd') WHERE 1 = :start_date"}, 400, "read_csv"),
        ({"query": "SELECT :start_date AS a, :end_date AS b"}, 400, "which parameters does not declare"),
        ({"query": "SELECT 1 AS one"}, 400, "which the query does not use"),
        ({"parameters": [{"name": "start_date", "type": "date", "default": "yesterday"}]}, 400,
         "not a valid date"),
        ({"parameters": [{"name": "start_date", "type": "weird"}]}, 400, "type"),
        ({"parameters": [{"name": "start_date"}, {"name": "start_date"}]}, 400, "declared twice"),
        ({"parameters": [{"name": "start_date", "type": "date", "required": True}]}, 400,
         "give the required parameter :start_date a default"),
        ({"schedule": "every day"}, 400, "cron expression"),
        ({"schedule": "61 * * * *"}, 400, "cron expression"),
        ({"destination": None}, 400, "needs a destination"),
        ({"destination": "ftp://example.com/reports/"}, 400, "file:// or s3://"),
        ({"destination": "reports/monthly/"}, 400, "file:// or s3://"),
        ({"destination": "file:///etc/cron.d/"}, 400, "only go under"),
        ({"destination": f"file://{EXPORTS}/../../dags/"}, 400, "'..'"),
        ({"destination": "s3://key:secret@reports/x"}, 400, "credentials"),
        ({"output_format": "xlsx"}, 400, "output_format"),
        ({"name": "???"}, 400, "letter or digit"),
        ({"unknown_field": 1}, 400, "unknown_field"),
        ({"database": "no_such_connection"}, 404, "no_such_connection"),
    ],
)  # fmt: skip
def test_what_a_save_refuses(admin: httpx.Client, change: dict[str, Any], status: int, needle: str) -> None:
    name = unique("Refused")
    body = {**REFERENCE_SAVE, "name": name, "destination": f"file://{EXPORTS}/refused/", **change}
    r = admin.post(SAVED, json=body)
    error = error_of(r, status, "VALIDATION_ERROR" if status == 400 else "RESOURCE_NOT_FOUND")
    assert needle in json.dumps(error), error
    assert admin.get(SAVED, params={"search": name}).json()["total_entries"] == 0


def test_names_are_unique_per_tenant(alice: httpx.Client, bob: httpx.Client) -> None:
    name = unique("Dup Name")
    first = save(alice, name=name, query="SELECT 1 AS one")
    try:
        again = alice.post(SAVED, json={"name": name.upper() + "!", "query": "SELECT 2 AS two"})
        conflict = error_of(again, 409, "CONFLICT")
        assert conflict["details"]["saved_query_id"] == first["id"]
        other = save(bob, name=name, query="SELECT 1 AS one")  # another tenant: its own names
        assert bob.delete(f"{SAVED}/{other['id']}").status_code == 204
        renamed = save(alice, name=unique("Dup Other"), query="SELECT 1 AS one")
        error_of(alice.patch(f"{SAVED}/{renamed['id']}", json={"name": name}), 409, "CONFLICT")
        assert alice.delete(f"{SAVED}/{renamed['id']}").status_code == 204
    finally:
        alice.delete(f"{SAVED}/{first['id']}")


def test_tenant_walls(actors: Actors, admin: httpx.Client, alice: httpx.Client, bob: httpx.Client) -> None:
    mine = save(alice, name=unique("Team A Report"), query="SELECT count(*) AS n FROM gold.fact_orders",
                schedule="@daily", destination=f"file://{EXPORTS}/team-a/daily/")  # fmt: skip
    try:
        assert json.loads(spec_file(mine["id"]).read_text())["allowed_schemas"] == [
            "bronze",
            "gold",
            "silver",
        ]
        path = f"{SAVED}/{mine['id']}"
        for response in (bob.get(path), bob.patch(path, json={"description": "x"}), bob.delete(path),
                         bob.post(f"{path}/execute", json={})):  # fmt: skip
            error_of(response, 404, "RESOURCE_NOT_FOUND")
        assert mine["id"] not in [
            q["id"] for q in bob.get(SAVED, params={"limit": 1000}).json()["saved_queries"]
        ]
        assert mine["id"] in [
            q["id"] for q in alice.get(SAVED, params={"limit": 1000}).json()["saved_queries"]
        ]
        assert admin.get(path).json()["tenant_id"] == "team-a"  # platform admins see every tenant's
        with actors.client(actors.viewer_key) as viewer:
            error_of(viewer.get(path), 404, "RESOURCE_NOT_FOUND")  # the default tenant's view
            error_of(viewer.post(SAVED, json={"name": "v", "query": "SELECT 1"}), 403, "PERMISSION_DENIED")
        # A tenant exports only into its own folder, and reads only its schemas.
        for folder in ("team-b/daily", "daily", ""):
            refused = error_of(alice.patch(path, json={"destination": f"file://{EXPORTS}/{folder}"}), 400,
                               "VALIDATION_ERROR")  # fmt: skip
            assert f"file://{EXPORTS}/team-a/" in refused["details"]["allowed"]
        error_of(alice.post(SAVED, json={"name": unique("x"), "query": "SELECT * FROM main.secrets"}), 400,
                 "VALIDATION_ERROR")  # fmt: skip
        # An admin editing it keeps the tenant's walls in the export spec.
        assert admin.patch(path, json={"description": "checked by the admin"}).status_code == 200
        assert json.loads(spec_file(mine["id"]).read_text())["allowed_schemas"] == [
            "bronze",
            "gold",
            "silver",
        ]
    finally:
        assert alice.delete(f"{SAVED}/{mine['id']}").status_code == 204
    assert not spec_file(mine["id"]).exists()


# -- execute -----------------------------------------------------------------------------------


def test_execute_types_parameters_applies_defaults_and_enforces_required(admin: httpx.Client) -> None:
    saved = save(admin, name=unique("Orders Count"), query=COUNT, parameters=COUNT_PARAMETERS)
    execute = f"{SAVED}/{saved['id']}/execute"
    try:
        missing = error_of(admin.post(execute, json={}), 400, "VALIDATION_ERROR")
        assert missing["details"]["missing"] == ["region"]
        done = admin.post(execute, json={"parameters": {"region": "EMEA"}})
        assert done.status_code == 200, done.text
        doc = done.json()
        assert doc["status"] == "completed" and doc["query"] == COUNT
        assert doc["parameters"] == {"start_date": {"type": "date", "value": "2024-01-01"}, "region": "EMEA",
                                     "min_amount": {"type": "decimal", "value": "0"}}  # fmt: skip
        direct = run(admin, COUNT, parameters=doc["parameters"])
        assert doc["data"] == direct["data"] and doc["data"][0]["n"] > 0
        later = admin.post(execute, json={"parameters": {"region": "EMEA", "start_date": "2024-07-01",
                                                         "min_amount": "100.00"}}).json()  # fmt: skip
        assert 0 < later["data"][0]["n"] < doc["data"][0]["n"]
        july = {"type": "date", "value": "2024-07-01"}
        typed = admin.post(execute, json={"parameters": {"region": "EMEA", "start_date": july,
                                                         "min_amount": "100.00"}})  # fmt: skip
        assert typed.json()["data"] == later["data"] and typed.json()["metadata"]["cache_hit"] is True
        for params, needle in (
            ({"region": "EMEA", "start_date": "July"}, "not a valid date"),
            ({"region": "EMEA", "min_amount": 1.5}, "decimals as strings"),
            ({"region": "EMEA", "nope": 1}, "Unknown parameter :nope"),
            ({"region": None}, "required parameter :region"),
        ):
            error = error_of(admin.post(execute, json={"parameters": params}), 400, "VALIDATION_ERROR")
            assert needle in error["message"], error
        as_csv = admin.post(execute, params={"format": "csv"}, json={"parameters": {"region": "NA"}})
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert next(csv.reader(io.StringIO(as_csv.text))) == ["n"]
        pending = admin.post(execute, json={"parameters": {"region": "APAC"}, "async": True, "limit": 5})
        assert pending.status_code in (200, 202), pending.text
        final = wait_final(admin, pending.json()["query_id"])
        assert final["status"] == "completed" and final["data"][0]["n"] > 0
        error_of(admin.post(execute, json={"parameters": {"region": "EMEA"}, "limit": 10**9}), 400,
                 "VALIDATION_ERROR")  # the server's caps apply as for any query  # fmt: skip
        history = admin.get("/api/v1/analytics/queries", params={"limit": 20}).json()["queries"]
        assert pending.json()["query_id"] in [q["query_id"] for q in history]
    finally:
        admin.delete(f"{SAVED}/{saved['id']}")


# -- update ------------------------------------------------------------------------------------


def test_patch_rewrites_or_removes_the_export_spec(alice: httpx.Client) -> None:
    saved = save(alice, name=unique("Patched"), query="SELECT count(*) AS n FROM gold.fact_orders",
                 tags=["a"], schedule="@daily", destination=f"file://{EXPORTS}/team-a/patched/")  # fmt: skip
    path = f"{SAVED}/{saved['id']}"
    try:
        assert spec_file(saved["id"]).is_file() and saved["output_format"] == "csv"
        change = {"query": "SELECT count(*) AS n FROM gold.fact_orders WHERE region = :r",
                  "parameters": [{"name": "r", "type": "string", "default": "EMEA"}],
                  "schedule": "0 6 * * 1", "output_format": "parquet", "tags": ["a", "b"]}  # fmt: skip
        r = alice.patch(path, json=change)
        assert r.status_code == 200, r.text
        spec = json.loads(spec_file(saved["id"]).read_text())
        assert (
            spec["schedule"] == "0 6 * * 1" and spec["output_format"] == "parquet" and ":r" in spec["query"]
        )
        assert spec["parameters"][0]["default"] == "EMEA"
        assert r.json()["tags"] == ["a", "b"] and r.json()["updated_by"] == "alice"
        before = alice.get(path).json()
        # A change that breaks the query as a whole changes nothing.
        error_of(alice.patch(path, json={"query": "SELECT :r AS r, :s AS s"}), 400, "VALIDATION_ERROR")
        error_of(alice.patch(path, json={"query": None}), 400, "VALIDATION_ERROR")
        assert alice.get(path).json() == before
        assert json.loads(spec_file(saved["id"]).read_text()) == spec
        off = alice.patch(path, json={"schedule": None})
        assert off.status_code == 200 and off.json()["dag_id"] is None and off.json()["schedule"] is None
        assert not spec_file(saved["id"]).exists()
        assert off.json()["destination"] == f"file://{EXPORTS}/team-a/patched"  # kept for next time
        on = alice.patch(path, json={"schedule": "@hourly"})
        assert on.json()["dag_id"] and json.loads(spec_file(saved["id"]).read_text())["schedule"] == "@hourly"
    finally:
        alice.delete(path)
    assert not spec_file(saved["id"]).exists()


def test_list_filters_and_pages(admin: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:8]
    made = [
        save(admin, name=f"List {marker} {i}", description="number one" if i == 1 else None,
             query="SELECT 1 AS one", tags=["list-" + marker] + (["odd"] if i % 2 else []))
        for i in range(3)
    ]  # fmt: skip
    try:
        listed = admin.get(SAVED, params={"tags": f"list-{marker}"}).json()
        assert [q["name"] for q in listed["saved_queries"]] == [f"List {marker} {i}" for i in range(3)]
        assert listed["total_entries"] == 3
        both = admin.get(SAVED, params=[("tags", f"list-{marker}"), ("tags", "odd")]).json()
        assert [q["id"] for q in both["saved_queries"]] == [made[1]["id"]]
        assert (
            admin.get(SAVED, params={"search": f"{marker} 2"}).json()["saved_queries"][0]["id"]
            == made[2]["id"]
        )
        assert admin.get(SAVED, params={"search": "NUMBER ONE"}).json()["total_entries"] >= 1
        assert admin.get(SAVED, params={"search": "%"}).json()["total_entries"] == 0  # wildcards are literal
        page = admin.get(SAVED, params={"tags": f"list-{marker}", "limit": 1, "offset": 1}).json()
        assert [q["id"] for q in page["saved_queries"]] == [made[1]["id"]] and page["total_entries"] == 3
        error_of(admin.get(SAVED, params={"limit": 0}), 400, "VALIDATION_ERROR")
    finally:
        for q in made:
            admin.delete(f"{SAVED}/{q['id']}")


# -- the reference's SDK calls, and the CLI ----------------------------------------------------


def test_the_reference_sdk_calls(actors: Actors, keys: dict[str, str], tmp_path: Path) -> None:
    client = PlatformClient(base_url=actors.base_url, api_key=keys["alice"])
    result = client.analytics.query(SDK_EXAMPLE, parameters={"start_date": "2024-01-01"})
    name = unique("Daily Revenue")
    saved_query = client.analytics.save_query(
        name=name, query=result.query, parameters=result.parameters, tags=["revenue", "daily"]
    )
    try:
        assert (
            saved_query.parameters[0].name == "start_date"
            and saved_query.parameters[0].default == "2024-01-01"
        )
        assert saved_query.created_by == "alice" and saved_query.tenant_id == "team-a"
        result2 = client.analytics.execute_saved_query(
            saved_query.id, parameters={"start_date": "2024-02-01"}
        )
        assert result2.status == "completed" and result2.parameters == {"start_date": "2024-02-01"}
        assert 0 < (result2.rows_returned or 0) < (result.rows_returned or 0)
        assert str(result2.data[0]["date"]).startswith("2024-02-01")  # type: ignore[index]
        assert [q.id for q in client.analytics.list_saved_queries(tags=["daily"], search=name)] == [
            saved_query.id
        ]
        updated = client.analytics.update_saved_query(saved_query.id, description="from the SDK")
        assert updated.description == "from the SDK" and client.analytics.get_saved_query(saved_query.id).tags
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "AIRFLOW_PLATFORM_URL": actors.base_url,
               "AIRFLOW_PLATFORM_API_KEY": keys["alice"]}  # fmt: skip
        cli = str(Path(sys.executable).parent / "airflow-cli")
        out = subprocess.run([cli, "analytics", "saved", "run", saved_query.id, "-p", "start_date=2024-12-30",
                              "--format", "json"], env=env, capture_output=True, text=True, timeout=60,
                             check=False)  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert "2024-12-30" in out.stdout and "2024-12-29" not in out.stdout
    finally:
        client.analytics.delete_saved_query(saved_query.id)
    with pytest.raises(Exception, match="not found"):
        client.analytics.get_saved_query(saved_query.id)


# -- tenants -----------------------------------------------------------------------------------


def test_features_and_a_forced_tenant_delete(actors: Actors, admin: httpx.Client) -> None:
    tenant = f"sq-{uuid.uuid4().hex[:6]}"
    r = admin.post("/api/v1/platform/tenants", json={"tenant_id": tenant, "display_name": "Saved queries"})
    assert r.status_code == 201, r.text
    with actors.client(actors.admin_key, **{"X-Tenant-ID": tenant}) as in_tenant:
        saved = save(in_tenant, name="Tenant Export", query="SELECT 1 AS one", schedule="@daily",
                     destination=f"file://{EXPORTS}/{tenant}/")  # fmt: skip
        assert saved["tenant_id"] == tenant and spec_file(saved["id"]).is_file()
        assert (
            admin.patch(
                f"/api/v1/platform/tenants/{tenant}", json={"features": {"analytics": False}}
            ).status_code
            == 200
        )
        error_of(in_tenant.get(SAVED), 403, "PERMISSION_DENIED")
        error_of(in_tenant.post(f"{SAVED}/{saved['id']}/execute", json={}), 403, "PERMISSION_DENIED")
    owned = error_of(admin.delete(f"/api/v1/platform/tenants/{tenant}"), 409, "CONFLICT")
    assert owned["details"]["owned"] == {"saved_queries": 1}
    assert admin.delete(f"/api/v1/platform/tenants/{tenant}", params={"force": "true"}).status_code == 204
    assert not spec_file(saved["id"]).exists()
    error_of(admin.get(f"{SAVED}/{saved['id']}"), 404, "RESOURCE_NOT_FOUND")


def test_execute_counts_as_an_analytics_query(alice: httpx.Client) -> None:
    saved = save(alice, name=unique("Budget"), query="SELECT 1 AS one")
    try:
        r = alice.post(f"{SAVED}/{saved['id']}/execute", json={})
        assert r.status_code == 200 and r.json()["data"] == [{"one": 1}]
        budget = alice.post(QUERY, json={"query": "SELECT 2 AS two"})
        assert int(budget.headers["X-RateLimit-Remaining"]) == int(r.headers["X-RateLimit-Remaining"]) - 1
    finally:
        alice.delete(f"{SAVED}/{saved['id']}")
