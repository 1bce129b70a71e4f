"""Our signatures, checked against the Standard Webhooks reference library that receivers use."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from airflow_platform.webhooks.signing import SECRET_PREFIX, new_secret, signature, signed_headers

BODY = b'{"event": "dag.success", "timestamp": "2024-01-01T00:00:00Z", "data": {"dag_id": "etl"}}'


def test_new_secret_is_whsec_and_24_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)) == 24


def test_signature_matches_the_published_test_vector() -> None:
    """The example of the Standard Webhooks / Svix documentation."""
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_the_reference_library_verifies_our_headers() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "msg_01HX", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "event": "dag.success",
        "timestamp": "2024-01-01T00:00:00Z",
        "data": {"dag_id": "etl"},
    }
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("airflow-platform-webhooks/")
    assert headers["webhook-id"] == "msg_01HX"


def test_two_secrets_during_rotation_both_verify() -> None:
    new, old, stranger = new_secret(), new_secret(), new_secret()
    headers = signed_headers([new, old], "msg_rot", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    current = signature(new, "msg_rot", int(headers["webhook-timestamp"]), BODY)
    assert headers["webhook-signature"].split(" ")[0] == current
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(BODY, headers)


@pytest.mark.parametrize(
    ("field", "value"),
    [("body", None), ("webhook-id", "msg_other"), ("webhook-timestamp", "shift")],
)
def test_tampering_is_rejected(field: str, value: str | None) -> None:
    secret = new_secret()
    now = int(time.time())
    headers = signed_headers([secret, new_secret()], "msg_t", now, BODY)
    body = BODY
    if field == "body":
        body = BODY.replace(b"etl", b"ETL")
    elif field == "webhook-timestamp":
        headers[field] = str(now - 1)
    else:
        headers[field] = str(value)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_receivers_reject_stale_timestamps() -> None:
    """Replays are the receiver's to refuse: a delivery signs the time of its own attempt."""
    secret = new_secret()
    headers = signed_headers([secret], "msg_old", int(time.time()) - 3600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_unprefixed_and_unpadded_secrets_sign_alike() -> None:
    secret = new_secret()
    raw = secret[len(SECRET_PREFIX) :]
    sig = signature(secret, "msg_a", 1, BODY)
    assert signature(raw, "msg_a", 1, BODY) == sig
    assert signature(SECRET_PREFIX + raw.rstrip("="), "msg_a", 1, BODY) == sig


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signed_headers([], "msg_x", 1, BODY)
    with pytest.raises(ValueError, match="must not contain"):
        signature(new_secret(), "msg.x", 1, BODY)
    with pytest.raises(ValueError, match="empty"):
        signature(SECRET_PREFIX, "msg_x", 1, BODY)
