"""The SSRF guard of webhook URLs: strict parsing, then every resolved address must be public.

A webhook URL is chosen by API users, and deliveries leave from inside the platform's network, so a
URL must not reach loopback, private, link-local (cloud metadata at 169.254.169.254) or other
non-public addresses unless an operator allow-lists them in ``[platform] webhook_allowed_hosts``.

Why each rule exists:

* Parsing is stricter than browsers: every spelling that URL parsers disagree on (userinfo,
  backslashes, percent-encoded or non-ASCII hosts, decimal/octal/hex/short IPv4 forms, IPv6 zone ids)
  is refused rather than interpreted, so the host we check is the host any client would connect to.
* Names are resolved here and EVERY answer must pass: a name with one public and one private answer
  would otherwise let the connection pick the private one.
* IPv6 forms that carry an IPv4 address (IPv4-mapped/-compatible, 6to4, NAT64, Teredo) are judged by
  the IPv4 address they carry, because that is where the packets end up.
* Python's ``ipaddress.is_global`` has been wrong across 3.x patch releases (e.g. ``fec0::/10`` and
  ``2002::/16`` count as global on 3.11.7), so the non-public ranges are listed here explicitly and
  ``is_global`` is only an extra check.

The sender checks again at send time and connects to the checked address (DNS rebinding).
"""

from __future__ import annotations

import concurrent.futures
import functools
import ipaddress
import logging
import os
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

from airflow_platform.exceptions import ValidationError

log = logging.getLogger(__name__)

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
#: getaddrinfo has no timeout of its own; a lookup taking longer than this counts as unresolvable.
RESOLVE_TIMEOUT_SECONDS = 5.0
_CONFIG_HINT = "list it in [platform] webhook_allowed_hosts to allow it"


class UnsafeURLError(ValidationError):
    """A webhook URL that is malformed, unresolvable or points at a non-public address."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, all checked) and what to ask for."""

    url: str
    scheme: str
    #: Lower-case host as written in the URL (IPv6 without brackets); the ``Host`` header's name.
    host: str
    #: Effective port (80/443 when the URL gives none).
    port: int
    #: Path plus ``?query`` (never empty: "/" at least); the fragment is not sent.
    path_and_query: str
    #: The checked addresses, in the resolver's order.
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        """The ``Host`` header the original URL implies (port only when not the scheme's default)."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != DEFAULT_PORTS[self.scheme]:
            return f"{name}:{self.port}"
        return name

    def url_for(self, address: str) -> str:
        """The URL with its host replaced by one checked address (what the sender connects to)."""
        if address not in self.addresses:
            raise ValueError(f"{address} is not one of the checked addresses of {self.host}")
        literal = f"[{address.replace('%', '%25')}]" if ":" in address else address
        return f"{self.scheme}://{literal}:{self.port}{self.path_and_query}"


# --- non-public ranges ------------------------------------------------------------------------

_V4_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified / 'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local, where cloud metadata services live"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_V6_RANGES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "IETF protocol assignments"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_V4_NETS = tuple((ipaddress.IPv4Network(net), why) for net, why in _V4_RANGES)
_V6_NETS = tuple((ipaddress.IPv6Network(net), why) for net, why in _V6_RANGES)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the form's name, for the forms that carry one."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    packed = ip.packed
    if ip in _NAT64:
        return ipaddress.IPv4Address(packed[12:]), "NAT64"
    if ip in _SIX_TO_FOUR and ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    if packed[:12] == bytes(12) and int(ip) > 1:
        return ipaddress.IPv4Address(packed[12:]), "IPv4-compatible"
    return None


def non_public_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return "scoped IPv6 address"
    embedded = embedded_ipv4(ip)
    if embedded is not None:
        inner, form = embedded
        inner_reason = non_public_reason(inner)
        if inner_reason is not None:
            return f"{form} form of {inner}, {inner_reason}"
        if form in ("Teredo", "IPv4-compatible"):
            return f"{form} tunnel address"
        return None  # mapped / NAT64 / 6to4 of a public IPv4 address: packets go there
    if isinstance(ip, ipaddress.IPv4Address):
        for net, why in _V4_NETS:
            if ip in net:
                return why
    else:
        for net6, why in _V6_NETS:
            if ip in net6:
                return why
        if ip not in _V6_GLOBAL_UNICAST:
            return "reserved (outside global unicast 2000::/3)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


# --- allow-list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: a host name or an IP network, with an optional port."""

    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def port_matches(self, port: int) -> bool:
        return self.port is None or self.port == port


