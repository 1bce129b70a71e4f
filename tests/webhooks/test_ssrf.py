"""SSRF: hostile webhook URLs never receive a request (issue 8: ">= 50 hostile URLs ... never receive a
request").

Real receivers listen on loopback (127.0.0.1, 127.0.0.2, 127.1.2.3 and ``::1`` when the kernel has
IPv6) on real ports; every hostile URL below is a spelling that points at one of them, or at a
private/link-local range that cannot route here. ``check_url`` must refuse each with a clear message,
``WebhookSender.send`` must refuse each without opening a connection, and at the end the hostile
receivers must have recorded zero requests. A control test shows that a naive client (urllib) does
reach them through many of these spellings, so the zero is meaningful.

Two things are patched, both at the socket boundary and nowhere inside the code under test:
* ``socket.create_connection`` (what httpx's connection pool calls) is wrapped to record every
  connection the sender opens and to refuse any non-loopback one, so no test can send traffic off
  this machine even if the guard were broken;
* ``socket.getaddrinfo`` is replaced by ``FakeDNS`` for the made-up names of the DNS-rebinding and
  name-based tests (other names go to the real resolver).
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from airflow_platform.webhooks.sender import MAX_RESPONSE_BYTES, WebhookSender
from airflow_platform.webhooks.signing import new_secret, signed_headers
from airflow_platform.webhooks.url_guard import AllowList, UnsafeURLError, check_url
from tests.webhooks.receivers import FakeDNS, Receiver, ipv6_loopback_available

HAS_IPV6 = ipv6_loopback_available()
BODY = b'{"event": "webhook.test", "timestamp": "2024-01-01T00:00:00Z", "data": {}}'
PUBLIC = "93.184.215.14"  # only ever a fake DNS answer or a literal checked without sending


def _loopback_names() -> list[tuple[str, str]]:
    """Names /etc/hosts maps to loopback (e.g. ip6-localhost), as (name, "4" or "6")."""
    names: list[tuple[str, str]] = []
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            ip = ipaddress.ip_address(fields[0])
        except ValueError:
            continue
        if ip.is_loopback:
            names += [(name, str(ip.version)) for name in fields[1:] if name.lower() != "localhost"]
    return names


# {p}: the hostile receiver on 127.0.0.1; {p2}: on 127.0.0.2; {p3}: on 127.1.2.3; {p6}: on [::1].
HOSTILE: list[str] = [
    # IPv4 loopback, literally and in every spelling inet_aton and browsers accept
    "http://127.0.0.1:{p}/",
    "https://127.0.0.1:{p}/",
    "HTTP://127.0.0.1:{p}/hook",
    "http://2130706433:{p}/",
    "http://0x7f000001:{p}/",
    "http://0X7F000001:{p}/",
    "http://017700000001:{p}/",
    "http://0177.0.0.1:{p}/",
    "http://0177.0000.0000.0001:{p}/",
    "http://0x7f.0.0.1:{p}/",
    "http://0x7f.0x0.0x0.0x1:{p}/",
    "http://0x7f.1:{p}/",
    "http://127.1:{p}/",
    "http://127.0.1:{p}/",
    "http://127.000.000.001:{p}/",
    "http://127.0.0.1.:{p}/",
    "http://2130706433.:{p}/",
    "http://0:{p}/",
    "http://0.0.0.0:{p}/",
    "http://00000000:{p}/",
    "http://0x0:{p}/",
    # IPv6 spellings of IPv4 loopback
    "http://[::ffff:127.0.0.1]:{p}/",
    "http://[::ffff:7f00:1]:{p}/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
    "http://[0000:0000:0000:0000:0000:ffff:7f00:0001]:{p}/",
    "http://[::ffff:0:127.0.0.1]:{p}/",
    "http://[::127.0.0.1]:{p}/",
    "http://[::7f00:1]:{p}/",
    "http://[64:ff9b::127.0.0.1]:{p}/",
    "http://[2002:7f00:1::1]:{p}/",
    # names that resolve to loopback
    "http://localhost:{p}/",
    "http://LOCALHOST:{p}/",
    "http://LocalHost:{p}/",
    "http://localhost.:{p}/",
    "http://%6c%6f%63%61%6c%68%6f%73%74:{p}/",
    "http://127.0.0.%31:{p}/",
    "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{p}/",  # fullwidth "localhost"
    "http://127。0。0。1:{p}/",
    "http://①②⑦.0.0.1:{p}/",
    # parser confusion: userinfo, fragments, backslashes, whitespace, missing slashes
    "http://public.example@127.0.0.1:{p}/",
    "http://public.example:80@127.0.0.1:{p}/",
    "http://user:pass@localhost:{p}/",
    "http://127.0.0.1:{p}#@public.example/",
    "http://127.0.0.1:{p}?@public.example/",
    "http://127.0.0.1:{p}\\@public.example/",
    "http://public.example\\@127.0.0.1:{p}/",
    "http://127.0.0.1:{p}%2f@public.example/",
    "http://public.example%40127.0.0.1:{p}/",
    "http:127.0.0.1:{p}/",
    "http:/127.0.0.1:{p}/",
    "http:\\\\127.0.0.1:{p}/",
    "//127.0.0.1:{p}/",
    " http://127.0.0.1:{p}/",
    "http://127.0.0.1:{p}/\r\nX-Injected: 1",
    "http://127.0.0.1\t:{p}/",
    "http://127.0.0.1:0{p}/",
    "http://127.0.0.1:{p}:{p}/",
    # the rest of 127/8
    "http://127.0.0.2:{p2}/",
    "http://0x7f000002:{p2}/",
    "http://[::ffff:127.0.0.2]:{p2}/",
    "http://127.1.2.3:{p3}/",
    "http://2130772483:{p3}/",
    # IPv6 loopback and unspecified
    "http://[::1]:{p6}/",
    "http://[0:0:0:0:0:0:0:1]:{p6}/",
    "http://[0000::1]:{p6}/",
    "http://[::0:1]:{p6}/",
    "http://[::1%25lo]:{p6}/",
    "http://[::]:{p6}/",
    "http://[::0]:{p6}/",
    # private, link-local, metadata and other non-public ranges (cannot route here: refused anyway)
    "http://10.0.0.1/",
    "http://10.255.255.254:8080/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.1/",
    "http://192.168.1.1:8443/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://100.64.0.1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://198.18.0.1/",
    "http://192.0.0.170/",
    "http://192.0.2.1/",
    "http://198.51.100.1/",
    "http://203.0.113.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[100::1]/",
]
HOSTILE += [f"http://{name}:{{p{'6' if v == '6' else ''}}}/" for name, v in _loopback_names()]


def needs_ipv6(template: str) -> bool:
    return "{p6}" in template


@pytest.fixture(scope="module")
def hostile() -> Iterator[dict[str, Receiver]]:
    receivers = {"p": Receiver("127.0.0.1"), "p2": Receiver("127.0.0.2"), "p3": Receiver("127.1.2.3")}
    if HAS_IPV6:
        receivers["p6"] = Receiver("::1")
    for receiver in receivers.values():
        receiver.start()
    yield receivers
    for receiver in receivers.values():
        receiver.stop()


@pytest.fixture(scope="module")
def ports(hostile: dict[str, Receiver]) -> dict[str, int]:
    return {key: rx.port for key, rx in hostile.items()} | ({} if HAS_IPV6 else {"p6": 9})


class Connections:
    """Every TCP connection the code under test opens; non-loopback ones are refused."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []
        self._real = socket.create_connection

    def __call__(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = str(address[0]), int(address[1])
        self.opened.append((host, port))
        if not ipaddress.ip_address(host.split("%", 1)[0]).is_loopback:
            raise OSError(f"the test refuses a connection to {host}:{port} (loopback only)")
        return self._real(address, *args, **kwargs)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    spy = Connections()
    monkeypatch.setattr(socket, "create_connection", spy)
    return spy


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(scope="module")
def bystander() -> Iterator[Receiver]:
    """An allow-listed receiver (127.0.0.1 at its own port) that hostile URLs must not reach either."""
    with Receiver("127.0.0.1") as receiver:
        yield receiver


@pytest.fixture
def allowed() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 that tests allow-list by address and port."""
    with Receiver("127.0.0.1") as receiver:
        yield receiver


def headers_for(secret: str, msg_id: str = "msg_ssrf") -> dict[str, str]:
    return signed_headers([secret], msg_id, int(time.time()), BODY)


def assert_hostile_untouched(hostile: dict[str, Receiver]) -> None:
    got = {key: [(r.method, r.path) for r in rx.requests] for key, rx in hostile.items() if rx.requests}
    assert got == {}


# --- >= 50 hostile URLs ----------------------------------------------------------------------


def test_there_are_at_least_50_hostile_urls() -> None:
    assert len(set(HOSTILE)) == len(HOSTILE) >= 50


@pytest.mark.parametrize("restricted", [False, True], ids=["no-allow-list", "other-port-allow-listed"])
@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_url_is_refused_by_the_guard_and_the_sender(
    template: str,
    restricted: bool,
    hostile: dict[str, Receiver],
    ports: dict[str, int],
    bystander: Receiver,
    connections: Connections,
) -> None:
    """Refused with a clear message; the sender opens no connection. With ``restricted``, loopback
    IS allow-listed, but on another port (that of the ``bystander`` receiver): the port must match."""
    if needs_ipv6(template) and not HAS_IPV6:
        pytest.skip("this kernel has no IPv6 loopback (::1)")
    url = template.format(**ports)
    allow = AllowList()
    if restricted:
        allow = AllowList.parse(f"127.0.0.1:{bystander.port}, [::1]:{bystander.port}")

    with pytest.raises(UnsafeURLError) as info:
        check_url(url, allowed=allow)
    message = info.value.message
    assert message.startswith(("url ", "could not resolve url host")), message
    assert info.value.status == 400

    with WebhookSender(timeout=5, allowed=allow) as sender:
        result = sender.send(url, BODY, headers_for(new_secret()))
    assert result.error == message
    assert (result.response_status, result.address, result.response_body) == (None, None, None)
    assert connections.opened == []
    assert bystander.requests == []
    assert_hostile_untouched(hostile)


def test_a_naive_client_reaches_the_receivers_through_these_spellings() -> None:
    """The control: urllib (no guard) gets through many of the same spellings to a receiver like
    the hostile ones, so the hostile receivers' zero count means the guard held, not that they
    were unreachable."""
    with Receiver("127.0.0.1") as control:
        spellings = [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "0.0.0.0",
            "localhost",
            "LOCALHOST",
            "[::ffff:127.0.0.1]",
        ]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        reached = []
        for host in spellings:
            try:
                with opener.open(f"http://{host}:{control.port}/", timeout=10) as response:
                    response.read()
                reached.append(host)
            except OSError:
                pass
        assert len(control.requests) == len(reached)
        assert {"127.0.0.1", "2130706433", "0x7f000001", "127.1", "0.0.0.0", "localhost"} <= set(reached)


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_a_hostile_receiver_is_not_followed(
    status: int, hostile: dict[str, Receiver], allowed: Receiver, connections: Connections
) -> None:
    target = hostile["p2"].url("/stolen")
    allowed.status, allowed.redirect_to = status, target
    with WebhookSender(timeout=5, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:
        result = sender.send(allowed.url("/hook"), BODY, headers_for(new_secret()))
    assert result.response_status == status
    assert result.error == f"redirect not followed: HTTP {status} to {target}"
    assert not result.ok
    assert [r.path for r in allowed.requests] == ["/hook"]
    assert connections.opened == [("127.0.0.1", allowed.port)]
    assert_hostile_untouched(hostile)


def test_a_redirect_to_an_allowed_url_is_not_followed_either(
    allowed: Receiver, connections: Connections
) -> None:
    allowed.redirect_to = allowed.url("/elsewhere")
    with WebhookSender(timeout=5, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:
        result = sender.send(allowed.url("/hook"), BODY, headers_for(new_secret()))
    assert result.error is not None
    assert result.error.startswith("redirect not followed: HTTP 302")
    assert [r.path for r in allowed.requests] == ["/hook"]


# --- DNS rebinding ---------------------------------------------------------------------------


def test_rebinding_after_the_create_time_check_is_caught_at_send_time(
    dns: FakeDNS, hostile: dict[str, Receiver], connections: Connections
) -> None:
    """The name is public when the webhook is created, loopback when a delivery goes out."""
    dns["rebind.example.com"] = lambda n: [PUBLIC] if n == 1 else ["127.0.0.1"]
    url = f"http://rebind.example.com:{hostile['p'].port}/hook"
    assert check_url(url, allowed=AllowList()).addresses == (PUBLIC,)  # create time: accepted

    with WebhookSender(timeout=5, allowed=AllowList()) as sender:
        result = sender.send(url, BODY, headers_for(new_secret()))
    assert result.error == (
        "url resolves to 127.0.0.1, a non-public address (loopback, via host 'rebind.example.com'); "
        "list it in [platform] webhook_allowed_hosts to allow it"
    )
    assert dns.lookups("rebind.example.com") == 2
    assert connections.opened == []
    assert_hostile_untouched(hostile)


def test_a_public_answer_mixed_with_loopback_is_refused(
    dns: FakeDNS, hostile: dict[str, Receiver], connections: Connections
) -> None:
    dns["mixed.example.com"] = [PUBLIC, "127.0.0.1"]
    url = f"http://mixed.example.com:{hostile['p'].port}/"
    with pytest.raises(UnsafeURLError, match=r"url resolves to 127\.0\.0\.1, a non-public address"):
        check_url(url, allowed=AllowList())
    with WebhookSender(timeout=5, allowed=AllowList()) as sender:
        assert sender.send(url, BODY, headers_for(new_secret())).error is not None
    assert connections.opened == []
    assert_hostile_untouched(hostile)


def test_the_sender_connects_to_the_address_it_checked_not_a_fresh_lookup(
    dns: FakeDNS, allowed: Receiver, connections: Connections
) -> None:
    """The name answers the allow-listed 127.0.0.1 to the guard, and 127.0.0.2 to any later lookup,
    where a twin receiver listens on the same port: it must get nothing."""
    with Receiver("127.0.0.2", port=allowed.port) as twin:
        dns["pinned.example.com"] = lambda n: ["127.0.0.1"] if n == 1 else ["127.0.0.2"]
        with WebhookSender(timeout=5, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:
            result = sender.send(
                f"http://pinned.example.com:{allowed.port}/hook", BODY, headers_for(new_secret())
            )
        assert result.ok, result.error
        assert result.address == "127.0.0.1"
        assert dns.lookups("pinned.example.com") == 1  # the guard's; httpx got an IP, not the name
        assert connections.opened == [("127.0.0.1", allowed.port)]
        [request] = allowed.requests
        assert request.headers["host"] == f"pinned.example.com:{allowed.port}"
        assert twin.requests == []


# --- what an allow-listed receiver gets ------------------------------------------------------


def test_an_allow_listed_receiver_gets_a_correctly_signed_request(
    allowed: Receiver, connections: Connections
) -> None:
    secret, previous = new_secret(), new_secret()
    headers = signed_headers([secret, previous], "msg_2b9Fj", int(time.time()), BODY)
    headers |= {"X-Team": "data-eng", "Host": "evil.example", "Content-Length": "1"}
    with WebhookSender(timeout=5, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:
        result = sender.send(allowed.url("/hooks/airflow?source=platform"), BODY, headers)
    assert result.ok
    assert (result.response_status, result.response_body, result.address) == (
        200,
        '{"ok": true}',
        "127.0.0.1",
    )
    assert result.duration_ms > 0
    [request] = allowed.requests
    assert (request.method, request.path, request.body) == ("POST", "/hooks/airflow?source=platform", BODY)
    assert request.headers["host"] == f"127.0.0.1:{allowed.port}"  # the caller cannot override Host
    assert request.headers["content-length"] == str(len(BODY))
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("airflow-platform-webhooks/")
    assert request.headers["x-team"] == "data-eng"
    assert request.headers["webhook-id"] == "msg_2b9Fj"
    assert Webhook(secret).verify(request.body, request.headers)["event"] == "webhook.test"
    assert Webhook(previous).verify(request.body, request.headers)["event"] == "webhook.test"


def test_an_allow_listed_name_keeps_its_host_header(
    dns: FakeDNS, allowed: Receiver, connections: Connections
) -> None:
    dns["hooks.internal"] = ["127.0.0.1"]
    with WebhookSender(timeout=5, allowed=AllowList.parse("hooks.internal")) as sender:
        result = sender.send(f"http://Hooks.Internal:{allowed.port}/in", BODY, headers_for(new_secret()))
    assert result.ok, result.error
    assert allowed.requests[0].headers["host"] == f"hooks.internal:{allowed.port}"


def test_the_next_checked_address_is_tried_when_one_refuses_connections(
    dns: FakeDNS, allowed: Receiver, connections: Connections
) -> None:
    """Nothing listens on 127.0.0.3 at the allowed receiver's port: connection refused, next one."""
    dns["multi.internal"] = ["127.0.0.3", "127.0.0.1"]
    with WebhookSender(timeout=5, allowed=AllowList.parse("multi.internal")) as sender:
        result = sender.send(f"http://multi.internal:{allowed.port}/", BODY, headers_for(new_secret()))
    assert result.ok, result.error
    assert result.address == "127.0.0.1"
    assert connections.opened == [("127.0.0.3", allowed.port), ("127.0.0.1", allowed.port)]


def test_failures_are_results_not_exceptions(allowed: Receiver, connections: Connections) -> None:
    allow = AllowList.parse(f"127.0.0.1:{allowed.port}, 127.0.0.4")
    with WebhookSender(timeout=5, allowed=allow) as sender:
        allowed.status, allowed.body = 500, b"x" * (10 * MAX_RESPONSE_BYTES)
        failed = sender.send(allowed.url("/"), BODY, headers_for(new_secret()))
        assert (failed.response_status, failed.error) == (500, "HTTP 500 Internal Server Error")
        assert failed.response_body == "x" * MAX_RESPONSE_BYTES

        allowed.status, allowed.body = 204, b""
        assert sender.send(allowed.url("/"), BODY, headers_for(new_secret())).response_status == 204

        with socket.socket() as probe:
            probe.bind(("127.0.0.4", 0))
            free_port = probe.getsockname()[1]
        refused = sender.send(f"http://127.0.0.4:{free_port}/", BODY, headers_for(new_secret()))
        assert refused.response_status is None
        assert refused.error is not None
        assert refused.error.startswith(f"could not connect to 127.0.0.4:{free_port}")

        refused_header = sender.send(allowed.url("/"), BODY, {"X-Bad": "a\r\nInjected: 1"})
        assert refused_header.error is not None

    with WebhookSender(timeout=0.3, allowed=allow) as impatient:
        allowed.status, allowed.delay = 200, 5
        slow = impatient.send(allowed.url("/slow"), BODY, headers_for(new_secret()))
        assert slow.response_status is None
        assert slow.error == "no answer within 0.3 s (read timeout)"

    closed = WebhookSender(timeout=5, allowed=allow)
    closed.close()
    assert (
        closed.send(allowed.url("/"), BODY, {}).error
        == "unexpected error: RuntimeError: the webhook sender is closed"
    )


class DripServer:
    """Answers a valid 200 one byte every 50 ms (about 10 s in all): each read is quick, the whole
    answer is slow. Without a deadline for the whole attempt the sender would wait it out and see
    the 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            answer = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
            for byte in answer:
                if self.stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=10)


def test_the_timeout_bounds_the_whole_attempt_not_each_read(connections: Connections) -> None:
    drip = DripServer()
    try:
        with WebhookSender(timeout=1, allowed=AllowList.parse(f"127.0.0.1:{drip.port}")) as sender:
            result = sender.send(f"http://127.0.0.1:{drip.port}/", BODY, {})
        assert result.response_status is None
        assert result.error == "no answer within 1 s (read timeout)"
    finally:
        drip.close()


def test_concurrent_sends_share_one_sender(allowed: Receiver, connections: Connections) -> None:
    results: list[Any] = []
    with WebhookSender(timeout=10, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:

        def send(i: int) -> None:
            results.append(sender.send(allowed.url(f"/c/{i}"), BODY, headers_for(new_secret(), f"msg_{i}")))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [r.error for r in results] == [None] * 24
    assert sorted(r.path for r in allowed.requests) == sorted(f"/c/{i}" for i in range(24))


def test_a_forked_child_opens_its_own_connections(allowed: Receiver) -> None:
    """The parent's kept-alive connection must not be shared with a forked child (both would write
    into one socket); each keeps working."""
    import multiprocessing

    with WebhookSender(timeout=10, allowed=AllowList.parse(f"127.0.0.1:{allowed.port}")) as sender:
        assert sender.send(allowed.url("/parent-1"), BODY, {}).ok
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()

        def child() -> None:
            queue.put(sender.send(allowed.url("/child"), BODY, {}).error or "ok")

        process = ctx.Process(target=child)
        process.start()
        assert queue.get(timeout=60) == "ok"
        process.join(timeout=60)
        assert sender.send(allowed.url("/parent-2"), BODY, {}).ok
    ports = {r.path: r.client[1] for r in allowed.requests}
    assert ports["/parent-1"] == ports["/parent-2"]  # the parent's connection survived
    assert ports["/child"] != ports["/parent-1"]


# --- https: the certificate is checked against the original name ------------------------------


def _certificates(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a server certificate for ``name``: (server context, client context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "platform test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


def test_https_sends_the_original_name_as_sni_and_checks_the_certificate_against_it(
    tmp_path: Path, dns: FakeDNS, connections: Connections
) -> None:
    server_ctx, client_ctx = _certificates(tmp_path, "hooks.internal")
    dns["hooks.internal"] = ["127.0.0.1"]
    secret = new_secret()
    with Receiver("127.0.0.1", tls=server_ctx) as receiver:
        url = receiver.url("/secure", host="hooks.internal")
        with WebhookSender(timeout=5, allowed=AllowList.parse("hooks.internal"), verify=client_ctx) as sender:
            result = sender.send(url, BODY, headers_for(secret))
        assert result.ok, result.error
        assert connections.opened == [("127.0.0.1", receiver.port)]
        [request] = receiver.requests
        assert request.sni == "hooks.internal"
        assert request.headers["host"] == f"hooks.internal:{receiver.port}"
        Webhook(secret).verify(request.body, request.headers)


def test_https_refuses_a_certificate_for_another_name(tmp_path: Path, dns: FakeDNS) -> None:
    """The URL's host is rewritten to the IP, yet the certificate is still checked against the name."""
    server_ctx, client_ctx = _certificates(tmp_path, "other.internal")
    dns["hooks.internal"] = ["127.0.0.1"]
    with Receiver("127.0.0.1", tls=server_ctx) as receiver:
        with WebhookSender(timeout=5, allowed=AllowList.parse("hooks.internal"), verify=client_ctx) as sender:
            result = sender.send(receiver.url("/", host="hooks.internal"), BODY, headers_for(new_secret()))
        assert result.response_status is None
        assert result.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in result.error
        assert receiver.requests == []


# --- last: the hostile receivers never got anything ------------------------------------------


def test_zz_hostile_receivers_recorded_zero_requests(hostile: dict[str, Receiver]) -> None:
    assert {key: len(rx.requests) for key, rx in hostile.items()} == dict.fromkeys(hostile, 0)
