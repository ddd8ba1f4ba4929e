"""Standard Webhooks secrets, sealed at rest, and signatures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kolot.common.contacts import ContactSealer
from kolot.common.store import stamp
from kolot.notify.models import Subscription
from kolot.notify.schemas import SubscriptionCreated, SubscriptionPublic
from kolot.notify.webhooks import SecretSealer, new_secret, signed_headers

NOW = datetime(2025, 6, 1, tzinfo=UTC)
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def sealer(keys: str) -> SecretSealer:
    return SecretSealer(ContactSealer(keys))


def legacy_document(**fields: object) -> dict[str, object]:
    """A subscription as notify stored it before secrets were sealed."""
    return {
        "_id": "s1",
        "url": "https://hooks.ministry.example/",
        "event_types": ["kolot.comment.published"],
        "campaign_id": None,
        "description": None,
        "secret": "whsec_bGVnYWN5",
        "owner": "dev",
        "created_at": NOW,
        "state": "active",
        "previous_secret": None,
        "previous_secret_until": None,
        **fields,
    }


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


def test_a_legacy_clear_document_is_read_as_it_is_and_never_shown() -> None:
    secrets = sealer(NEW_KEY)
    subscription = Subscription.from_document(legacy_document())
    assert subscription.secret_sealed is None
    assert secrets.signing_secrets(subscription, now=NOW) == ["whsec_bGVnYWN5"]
    # in a rotation's overlap (written in clear too), both sign
    rotating = Subscription.from_document(
        legacy_document(
            previous_secret="whsec_b2xk", previous_secret_until=stamp(NOW + timedelta(hours=1))
        )
    )
    assert secrets.signing_secrets(rotating, now=NOW) == ["whsec_bGVnYWN5", "whsec_b2xk"]
    assert secrets.signing_secrets(rotating, now=NOW + timedelta(hours=2)) == ["whsec_bGVnYWN5"]
    assert "bGVnYWN5" not in SubscriptionPublic.of(rotating).model_dump_json()
    assert "b2xk" not in SubscriptionPublic.of(rotating).model_dump_json()
    assert "bGVnYWN5" not in repr(rotating)
    # written back whole, it loses nothing (sealing it is the service's next write)
    assert rotating.to_document()["secret"] == "whsec_bGVnYWN5"


def test_a_sealed_secret_is_stored_without_it_and_opens_after_a_key_rotation() -> None:
    secret = new_secret()
    subscription = Subscription(
        id="s1",
        url="https://hooks.ministry.example/",
        event_types=["kolot.comment.published"],
        secret_sealed=sealer(OLD_KEY).seal(secret),
        owner="dev",
        created_at=NOW,
    )
    document = subscription.to_document()
    assert "secret" not in document
    assert "previous_secret" not in document
    assert secret.removeprefix("whsec_") not in str(document)
    # a new key in front: what the old one sealed still opens, no migration
    assert sealer(f"{NEW_KEY},{OLD_KEY}").signing_secrets(subscription, now=NOW) == [secret]
    with pytest.raises(InvalidToken):
        sealer(NEW_KEY).signing_secrets(subscription, now=NOW)  # the old key was removed
    created = SubscriptionCreated.of_new(subscription, secret=secret)
    assert created.secret == secret
    assert "secret_sealed" not in created.model_dump()


def test_a_sealed_contact_is_not_a_secret_and_a_subscription_needs_one() -> None:
    contact = ContactSealer(NEW_KEY).seal({"email": "a@example.org"})
    with pytest.raises(InvalidToken):
        sealer(NEW_KEY).open(contact)
    with pytest.raises(ValidationError, match="signing secret"):
        Subscription.from_document(legacy_document(secret=None))
