"""The URL guard on its own: parsing, address classes, allow-list forms, resolution.

Every check here passes an explicit allow-list (the test session's environment allow-lists
127.0.0.1 for the e2e receivers). Public addresses appear only as literals given to ``check_url``
or as fake DNS answers: no test sends traffic anywhere but loopback.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import socket
import threading

import pytest

from airflow_platform.exceptions import ValidationError
from airflow_platform.webhooks.url_guard import (
    AllowList,
    Target,
    UnsafeURLError,
    check_url,
    non_public_reason,
)
from tests.webhooks.receivers import FakeDNS

NONE = AllowList()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def refused(url: str, allowed: AllowList = NONE) -> str:
    with pytest.raises(UnsafeURLError) as info:
        check_url(url, allowed=allowed)
    return info.value.message


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "non-empty"),
        ("http://" + "a" * 2050 + ".com/", "longer than 2048"),
        ("https://example.com/" + "p" * 2040, "longer than 2048"),
        ("ftp://example.com/", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("gopher://example.com:70/", "scheme must be http or https"),
        ("javascript:alert(1)", "scheme must be http or https"),
        ("example.com/hook", "scheme must be http or https"),
        ("//example.com/hook", "scheme must be http or https"),
        ("http:example.com/hook", "scheme must be http or https"),
        ("http:/example.com/hook", "scheme must be http or https"),
        ("http://user@example.com/", "user information"),
        ("http://user:pass@example.com/", "user information"),
        ("http://:@example.com/", "user information"),
        ("http:///hook", "no host"),
        ("http://:8080/hook", "no host"),
        ("http://exa mple.com/", "whitespace"),
        (" http://example.com/", "whitespace"),
        ("http://example.com/\n", "whitespace or control"),
        ("http://example.com/a\tb", "whitespace or control"),
        ("http://example.com\x00.evil/", "control"),
        ("http://example.com\x7f/", "control"),
        ("http://example.com\\@evil.com/", "backslash"),
        ("http:\\\\example.com/", "backslash"),
        ("http://example.com:0/", "port must be"),
        ("http://example.com:65536/", "port must be"),
        ("http://example.com:99999999/", "port must be"),
        ("http://example.com:-1/", "port must be"),
        ("http://example.com:8o/", "port must be"),
        ("http://example.com:/", "port must be"),
        ("http://exämple.com/", "ASCII"),
        ("http://example.com/ü", "ASCII"),
        ("http://ex%61mple.com/", "percent-encoded"),
        ("http://[fe80::1%25eth0]/", "zone id"),
        ("http://[::1/", "could not be parsed"),
        ("http://[not-ipv6]/", "could not be parsed"),
        ("http://[::1]x/", "after its IPv6 address"),
        ("http://1:2:3:4::5/", "several ':'"),
        ("http://-example.com/", "not a valid host name"),
        ("http://exa_mple..com/", "not a valid host name"),
        ("http://" + "a" * 64 + ".com/", "not a valid host name"),
        ("http://2130706433/", "not a canonical IPv4"),
        ("http://0x7f000001/", "not a canonical IPv4"),
        ("http://0177.0.0.1/", "not a canonical IPv4"),
        ("http://127.1/", "not a canonical IPv4"),
        ("http://1.2.3.4.5/", "not a canonical IPv4"),
        ("http://93.184.215.014/", "not a canonical IPv4"),
        ("http://foo.0x10/", "not a canonical IPv4"),
    ],
)
def test_malformed_urls_are_refused(url: str, why: str) -> None:
    assert why in refused(url)


def test_the_error_is_a_400_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        check_url("http://127.0.0.1/", allowed=NONE)
    assert info.value.status == 400
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.details["field"] == "url"
    assert info.value.message == (
        "url resolves to 127.0.0.1, a non-public address (loopback); "
        "list it in [platform] webhook_allowed_hosts to allow it"
    )


def test_weird_ip_spellings_stay_refused_even_when_their_address_is_allow_listed() -> None:
    """Parsers disagree on them; operators allow-list the canonical form."""
    allowed = AllowList.parse("127.0.0.0/8")
    assert "not a canonical IPv4" in refused("http://2130706433/", allowed)
    assert check_url("http://127.0.0.1/", allowed=allowed).addresses == ("127.0.0.1",)


# --- public targets --------------------------------------------------------------------------


def test_a_public_ipv4_literal_is_accepted() -> None:
    target = check_url("http://93.184.215.14/hooks/in?x=1&y=2#frag", allowed=NONE)
    assert target == Target(
        url="http://93.184.215.14/hooks/in?x=1&y=2#frag",
        scheme="http",
        host="93.184.215.14",
        port=80,
        path_and_query="/hooks/in?x=1&y=2",
        addresses=("93.184.215.14",),
    )
    assert target.host_header == "93.184.215.14"
    assert target.url_for("93.184.215.14") == "http://93.184.215.14:80/hooks/in?x=1&y=2"


def test_a_public_ipv6_literal_is_accepted() -> None:
    target = check_url("HTTPS://[2606:4700::1]:8443", allowed=NONE)
    assert (target.scheme, target.host, target.port, target.path_and_query) == (
        "https",
        "2606:4700::1",
        8443,
        "/",
    )
    assert target.host_header == "[2606:4700::1]:8443"
    assert target.url_for("2606:4700::1") == "https://[2606:4700::1]:8443/"
    with pytest.raises(ValueError, match="not one of the checked"):
        target.url_for("127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:93.184.215.14]/",  # IPv4-mapped of a public address
        "http://[64:ff9b::5db8:d70e]/",  # NAT64 of 93.184.215.14 (DNS64 networks answer this)
        "http://[2002:5db8:d70e::1]/",  # 6to4 of 93.184.215.14
        "https://[2a00:1450:4001:82a::200e]/",
        "http://8.8.8.8:8080/",
        "http://1.1.1.1/",
    ],
)
def test_public_addresses_in_any_form_are_accepted(url: str) -> None:
    check_url(url, allowed=NONE)


def test_a_name_is_accepted_when_every_answer_is_public(dns: FakeDNS) -> None:
    dns["hooks.example.com"] = ["93.184.215.14", "2606:4700::1"]
    target = check_url("https://Hooks.Example.com/in", allowed=NONE)
    assert target.host == "hooks.example.com"
    assert target.addresses == ("93.184.215.14", "2606:4700::1")
    assert target.host_header == "hooks.example.com"


# --- non-public addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "this network"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("192.0.0.8", "IETF protocol"),
        ("192.88.99.1", "6to4 relay"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("100::1", "discard"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("4000::1", "outside global unicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, private"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, link-local"),
        ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1, loopback"),
        ("::93.184.215.14", "IPv4-compatible tunnel address"),
        ("2002:7f00:1::", "6to4 form of 127.0.0.1, loopback"),
        ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"),
        ("64:ff9b::127.0.0.1", "NAT64 form of 127.0.0.1, loopback"),
        ("64:ff9b::10.0.0.1", "NAT64 form of 10.0.0.1, private"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo form of 192.0.2.45"),
        ("2001:0:4136:e378:8000:63bf:a25a:2823", "Teredo tunnel address"),
        ("2001:2::1", "IETF protocol assignments"),
    ],
)
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert reason in (non_public_reason(ipaddress.ip_address(address)) or "")
    literal = f"[{address}]" if ":" in address else address
    message = refused(f"http://{literal}:8080/hook")
    assert "a non-public address" in message
    assert reason in message
    assert "webhook_allowed_hosts" in message


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1", "2a00:1450::1"])
def test_public_addresses_have_no_reason(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


def test_one_private_answer_among_public_ones_refuses_the_name(dns: FakeDNS) -> None:
    dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]
    message = refused("http://mixed.example.com/")
    assert message.startswith(
        "url resolves to 10.0.0.7, a non-public address (private, via host 'mixed.example.com')"
    )


def test_an_unresolvable_name_is_refused(dns: FakeDNS) -> None:
    dns["nowhere.example.com"] = []
    assert "could not resolve url host 'nowhere.example.com'" in refused("http://nowhere.example.com/")
    assert "could not resolve" in refused("http://does-not-exist.invalid/")


def test_a_hanging_resolver_is_bounded(dns: FakeDNS) -> None:
    release = threading.Event()

    def hang(_: int) -> list[str]:
        release.wait(60)
        return ["93.184.215.14"]

    dns["slow.example.com"] = hang
    try:
        with pytest.raises(
            UnsafeURLError, match=r"could not resolve url host 'slow.example.com' within 0.2 s"
        ):
            check_url("http://slow.example.com/", allowed=NONE, resolve_timeout=0.2)
    finally:
        release.set()


# --- allow-list ------------------------------------------------------------------------------


def test_allow_list_forms_parse() -> None:
    allow = AllowList.parse(
        " Hooks.Internal. , 10.0.0.5, 10.20.0.0/16:8443, [::1]:8080, fd00::/8, [fd12::/16]:9000, "
        "internal.example.com:81,127.0.0.1:9999"
    )
    described = [(e.name, str(e.network) if e.network else None, e.port) for e in allow.entries]
    assert described == [
        ("hooks.internal", None, None),
        (None, "10.0.0.5/32", None),
        (None, "10.20.0.0/16", 8443),
        (None, "::1/128", 8080),
        (None, "fd00::/8", None),
        (None, "fd12::/16", 9000),
        ("internal.example.com", None, 81),
        (None, "127.0.0.1/32", 9999),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "[::1",
        "[::1]x",
        "[::1]:0",
        "host:99999",
        "host:",
        "10.0.0.0/33",
        "bad host",
        "a..b",
        "2130706433",
        "[nope]",
    ],
)
def test_bad_allow_list_entries_raise(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry"):
        AllowList.parse(entry)


def test_a_listed_name_is_allowed_whatever_it_resolves_to(dns: FakeDNS) -> None:
    dns["hooks.internal"] = ["10.0.0.7", "127.0.0.1"]
    allow = AllowList.parse("HOOKS.INTERNAL")
    assert check_url("http://hooks.internal:8080/x", allowed=allow).addresses == ("10.0.0.7", "127.0.0.1")
    assert check_url("http://Hooks.Internal./x", allowed=allow).host == "hooks.internal."
    dns["sub.hooks.internal"] = ["10.0.0.8"]
    assert "non-public" in refused("http://sub.hooks.internal/", allow)  # exact names only, no suffixes


def test_a_name_with_a_port_is_allowed_on_that_port_only(dns: FakeDNS) -> None:
    dns["hooks.internal"] = ["10.0.0.7"]
    allow = AllowList.parse("hooks.internal:8080")
    check_url("http://hooks.internal:8080/", allowed=allow)
    assert "non-public" in refused("http://hooks.internal:8081/", allow)
    assert "non-public" in refused("http://hooks.internal/", allow)
    check_url("https://hooks.internal:443/", allowed=AllowList.parse("hooks.internal:443"))
    check_url("https://hooks.internal/", allowed=AllowList.parse("hooks.internal:443"))


def test_ips_and_cidrs_allow_addresses_with_optional_ports() -> None:
    allow = AllowList.parse("127.0.0.1, 10.20.0.0/16:8443, [::1]:8080, fd00::/8")
    check_url("http://127.0.0.1:1234/", allowed=allow)
    check_url("https://10.20.3.4:8443/", allowed=allow)
    assert "non-public" in refused("https://10.20.3.4:8444/", allow)
    assert "non-public" in refused("https://10.21.3.4:8443/", allow)
    check_url("http://[::1]:8080/", allowed=allow)
    assert "non-public" in refused("http://[::1]:8081/", allow)
    check_url("http://[fd00::1]:1/", allowed=allow)
    check_url("http://[fdff:ffff::1]/", allowed=allow)
    assert "non-public" in refused("http://[fc00::1]/", allow)
    assert "non-public" in refused("http://127.0.0.2/", allow)


def test_an_ipv4_entry_covers_the_ipv4_mapped_form() -> None:
    check_url("http://[::ffff:127.0.0.1]:9/", allowed=AllowList.parse("127.0.0.1"))
    assert "non-public" in refused("http://[::ffff:127.0.0.2]:9/", AllowList.parse("127.0.0.1"))


def test_every_answer_must_be_public_or_inside_a_listed_network(dns: FakeDNS) -> None:
    allow = AllowList.parse("10.0.0.0/24")
    dns["a.internal"] = ["10.0.0.7", "10.0.0.8"]
    dns["b.internal"] = ["10.0.0.7", "10.0.1.8"]
    dns["c.internal"] = ["10.0.0.7", "93.184.215.14"]
    assert check_url("http://a.internal/", allowed=allow).addresses == ("10.0.0.7", "10.0.0.8")
    assert "url resolves to 10.0.1.8, a non-public address" in refused("http://b.internal/", allow)
    check_url("http://c.internal/", allowed=allow)


def test_check_url_without_allowed_reads_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__WEBHOOK_ALLOWED_HOSTS", "10.9.8.7:8080, not a host, [::1]")
    assert check_url("http://10.9.8.7:8080/").addresses == ("10.9.8.7",)
    check_url("http://[::1]:1/")  # the bad entry in the middle is skipped, not fatal
    with pytest.raises(UnsafeURLError):
        check_url("http://10.9.8.7:8081/")
    monkeypatch.setenv("AIRFLOW__PLATFORM__WEBHOOK_ALLOWED_HOSTS", "")
    with pytest.raises(UnsafeURLError):
        check_url("http://10.9.8.7:8080/")
    assert AllowList.from_config() == AllowList()


def _child_check(queue: multiprocessing.Queue) -> None:
    try:
        queue.put(check_url("http://localhost:8080/", allowed=AllowList.parse("localhost")).addresses)
    except Exception as exc:
        queue.put(repr(exc))


def test_a_forked_child_still_resolves() -> None:
    """Airflow forks (LocalExecutor, Celery prefork, gunicorn): the parent's resolver threads are
    not in the child, which must start its own instead of queueing lookups forever."""
    parent = check_url("http://localhost:8080/", allowed=AllowList.parse("localhost")).addresses
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_check, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == parent
    finally:
        child.join(timeout=60)
