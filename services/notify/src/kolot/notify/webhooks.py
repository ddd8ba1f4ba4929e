"""Standard Webhooks: subscription secrets and the signed headers of each attempt."""

from __future__ import annotations

import base64
import math
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from kolot.common.bus import CLOUDEVENTS_CONTENT_TYPE

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


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
