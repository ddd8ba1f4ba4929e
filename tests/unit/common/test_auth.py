"""Who is calling: staff JWTs with roles, participants' tokens, and the HTTP guard built on them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from kolot.common.auth import (
    AuthError,
    Participant,
    ParticipantTokens,
    Role,
    Staff,
    StaffVerifier,
    issue_participant_token,
    issue_staff_token,
    verify_participant_token,
)
from kolot.common.problems import install_problem_handlers
from kolot.common.settings import DEV_JWT_SECRET, DEV_PARTICIPANT_SECRET
from kolot.common.web import require_staff

SECRET = DEV_JWT_SECRET
verifier = StaffVerifier(secret=SECRET)


def staff_claims(**claims: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "dana", "roles": ["moderator"], "iat": now, "exp": now + 60, **claims}


def rejected(token: str, *, by: StaffVerifier = verifier) -> AuthError:
    with pytest.raises(AuthError) as caught:
        by.verify(token)
    return caught.value


# -- staff tokens -------------------------------------------------------------------------------


def test_a_staff_token_carries_its_subject_and_roles() -> None:
    token = issue_staff_token(SECRET, roles=[Role.MODERATOR, "analyst"], subject="dana")

    staff = verifier.verify(token)

    assert staff == Staff(subject="dana", roles=frozenset({Role.MODERATOR, Role.ANALYST}))


def test_roles_may_be_a_space_separated_claim_and_unknown_roles_are_dropped() -> None:
    token = jwt.encode(staff_claims(roles="analyst superuser integrator"), SECRET)

    assert verifier.verify(token).roles == {Role.ANALYST, Role.INTEGRATOR}


@pytest.mark.parametrize("roles", [[], ["superuser"], None])
def test_a_token_without_a_kolot_role_is_forbidden(roles: list[str] | None) -> None:
    claims = staff_claims(roles=roles)
    if roles is None:
        del claims["roles"]

    assert rejected(jwt.encode(claims, SECRET)).status == 403


def test_an_expired_staff_token_is_unauthenticated() -> None:
    token = issue_staff_token(SECRET, roles=[Role.ADMIN], ttl=-10)

    error = rejected(token)

    assert error.status == 401
    assert "expired" in error.detail


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "",
        issue_staff_token("another-secret-that-is-long-enough-for-hs256", roles=[Role.ADMIN]),
        jwt.encode(staff_claims(exp=None), SECRET),
        jwt.encode({k: v for k, v in staff_claims().items() if k != "exp"}, SECRET),
        jwt.encode({k: v for k, v in staff_claims().items() if k != "sub"}, SECRET),
        jwt.encode(staff_claims(roles=["admin"]), key="", algorithm="none"),
        jwt.encode(staff_claims(roles=["admin"]), SECRET, algorithm="HS384"),
    ],
    ids=[
        "garbage",
        "three-dots",
        "empty",
        "wrong-secret",
        "null-exp",
        "no-exp",
        "no-sub",
        "alg-none",
        "other-alg",
    ],
)
def test_a_bad_staff_token_is_unauthenticated(token: str) -> None:
    assert rejected(token).status == 401


def test_issuer_and_audience_are_checked_when_configured() -> None:
    strict = StaffVerifier(secret=SECRET, issuer="https://idp.example", audience="kolot")
    good = jwt.encode(staff_claims(iss="https://idp.example", aud="kolot"), SECRET)

    assert strict.verify(good).subject == "dana"
    assert rejected(jwt.encode(staff_claims(), SECRET), by=strict).status == 401
    wrong_audience = jwt.encode(staff_claims(iss="https://idp.example", aud="other"), SECRET)
    assert rejected(wrong_audience, by=strict).status == 401
    wrong_issuer = jwt.encode(staff_claims(iss="https://evil.example", aud="kolot"), SECRET)
    assert rejected(wrong_issuer, by=strict).status == 401


def test_a_verifier_needs_a_key() -> None:
    with pytest.raises(ValueError, match="secret or a JWKS URL"):
        StaffVerifier(secret=None)


# -- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_admin_passes_every_requirement(role: Role) -> None:
    admin = Staff(subject="root", roles=frozenset({Role.ADMIN}))

    admin.require(role)
    admin.require(role, Role.INTEGRATOR)


def test_one_of_the_allowed_roles_is_enough() -> None:
    staff = Staff(subject="dana", roles=frozenset({Role.ANALYST}))

    staff.require(Role.MODERATOR, Role.ANALYST)


@pytest.mark.parametrize(
    ("held", "needed"),
    [
        ({Role.MODERATOR}, (Role.ADMIN,)),
        ({Role.ANALYST}, (Role.MODERATOR,)),
        ({Role.INTEGRATOR, Role.ANALYST}, (Role.MODERATOR, Role.ADMIN)),
    ],
)
def test_a_missing_role_is_forbidden(held: set[Role], needed: tuple[Role, ...]) -> None:
    staff = Staff(subject="dana", roles=frozenset(held))

    with pytest.raises(AuthError) as caught:
        staff.require(*needed)

    assert caught.value.status == 403
    assert all(role.value in caught.value.detail for role in needed)


# -- participant tokens -------------------------------------------------------------------------


def test_a_participant_token_round_trips() -> None:
    token = issue_participant_token(DEV_PARTICIPANT_SECRET, "p-123")

    assert verify_participant_token(DEV_PARTICIPANT_SECRET, token) == Participant("p-123")


@pytest.mark.parametrize(
    "token",
    [
        issue_participant_token(DEV_PARTICIPANT_SECRET, "p-1", ttl=-10),
        issue_participant_token("another-participant-secret-that-is-long-enough-for-hs256", "p-1"),
        "garbage",
        "",
    ],
    ids=["expired", "wrong-secret", "garbage", "empty"],
)
def test_a_bad_participant_token_is_unauthenticated(token: str) -> None:
    with pytest.raises(AuthError) as caught:
        verify_participant_token(DEV_PARTICIPANT_SECRET, token)

    assert caught.value.status == 401


def test_a_staff_token_is_not_a_participant_token() -> None:
    # even where both are signed with the same secret (a misconfiguration), the kinds stay apart
    token = issue_staff_token(DEV_PARTICIPANT_SECRET, roles=[Role.ADMIN], subject="p-1")

    with pytest.raises(AuthError):
        verify_participant_token(DEV_PARTICIPANT_SECRET, token)


def test_a_staff_shaped_token_with_the_participant_issuer_is_not_a_participant_token() -> None:
    claims = staff_claims(sub="p-1", iss="kolot/intake")

    with pytest.raises(AuthError, match="not a participant token"):
        verify_participant_token(DEV_PARTICIPANT_SECRET, jwt.encode(claims, DEV_PARTICIPANT_SECRET))


def test_a_participant_token_is_not_a_staff_token() -> None:
    same_secret = StaffVerifier(secret=DEV_PARTICIPANT_SECRET)
    token = issue_participant_token(DEV_PARTICIPANT_SECRET, "p-1")

    assert rejected(token).status == 401
    assert rejected(token, by=same_secret).status in {401, 403}


def test_an_erased_participants_tokens_are_refused_even_once_remembered() -> None:
    tokens = ParticipantTokens(DEV_PARTICIPANT_SECRET)
    token = issue_participant_token(DEV_PARTICIPANT_SECRET, "p-1")
    other = issue_participant_token(DEV_PARTICIPANT_SECRET, "p-2")
    assert tokens.verify(token).participant_id == "p-1"  # now remembered

    tokens.revoke("p-1")

    with pytest.raises(AuthError, match="erased") as refused:
        tokens.verify(token)
    assert refused.value.status == 401
    assert tokens.verify(other).participant_id == "p-2"


def test_remembered_tokens_are_bounded_and_still_verified_once_forgotten() -> None:
    tokens = ParticipantTokens(DEV_PARTICIPANT_SECRET, max_entries=3)
    issued = {
        f"p-{i}": issue_participant_token(DEV_PARTICIPANT_SECRET, f"p-{i}") for i in range(10)
    }

    for _ in range(2):
        for participant_id, token in issued.items():
            assert tokens.verify(token).participant_id == participant_id
            assert len(tokens) <= 3
    forged = issue_participant_token("another-secret-of-32-bytes-or-more!!", "p-0")
    with pytest.raises(AuthError):
        tokens.verify(forged)


# -- the HTTP guard -----------------------------------------------------------------------------


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    # require_staff reads only the runtime's verifier: no servers needed
    app.state.runtime = SimpleNamespace(staff=verifier)

    @app.post("/moderate")
    async def moderate(
        staff: Annotated[Staff, Depends(require_staff(Role.MODERATOR))],
    ) -> dict[str, str]:
        return {"by": staff.subject}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_guard_admits_the_role_and_admin(guarded: httpx.AsyncClient) -> None:
    for role in (Role.MODERATOR, Role.ADMIN):
        token = issue_staff_token(SECRET, roles=[role], subject=f"{role}-1")

        response = await guarded.post("/moderate", headers=bearer(token))

        assert response.status_code == 200
        assert response.json() == {"by": f"{role}-1"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic ZGFuYTpwdw=="}, 401),
        (bearer("garbage"), 401),
        (bearer(issue_staff_token(SECRET, roles=[Role.ADMIN], ttl=-5)), 401),
        (bearer(issue_staff_token(SECRET, roles=[Role.ANALYST])), 403),
        (bearer(issue_participant_token(DEV_PARTICIPANT_SECRET, "p-1")), 401),
    ],
    ids=["none", "basic", "garbage", "expired", "wrong-role", "participant"],
)
async def test_the_guard_refuses_with_a_problem(
    guarded: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await guarded.post("/moderate", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert "www-authenticate" not in response.headers
