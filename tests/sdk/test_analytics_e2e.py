"""``client.analytics`` against the real server's Analytics Query API."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.e2e.conftest import Actors

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("warehouse")]
TWO_ROWS = "SELECT 1 AS x, 'a' AS label UNION ALL SELECT 2, 'b' ORDER BY x"


def test_queries_with_the_sdk(actors: Actors) -> None:
    with PlatformClient(actors.base_url, api_key=actors.alice_key) as client:
        sql = "SELECT 42 AS answer, :who AS who, :day AS day"
        result = client.analytics.query(sql, parameters={"who": "alice", "day": dt.date(2024, 1, 1)})
        assert result.status == "completed" and result.rows_returned == 1
        assert result.data is not None and result.data[0]["answer"] == 42 and result.data[0]["who"] == "alice"
        assert str(result.data[0]["day"]).startswith("2024-01-01")
        assert result.query == sql and result.parameters["who"] == "alice"

        with pytest.raises(exc.ValidationError):
            client.analytics.query("DROP TABLE gold.dim_customer")
        with pytest.raises(exc.ValidationError):
            client.analytics.query("SELECT :missing AS m")

        pending = client.analytics.query(TWO_ROWS, run_async=True, wait=False)
        assert pending.query_id.startswith("q") and pending.status in ("queued", "running", "completed")
        done = pending.wait(timeout=60, poll_interval=0.2)
        assert done.status == "completed" and [r["x"] for r in done.data or []] == [1, 2]

        again = client.analytics.get(done.query_id, offset=1, limit=1)
        assert [r["label"] for r in again.data or []] == ["b"]
        table = done.to_arrow()
        assert table.num_rows == 2 and table.column("label").to_pylist() == ["a", "b"]
        csv = client.analytics.download(done.query_id, format="csv").decode()
        assert csv.splitlines()[0].replace('"', "") == "x,label" and len(csv.splitlines()) == 3

        assert client.analytics.cancel(done.query_id).status == "completed", "a finished query stays finished"
        assert done.query_id in [q.query_id for q in client.analytics.history(limit=50).queries]

    with (
        PlatformClient(actors.base_url, api_key=actors.bob_key) as bob,
        pytest.raises(exc.ResourceNotFoundError),
    ):
        bob.analytics.get(done.query_id)

    async def async_query() -> list[dict[str, object]]:
        async with AsyncPlatformClient(actors.base_url, api_key=actors.alice_key) as aclient:
            got = await aclient.analytics.query(TWO_ROWS)
            return got.data or []

    assert [r["x"] for r in asyncio.run(async_query())] == [1, 2]
