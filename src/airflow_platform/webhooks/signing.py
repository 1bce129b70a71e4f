"""Standard Webhooks signatures (https://www.standardwebhooks.com).

Receivers verify with any Standard Webhooks library (e.g. PyPI ``standardwebhooks``): the HMAC-SHA256
of ``"{msg_id}.{timestamp}.{body}"`` keyed with the base64-decoded secret. During a secret rotation
both the new and the previous secret sign, each giving one ``v1,`` entry in ``webhook-signature``, so
receivers that still hold the old secret keep verifying until the grace period ends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

from airflow_platform.version import __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
#: 24 bytes = 192 bits: above the 128-bit floor the spec asks for, and a whole number of base64 chars.
SECRET_BYTES = 24
USER_AGENT = f"airflow-platform-webhooks/{__version__}"


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        # Padding is added because the spec lets secrets travel unpadded; b64decode ignores extra '='.
        key = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message under one secret."""
    if "." in msg_id:
        # The signed content is dot-separated: a dot in the id would make two messages sign alike.
        raise ValueError("webhook message id must not contain '.'")
    signed = msg_id.encode("utf-8") + b"." + str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery carries besides the webhook's custom ones.

    ``webhook-signature`` holds one space-separated ``v1,`` entry per secret (current first, then a
    previous one still in its grace period). ``content-type`` and ``user-agent`` are included so that
    callers build one dict: custom headers may not override any of these.
    """
    if isinstance(secrets, str):
        secrets = [secrets]
    if not secrets:
        raise ValueError("at least one webhook secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
