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
