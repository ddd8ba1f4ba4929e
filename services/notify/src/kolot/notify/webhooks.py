"""Standard Webhooks: subscription secrets, sealed at rest, and the signed headers of each
attempt."""

from __future__ import annotations

import base64
import math
import secrets
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import InvalidToken
from standardwebhooks.webhooks import Webhook

from kolot.common.bus import CLOUDEVENTS_CONTENT_TYPE
from kolot.common.contacts import ContactSealer
from kolot.common.store import stamp
from kolot.notify.models import Subscription

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32
CANNOT_SIGN = (
    "the subscription's signing secret does not open with KOLOT_CONTACT_KEYS (was its key removed?)"
)
"""Logged and recorded as the attempt's error: nothing is sent unsigned."""


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretSealer:
    """Seals subscription secrets at rest with the contact keys (``KOLOT_CONTACT_KEYS``, newest
    first: a key rotation needs no migration), and opens them in memory only, to sign.

    A secret stored in clear by an earlier notify (``Subscription.legacy_secret``) is used as it
    is until the subscription is next written, which seals it.
    """

    _FIELD = "webhook_secret"

    def __init__(self, sealer: ContactSealer) -> None:
        self._sealer = sealer

    def seal(self, secret: str) -> str:
        return self._sealer.seal({self._FIELD: secret})

    def open(self, sealed: str) -> str:
        """Raises ``InvalidToken`` when no configured key opens it (or it was altered)."""
        try:
            return self._sealer.open(sealed)[self._FIELD]
        except KeyError:
            raise InvalidToken from None  # sealed, but not a webhook secret

    def _clear(self, sealed: str | None, legacy: str | None) -> str | None:
        """A secret as stored (sealed, or in clear by an earlier notify), in clear."""
        return self.open(sealed) if sealed is not None else legacy

    def current(self, subscription: Subscription) -> str:
        """The secret that signs now, in clear; raises ``InvalidToken`` as ``open`` does."""
        secret = self._clear(subscription.secret_sealed, subscription.legacy_secret)
        if secret is None:
            raise InvalidToken  # neither: a document no notify wrote
        return secret

    def signing_secrets(self, subscription: Subscription, *, now: datetime) -> list[str]:
        """The secrets that sign an attempt at ``now``, in clear: the current one, and during a
        rotation's overlap the previous one too. Raises ``InvalidToken`` when one does not open:
        an attempt is never sent unsigned, nor signed with less than the receiver may expect."""
        signing = [self.current(subscription)]
        if (subscription.previous_secret_until or "") > stamp(now):
            previous = self._clear(
                subscription.previous_secret_sealed, subscription.legacy_previous_secret
            )
            if previous is not None:
                signing.append(previous)
        return signing


def signed_headers(
    *,
    secret: str | Sequence[str],
    message_id: str,
    body: str,
    at: datetime,
    traceparent: str | None = None,
) -> dict[str, str]:
    """The headers of one attempt; ``message_id`` stays the same across retries so receivers
    can drop duplicates, the timestamp and signature are fresh each time.

    With several secrets (a rotation's overlap) every one signs: Standard Webhooks puts the
    signatures side by side, space-separated, and a receiver accepts any it can verify.
    """
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    headers = {
        "content-type": CLOUDEVENTS_CONTENT_TYPE,
        "webhook-id": message_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, at, body) for s in secrets_),
        "user-agent": "kolot-notify/1",
    }
    if traceparent:
        headers["traceparent"] = traceparent
    return headers
