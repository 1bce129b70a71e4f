"""The Airflow 3 bridge from ASGI to the platform's Flask app: finished answers in one go, streams
chunk by chunk, request bodies whole or as they come. Driven with raw ASGI messages, so what the
bridge sends is seen exactly as the server would get it (the end-to-end suites run it under the
real Airflow 3 server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from flask import Flask, Response, request

from airflow_platform.api.wsgi_bridge import BUFFER_BODY_BYTES, WSGIBridge, mark_buffered

closed: list[str] = []


def _app() -> Flask:
    app = Flask("bridge-test")

    @app.post("/echo")
    def echo() -> Response:
        data = request.get_data()
        return Response(data[:16] + b"|" + str(len(data)).encode(), mimetype="text/plain")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            try:
                for i in range(5):
                    yield f"chunk{i};".encode()
            finally:
                closed.append("stream")

        return Response(chunks(), mimetype="text/plain", headers={"X-Kind": "stream"})

    @app.get("/fails-midway")
    def fails_midway() -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"first"
            raise RuntimeError("the producer broke")

        return Response(chunks(), mimetype="text/plain")

    app.after_request(mark_buffered)
    return app


def _call(
    bridge: WSGIBridge, method: str, path: str, parts: list[bytes], headers: list[tuple[bytes, bytes]]
) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    incoming = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(bridge(scope, receive, send))
    return sent


@pytest.fixture(scope="module")
def bridge() -> WSGIBridge:
    return WSGIBridge(_app(), workers=2)


def test_a_finished_answer_goes_in_one_body_message(bridge: WSGIBridge) -> None:
    body = b'{"query": "SELECT 1"}'
    sent = _call(bridge, "POST", "/echo", [body], [(b"content-length", str(len(body)).encode())])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/plain")
    assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()
    assert sent[1]["body"] == body[:16] + b"|" + str(len(body)).encode()
    assert not sent[1].get("more_body", False)


@pytest.mark.parametrize(
    ("parts", "headers"),
    [
        ([b"a" * 1000, b"b" * 1000], [(b"content-length", b"2000")]),
        (
            [b"c" * (BUFFER_BODY_BYTES // 2)] * 3,
            [(b"content-length", str(3 * (BUFFER_BODY_BYTES // 2)).encode())],
        ),
        ([b"d" * 700, b"e" * 300], [(b"transfer-encoding", b"chunked")]),
    ],
    ids=["small-in-pieces", "larger-than-buffered", "chunked"],
)
def test_request_bodies_arrive_whole(
    bridge: WSGIBridge, parts: list[bytes], headers: list[tuple[bytes, bytes]]
) -> None:
    whole = b"".join(parts)
    sent = _call(bridge, "POST", "/echo", parts, headers)
    assert sent[-1]["body"] == whole[:16] + b"|" + str(len(whole)).encode()


def test_a_post_without_a_body_reads_none(bridge: WSGIBridge) -> None:
    sent = _call(bridge, "POST", "/echo", [], [])
    assert sent[-1]["body"] == b"|0"


def test_a_stream_is_sent_chunk_by_chunk_and_closed(bridge: WSGIBridge) -> None:
    closed.clear()
    sent = _call(bridge, "GET", "/stream", [], [])
    assert sent[0]["type"] == "http.response.start" and dict(sent[0]["headers"])[b"x-kind"] == b"stream"
    bodies = sent[1:]
    assert [m["body"] for m in bodies] == [f"chunk{i};".encode() for i in range(5)] + [b""]
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1].get("more_body", False)
    assert closed == ["stream"]


def test_a_stream_that_breaks_midway_is_cut_off(bridge: WSGIBridge) -> None:
    """After the first bytes there is no status left to change: the answer must end unfinished
    (the server then drops the connection), never look complete."""
    with pytest.raises(RuntimeError, match="the producer broke"):
        _call(bridge, "GET", "/fails-midway", [], [])


def test_errors_before_the_answer_are_answered_by_flask(bridge: WSGIBridge) -> None:
    sent = _call(bridge, "GET", "/nowhere", [], [])
    assert sent[0]["status"] == 404 and b"Not Found" in b"".join(m.get("body", b"") for m in sent[1:])
