"""Contact details, sealed: encrypted with Fernet (AES-128-CBC + HMAC-SHA256) before they leave
the request, so they are never in clear on the bus or at rest.

``KOLOT_CONTACT_KEYS`` is a comma-separated list of Fernet keys, newest first: new contacts are
sealed with the first, and every key still opens what it sealed, so keys rotate without a
migration (``MultiFernet``). intake seals (a participant's own details, an invitation list's);
notify opens, to reach only the people who consented.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class ContactSealer:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("KOLOT_CONTACT_KEYS needs at least one Fernet key")
        self._fernet = MultiFernet([Fernet(k) for k in parts])

    def seal(self, contact: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(contact, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        """Raises ``InvalidToken`` when no configured key opens it (or it was altered)."""
        value = json.loads(self._fernet.decrypt(sealed.encode()))
        if not isinstance(value, dict):
            raise InvalidToken
        return {str(k): str(v) for k, v in value.items()}