def _parse_port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"allow-list entry {entry!r}: port must be 1..65535")
    return int(text)


def _parse_entry(raw: str) -> AllowEntry:
    entry = raw.strip().lower()
    if not entry:
        raise ValueError("empty allow-list entry")
    port: int | None = None
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            raise ValueError(f"allow-list entry {raw!r}: missing ']'")
        rest = entry[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"allow-list entry {raw!r}: expected ':port' after ']'")
            port = _parse_port(rest[1:], raw)
        body = entry[1:close]
        try:
            return AllowEntry(network=ipaddress.IPv6Network(body, strict=False), port=port)
        except ValueError as exc:
            raise ValueError(f"allow-list entry {raw!r}: not an IPv6 address or network") from exc
    if entry.count(":") > 1:  # a bare IPv6 address or network: no port possible
        try:
            return AllowEntry(network=ipaddress.IPv6Network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"allow-list entry {raw!r}: not an IPv6 address or network") from exc
    if ":" in entry:
        entry, port_text = entry.rsplit(":", 1)
        port = _parse_port(port_text, raw)
    try:
        return AllowEntry(network=ipaddress.IPv4Network(entry, strict=False), port=port)
    except ValueError:
        pass
    name = entry.rstrip(".")
    if not _is_host_name(name):
        raise ValueError(f"allow-list entry {raw!r}: not a host name, IP address or CIDR")
    if _looks_numeric(name):
        raise ValueError(f"allow-list entry {raw!r}: write IPv4 addresses in dotted-decimal form")
    return AllowEntry(name=name, port=port)


@dataclass(frozen=True)
class AllowList:
    """Hosts, IPs and CIDRs (each optionally with ``:port``) that may be non-public targets."""

    entries: tuple[AllowEntry, ...] = ()

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> AllowList:
        """Entries separated by commas (or given as a list); an invalid entry raises ValueError."""
        items = text.split(",") if isinstance(text, str) else list(text)
        return cls(tuple(_parse_entry(item) for item in items if item.strip()))

    @classmethod
    def from_config(cls) -> AllowList:
        """``[platform] webhook_allowed_hosts``; invalid entries are logged and left out (fail closed)."""
        from airflow_platform import config

        return _from_config_text(config.get("webhook_allowed_hosts"))

    def allows_name(self, host: str, port: int) -> bool:
        name = host.rstrip(".").lower()
        return any(e.name == name and e.port_matches(port) for e in self.entries if e.name is not None)

    def allows_address(self, ip: IPAddress, port: int) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.scope_id:
                candidates = [ipaddress.IPv6Address(str(ip).split("%", 1)[0])]
            if ip.ipv4_mapped is not None:
                candidates.append(ip.ipv4_mapped)
        for entry in self.entries:
            if entry.network is None or not entry.port_matches(port):
                continue
            if any(c.version == entry.network.version and c in entry.network for c in candidates):
                return True
        return False


@functools.lru_cache(maxsize=8)
def _from_config_text(text: str) -> AllowList:
    entries: list[AllowEntry] = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            entries.append(_parse_entry(item))
        except ValueError as exc:
            log.warning("[platform] webhook_allowed_hosts: ignoring %s", exc)
    return AllowList(tuple(entries))


# --- parsing ----------------------------------------------------------------------------------

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def _is_host_name(name: str) -> bool:
    return bool(_HOST_NAME.match(name))


def _looks_numeric(name: str) -> bool:
    """A name whose last label is a number: every URL parser reads it as some IPv4 spelling."""
    return bool(_NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]))


def _refuse(message: str) -> UnsafeURLError:
    # The URL itself is not echoed in details: its query string may carry a token.
    return UnsafeURLError(message, details={"field": "url"})


