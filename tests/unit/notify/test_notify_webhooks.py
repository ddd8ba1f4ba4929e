"""Standard Webhooks secrets and signatures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kolot.notify.webhooks import new_secret, signed_headers


def test_secrets_are_whsec_base64_of_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    assert new_secret() != secret


def test_signed_headers_verify_with_the_secret_and_only_with_it() -> None:
    secret = new_secret()
    body = '{"specversion":"1.0","id":"e1","type":"kolot.comment.published"}'
    headers = signed_headers(secret=secret, message_id="e1", body=body, at=datetime.now(UTC))
    assert headers["webhook-id"] == "e1"
    assert headers["content-type"] == "application/cloudevents+json"
    assert Webhook(secret).verify(body, headers) == {
        "specversion": "1.0",
        "id": "e1",
        "type": "kolot.comment.published",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("e1", "e2"), headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    body = '{"id":"e1"}'
    headers = signed_headers(
        secret=[new, old], message_id="e1", body=body, at=datetime.now(UTC), traceparent="00-x"
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert headers["traceparent"] == "00-x"
    assert Webhook(old).verify(body, headers) == {"id": "e1"}
    assert Webhook(new).verify(body, headers) == {"id": "e1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
