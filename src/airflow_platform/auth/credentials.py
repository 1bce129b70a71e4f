"""Credentials we mint: high entropy, a type prefix, a checksum, stored only as SHA-256.

The checksum (as GitHub's tokens carry) lets a typo or a truncated paste be refused without a DB
look-up, and lets secret scanners recognise a leaked platform key offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib

_ALPHABET = string.ascii_letters + string.digits
_BODY_LEN = 36
_CHECK_LEN = 6

API_KEY_PREFIX = "afp_"
OAUTH_TOKEN_PREFIX = "afo_"  # noqa: S105 - a type prefix, not a secret
OAUTH_REFRESH_PREFIX = "afr_"
OAUTH_CLIENT_SECRET_PREFIX = "afs_"  # noqa: S105 - a type prefix, not a secret
OAUTH_CODE_PREFIX = "afc_"


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


def mint(prefix: str) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LEN))
    return f"{prefix}{body}{_checksum(prefix + body)}"


def well_formed(value: str, prefix: str) -> bool:
    if not value.startswith(prefix) or len(value) != len(prefix) + _BODY_LEN + _CHECK_LEN:
        return False
    body, check = value[:-_CHECK_LEN], value[-_CHECK_LEN:]
    return hmac.compare_digest(_checksum(body), check)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_digest(stored: str, value: str) -> bool:
    return hmac.compare_digest(stored, digest(value))


def visible_prefix(value: str) -> str:
    """What lists show so people can tell keys apart: the type prefix and 8 characters."""
    return value[: value.index("_") + 1 + 8]