def _split(url: str) -> tuple[str, str, int, str, IPAddress | None]:
    """(scheme, host, port, path_and_query, ip when the host is an IP literal); raises UnsafeURLError."""
    if not isinstance(url, str) or not url:
        raise _refuse("url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"url is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii():
        raise _refuse("url must be ASCII (percent-encode the path; write host names in punycode)")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise _refuse("url must not contain whitespace or control characters")
    if "\\" in url:
        raise _refuse("url must not contain backslashes")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise _refuse("url scheme must be http or https (as 'http://' or 'https://')")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _refuse(f"url could not be parsed: {exc}") from None
    netloc = parts.netloc
    if rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0] != netloc:
        raise _refuse("url authority could not be parsed unambiguously")
    if "@" in netloc:
        raise _refuse("url must not contain user information ('user@host')")
    if "%" in netloc:
        raise _refuse("url host must not be percent-encoded or carry an IPv6 zone id")
    port_text: str | None = None
    ip: IPAddress | None = None
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise _refuse("url has an unclosed '[' in its host")
        host = netloc[1:close].lower()
        after = netloc[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise _refuse("url has characters after its IPv6 address")
            port_text = after[1:]
        try:
            ip = ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse("url host in brackets is not an IPv6 address") from None
        host = str(ip)
    else:
        host = netloc.lower()
        if ":" in host:
            host, port_text = host.split(":", 1)
            if ":" in port_text:
                raise _refuse("url host has several ':' (IPv6 addresses go in brackets)")
        if not host:
            raise _refuse("url has no host")
        if _is_host_name(host.rstrip(".")) and _looks_numeric(host.rstrip(".")):
            try:
                ip = ipaddress.IPv4Address(host)
            except ValueError:
                raise _refuse(
                    f"url host {host!r} is not a canonical IPv4 address "
                    "(decimal, octal, hex and shortened forms are refused)"
                ) from None
        elif not _is_host_name(host.rstrip(".")):
            raise _refuse(f"url host {host!r} is not a valid host name")
    if port_text is None:
        port = DEFAULT_PORTS[scheme]
    elif not port_text.isdigit() or port_text.startswith("0") or not 1 <= int(port_text[:6]) <= 65535:
        raise _refuse("url port must be a number from 1 to 65535 (no leading zeros)")
    else:
        port = int(port_text)
    path_and_query = parts.path or "/"
    if not path_and_query.startswith("/"):
        raise _refuse("url path must start with '/'")
    if parts.query:
        path_and_query += "?" + parts.query
    return scheme, host, port, path_and_query, ip


# --- resolving --------------------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    # Keyed by process id: a forked child (Celery prefork, gunicorn, LocalExecutor) inherits the
    # parent's executor without its threads, and lookups queued there would never run.
    pid = os.getpid()
    with _pool_lock:
        executor = _pool.get(pid)
        if executor is None:
            _pool.clear()
            executor = _pool[pid] = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix="webhook-dns"
            )
        return executor


def _reset_after_fork() -> None:
    global _pool_lock
    _pool_lock = threading.Lock()  # a lock held by a parent's thread at fork time stays held otherwise
    _pool.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def _getaddrinfo(host: str, port: int) -> list[str]:
    # Looked up through the module at call time so tests can patch socket.getaddrinfo.
    answers = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for family, _type, _proto, _canon, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def resolve(host: str, port: int, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> tuple[str, ...]:
    """Every A/AAAA answer for ``host``, within ``timeout`` seconds; UnsafeURLError when none."""
    future = _executor().submit(_getaddrinfo, host, port)
    try:
        addresses = future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise UnsafeURLError(
            f"could not resolve url host {host!r} within {timeout:g} s",
            details={"field": "url", "host": host},
        ) from None
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError(
            f"could not resolve url host {host!r}: {exc}", details={"field": "url", "host": host}
        ) from None
    if not addresses:
        raise UnsafeURLError(
            f"could not resolve url host {host!r}: no IPv4/IPv6 address",
            details={"field": "url", "host": host},
        )
    return tuple(addresses)


# --- the check --------------------------------------------------------------------------------


def check_url(
    url: str, *, allowed: AllowList | None = None, resolve_timeout: float = RESOLVE_TIMEOUT_SECONDS
) -> Target:
    """Parse ``url`` strictly and resolve it; every address must be public or allow-listed.

    ``allowed=None`` reads ``[platform] webhook_allowed_hosts``; pass ``AllowList()`` for none at all.
    Raises UnsafeURLError (a 400 VALIDATION_ERROR) naming why.
    """
    scheme, host, port, path_and_query, ip = _split(url)
    allow = AllowList.from_config() if allowed is None else allowed
    name_allowed = ip is None and allow.allows_name(host, port)
    addresses = (str(ip),) if ip is not None else resolve(host, port, resolve_timeout)
    if not name_allowed:
        for address in addresses:
            addr = ipaddress.ip_address(address)
            reason = non_public_reason(addr)
            if reason is None or allow.allows_address(addr, port):
                continue
            via = "" if ip is not None else f", via host {host!r}"
            raise UnsafeURLError(
                f"url resolves to {address}, a non-public address ({reason}{via}); {_CONFIG_HINT}",
                details={"field": "url", "host": host, "address": address, "reason": reason},
            )
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path_and_query=path_and_query,
        addresses=addresses,
    )
