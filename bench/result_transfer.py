"""What fetching a large result over HTTP costs, as Arrow and as JSON, against DuckDB in-process.

Starts a real Airflow server (the default version's api-server/webserver) on a fresh SQLite home
with a 1M-row, 4-column warehouse table, then times, in alternating rounds:

* in-process: ``relation.arrow()`` of ``SELECT * FROM gold.transfer`` on a read-only DuckDB
  connection, read fully into a ``pyarrow.Table``;
* Arrow over HTTP: ``POST /api/v1/analytics/query`` with ``Accept: application/vnd.apache.arrow.stream``
  and ``Accept-Encoding: gzip`` (the server must not gzip Arrow; DuckDB's batches are written to
  the result file as they come, and a result done within the server's grace time is answered
  whole from it, with its length), read with the standard library's ``http.client``
  (keep-alive) and decoded into a ``pyarrow.Table``. The same through ``httpx`` is printed too:
  httpx reads a 33 MB body in 64 KB pieces and takes about twice as long;
* Arrow of the stored result only (``GET .../query/{id}?format=arrow``): the transfer alone;
* JSON over HTTP: the same query answered as the JSON document, parsed by the client.

Then, as a floor: the same Arrow bytes read by ``http.client`` from a socket whose sender has them
ready (`client_floor`), with a length and chunked. Prints the JSON ratio, then
``arrow_transfer_ratio`` (median HTTP ÷ median in-process) last.
Goal for Arrow ≤ 2.0. The result cache is off, so every request runs the query.

    make bench NAME=result_transfer
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

from airflow_platform.analytics.access import open_for_writing

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
SQL = "SELECT * FROM gold.transfer"
ARROW = "application/vnd.apache.arrow.stream"


def build(path: str) -> None:
    with open_for_writing(path) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS gold")
        con.execute(
            f"""
            CREATE OR REPLACE TABLE gold.transfer AS
            SELECT range AS id, (range % 1000)::INTEGER AS k, (range * 0.5)::DOUBLE AS v,
                   'name ' || (range % 10000) AS s
            FROM range({ROWS})
            """
        )


def client_floor(body: bytes, rounds: int) -> tuple[float, float]:
    """What the client alone costs: ``http.client`` reading `body` from a loopback socket whose
    sender has the whole answer ready (one ``sendall`` from a thread, no Python per byte), with a
    Content-Length and chunked in 64 KiB pieces. No server can answer faster than this here."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apache.arrow.stream\r\n"
    answers = {
        "/known": head + b"Content-Length: %d\r\n\r\n" % len(body) + body,
        "/chunked": head
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
            for i in range(0, len(body), 65536)
        )
        + b"0\r\n\r\n",
    }
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, connection.makefile("rb") as incoming:
            while line := incoming.readline():
                path = line.split()[1].decode()
                while incoming.readline() not in (b"\r\n", b""):
                    pass
                connection.sendall(answers[path])

    threading.Thread(target=serve, daemon=True).start()
    client = http.client.HTTPConnection("127.0.0.1", listener.getsockname()[1], timeout=60)
    times: dict[str, list[float]] = {"/known": [], "/chunked": []}
    for round_ in range(rounds + 1):
        for path, values in times.items():
            start = time.perf_counter()
            client.request("GET", path)
            assert len(client.getresponse().read()) == len(body)
            if round_:  # the first round warms up
                values.append(time.perf_counter() - start)
    client.close()
    listener.close()
    return statistics.median(times["/known"]), statistics.median(times["/chunked"])


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    port = harness.free_port()
    env = {
        **harness.airflow_env(home, port=port),
        "AIRFLOW__PLATFORM__RATE_LIMIT_QUERY": "100000000/hour",
        "AIRFLOW__PLATFORM__ANALYTICS_CACHE_TTL_SECONDS": "0",
    }
    os.environ.update(env)
    harness.prepare_airflow_home(env)
    key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench")
    warehouse = env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]
    build(warehouse)
    body = {"query": SQL, "limit": ROWS, "timeout_seconds": 300}
    arrow_headers = {
        "X-API-Key": key,
        "Accept": ARROW,
        "Accept-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    with (
        harness.running_server(env, port, home) as server,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=300) as client,
        duckdb.connect(warehouse, read_only=True) as local,
    ):
        stdlib = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        last_id: list[str] = []
        stored_body: list[bytes] = []

        def in_process() -> pa.Table:
            return local.sql(SQL).arrow().read_all()

        def arrow_http() -> pa.Table:
            stdlib.request("POST", "/api/v1/analytics/query", body=orjson.dumps(body), headers=arrow_headers)
            response = stdlib.getresponse()
            data = response.read()
            assert response.status == 200, data[:300]
            assert response.getheader("Content-Encoding", "identity") == "identity"
            last_id[:] = [str(response.getheader("X-Query-Id"))]
            return pa.ipc.open_stream(data).read_all()

        def arrow_httpx() -> pa.Table:
            response = client.post("/api/v1/analytics/query", json=body, headers={"Accept": ARROW})
            response.raise_for_status()
            return pa.ipc.open_stream(response.content).read_all()

        def settle() -> None:
            """A streamed answer ends with its last byte; its row says completed once the result
            file is in place (moments later): wait for that, untimed, before fetching the file."""
            while True:
                stdlib.request(
                    "GET", f"/api/v1/analytics/query/{last_id[0]}?limit=1", headers={"X-API-Key": key}
                )
                response = stdlib.getresponse()
                if orjson.loads(response.read())["status"] != "running":
                    return
                time.sleep(0.01)

        def stored_arrow() -> pa.Table:
            stdlib.request("GET", f"/api/v1/analytics/query/{last_id[0]}?format=arrow", headers=arrow_headers)
            response = stdlib.getresponse()
            stored_body[:] = [response.read()]
            return pa.ipc.open_stream(stored_body[0]).read_all()

        def json_http() -> list[dict[str, object]]:
            response = client.post("/api/v1/analytics/query", json=body)
            response.raise_for_status()
            return list(orjson.loads(response.content)["data"])

        warm = (in_process, arrow_http, arrow_httpx, stored_arrow)
        for fn in warm:  # the file's pages, imports, connections
            if fn is stored_arrow:
                settle()
            assert fn().num_rows == ROWS
        assert len(json_http()) == ROWS
        timings: dict[str, list[float]] = {fn.__name__: [] for fn in (*warm, json_http)}
        for _ in range(ROUNDS):
            for fn in (*warm, json_http):
                if fn is stored_arrow:
                    settle()
                start = time.perf_counter()
                fn()
                timings[fn.__name__].append(time.perf_counter() - start)
        stdlib.close()
    median = {name: statistics.median(values) for name, values in timings.items()}
    local_, arrow_, json_ = median["in_process"], median["arrow_http"], median["json_http"]
    answer = stored_body[0]
    known, chunked = client_floor(answer, ROUNDS)
    print(f"{ROWS:,} rows x 4 columns (median of {ROUNDS} rounds, cache off):")
    print(f"  in-process DuckDB .arrow() read fully:       {local_ * 1e3:.1f} ms")
    print(f"  Arrow IPC stream over HTTP, decoded:         {arrow_ * 1e3:.1f} ms (http.client)")
    print(f"                                               {median['arrow_httpx'] * 1e3:.1f} ms (httpx)")
    print(f"  of which sending the stored result (a GET):  {median['stored_arrow'] * 1e3:.1f} ms")
    print(f"  JSON over HTTP, parsed:                      {json_ * 1e3:.1f} ms")
    print(f"the same {len(answer) / 1e6:.0f} MB from a socket that holds them ready, read by http.client:")
    print(f"  with its length: {known * 1e3:.1f} ms ({known / local_:.2f}x in-process), "
          f"chunked (64 KiB): {chunked * 1e3:.1f} ms ({chunked / local_:.2f}x)")  # fmt: skip
    print(f"json_transfer_ratio: {json_ / local_:.3f}")
    print(f"arrow_transfer_ratio: {arrow_ / local_:.3f}")


if __name__ == "__main__":
    main()
