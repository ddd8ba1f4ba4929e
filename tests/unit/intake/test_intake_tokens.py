"""Sealed contacts, invitations and rate limits: the small security parts of intake."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.fernet import Fernet, InvalidToken

from kolot.common.contacts import ContactSealer
from kolot.intake.invitations import Invitation, sign_invitation, verify_invitation
from kolot.intake.ratelimit import Rate, RateLimiter

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_sealed_contacts_hide_the_details_and_open_with_the_key() -> None:
    sealer = ContactSealer(Fernet.generate_key().decode())
    sealed = sealer.seal({"email": "dana@example.org", "phone": "+972501234567"})
    assert "dana" not in sealed
    assert "972" not in sealed
    assert sealer.open(sealed) == {"email": "dana@example.org", "phone": "+972501234567"}


def test_contact_keys_rotate_without_a_migration() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = ContactSealer(old).seal({"email": "a@b.org"})
    rotated = ContactSealer(f"{new},{old}")
    assert rotated.open(sealed_before) == {"email": "a@b.org"}
    with pytest.raises(InvalidToken):
        ContactSealer(new).open(sealed_before)
    with pytest.raises(ValueError, match="Fernet key"):
        ContactSealer(" , ")


def _invitation(**overrides: object) -> Invitation:
    fields: dict[str, object] = {
        "invitation_id": "inv-1",
        "campaign_id": "c1",
        "circle": "experts",
        "verified": False,
        "source": "newsletter",
        "expires_at": int(time.time()) + 60,
    }
    fields.update(overrides)
    return Invitation(**fields)  # type: ignore[arg-type]


def test_an_invitation_round_trips() -> None:
    invitation = _invitation()
    assert verify_invitation(SECRET, sign_invitation(SECRET, invitation)) == invitation


def test_forged_altered_or_expired_invitations_are_refused() -> None:
    with pytest.raises(jwt.PyJWTError):
        verify_invitation(
            SECRET, sign_invitation("another-secret-that-is-long-enough!!", _invitation())
        )
    with pytest.raises(jwt.PyJWTError):
        verify_invitation(
            SECRET, sign_invitation(SECRET, _invitation(expires_at=int(time.time()) - 5))
        )
    token = sign_invitation(SECRET, _invitation())
    header, payload, signature = token.split(".")
    with pytest.raises(jwt.PyJWTError):
        verify_invitation(SECRET, f"{header}.{payload[:-2]}xx.{signature}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(per_minute=60, burst=3), clock=clock)
    assert [limiter.check("p") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("p")
    assert wait == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.check("p") == 0.0
    assert limiter.check("p") > 0
    assert limiter.check("someone-else") == 0.0  # keys are independent


def test_idle_keys_are_forgotten_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(per_minute=60, burst=2), clock=clock, max_keys=100)
    for n in range(100):
        limiter.check(f"k{n}")
    clock.now += 120
    limiter.check("new")
    assert len(limiter) == 1
    for n in range(500):
        limiter.check(f"flood{n}")
    assert len(limiter) <= 101
