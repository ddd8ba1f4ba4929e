"""JWT attacks on every service, over HTTP: each forged, tampered or misused token is refused
with a 401/403 problem, and a well-formed token on the same route is admitted (so the refusal is
the token's doing, not the route's).

Staff tokens are attacked in both modes a service can run in: HS256 with the shared secret
(development) and RS256 keys from an identity provider's JWKS (production), where the classic
algorithm confusion (HS256 "signed" with the public key) and key-URL injection (``jku``) apply.
Participant tokens are attacked on intake, the only service with participant routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from kolot.common.auth import (
    PARTICIPANT_ISSUER,
    PARTICIPANT_TOKEN_TYPE,
    Role,
    issue_participant_token,
)
from kolot.common.settings import (
    DEV_JWT_SECRET,
    DEV_PARTICIPANT_SECRET,
    DEV_RECEIPT_SECRET,
)
from tests.conftest import running_app
from tests.integration.contract.services import SERVICE_NAMES, build_app
from tests.integration.contract.test_authorisation import assert_problem
from tests.integration.intake.flows import open_campaign
from tests.jwks_server import KeyServer, key_set, serve_jwks
from tests.security.forgery import (
    hs256_with,
    now,
    unsigned,
    with_bad_signature,
    with_claims,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Guarded:
    """A staff route of a service, the role it needs, and a role it refuses."""

    method: str
    path: str
    allowed: Role
    refused: Role
    body: Any = None


GUARDED: Final[dict[str, Guarded]] = {
    "intake": Guarded(
        "POST", "/v1/campaigns", Role.ADMIN, Role.ANALYST, {"title": {"en": "Forgery"}}
    ),
    "moderation": Guarded("GET", "/v1/queue", Role.MODERATOR, Role.ANALYST),
    "notify": Guarded("GET", "/v1/subscriptions", Role.INTEGRATOR, Role.ANALYST),
    "metrics": Guarded("GET", "/v1/campaigns/c-forgery/stats", Role.ANALYST, Role.INTEGRATOR),
}


def staff_claims(role: Role | str, **changes: Any) -> dict[str, Any]:
    issued = now()
    return {"sub": "dana", "roles": [str(role)], "iat": issued, "exp": issued + 600, **changes}


def hs(claims: dict[str, Any], secret: str = DEV_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def without(claims: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in names}


def shared_secret_attacks(guarded: Guarded) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (token, the statuses a refusal may have)."""
    admin = staff_claims(Role.ADMIN)
    weak = hs(staff_claims(guarded.refused))
    unauthenticated = (401,)
    return {
        "role escalation in the payload": (with_claims(weak, roles=["admin"]), unauthenticated),
        "subject swapped in the payload": (
            with_claims(hs(admin), sub="someone-else"),
            unauthenticated,
        ),
        "tampered signature": (with_bad_signature(hs(admin)), unauthenticated),
        "expired": (hs(staff_claims(Role.ADMIN, exp=now() - 60)), unauthenticated),
        "not yet valid (nbf)": (hs(staff_claims(Role.ADMIN, nbf=now() + 3600)), unauthenticated),
        "issued in the future (iat)": (
            hs(staff_claims(Role.ADMIN, iat=now() + 3600)),
            unauthenticated,
        ),
        "no expiry": (hs(without(admin, "exp")), unauthenticated),
        "no subject": (hs(without(admin, "sub")), unauthenticated),
        "alg none": (unsigned(admin), unauthenticated),
        "alg None": (unsigned(admin, alg="None"), unauthenticated),
        "alg NONE with the real signature": (
            unsigned(admin, alg="NONE") + hs(admin).rsplit(".", 1)[1],
            unauthenticated,
        ),
        "HS384 with the right secret": (
            jwt.encode(admin, DEV_JWT_SECRET, algorithm="HS384"),
            unauthenticated,
        ),
        "signed with the participant secret": (hs(admin, DEV_PARTICIPANT_SECRET), unauthenticated),
        "signed with the receipt secret": (hs(admin, DEV_RECEIPT_SECRET), unauthenticated),
        "signed with an empty secret": (hs256_with(b"", admin), unauthenticated),
        "a participant token": (
            issue_participant_token(DEV_PARTICIPANT_SECRET, "p-forger"),
            (401, 403),
        ),
        "no roles claim": (hs(without(admin, "roles")), (403,)),
        "empty roles": (hs(staff_claims(Role.ADMIN, roles=[])), (403,)),
        "an unknown role": (hs(staff_claims("superuser")), (403,)),
        "roles as a number": (hs(staff_claims(Role.ADMIN, roles=7)), (403,)),
        "roles as an object": (hs(staff_claims(Role.ADMIN, roles={"admin": False})), (403,)),
        "roles nested in a list": (hs(staff_claims(Role.ADMIN, roles=[["admin"]])), (403,)),
        "the role refused here": (weak, (403,)),
    }


async def request(
    client: httpx.AsyncClient, guarded: Guarded, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(guarded.method, guarded.path, json=guarded.body, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_admitted(response: httpx.Response) -> None:
    # metrics may not know the campaign (404): the token was still accepted
    assert response.status_code in {200, 201, 404}, response.text[:300]
    assert response.status_code < 300 or "campaign" in response.text


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_forged_staff_tokens_are_refused_with_a_shared_secret(
    name: str, make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    guarded = GUARDED[name]
    async with running_app(build_app(name, make_settings)) as client:
        assert_admitted(await request(client, guarded, bearer(hs(staff_claims(guarded.allowed)))))
        for attack, (token, statuses) in shared_secret_attacks(guarded).items():
            with subtests.test(msg=f"{name}: {attack}"):
                assert_problem(await request(client, guarded, bearer(token)), *statuses)
        with subtests.test(msg=f"{name}: Basic instead of Bearer"):
            good = hs(staff_claims(Role.ADMIN))
            response = await request(client, guarded, {"Authorization": f"Basic {good}"})
            assert_problem(response, 401)


# -- production: keys from the identity provider's JWKS ------------------------------------------

ISSUER: Final = "https://login.gov.example/realms/kolot"
AUDIENCE: Final = "kolot-api"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def idp(idp_key: rsa.RSAPrivateKey) -> Iterator[KeyServer]:
    with serve_jwks(key_set(idp_key)) as server:
        yield server


@pytest.fixture(scope="module")
def attacker_jwks() -> Iterator[KeyServer]:
    """The attacker's own key set, named in a ``jku`` header the services must not follow."""
    with serve_jwks({"keys": []}) as server:
        yield server


def idp_claims(role: Role | str = Role.ADMIN, **changes: Any) -> dict[str, Any]:
    return staff_claims(role, **{"iss": ISSUER, "aud": AUDIENCE, **changes})


def rs256(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "k1", **header: Any) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, **header})


def identity_provider_attacks(
    idp_key: rsa.RSAPrivateKey, attacker_jwks: KeyServer, guarded: Guarded
) -> dict[str, tuple[str, tuple[int, ...]]]:
    public_pem = idp_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = RSAAlgorithm.to_jwk(idp_key.public_key()).encode()
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    admin = idp_claims()
    unauthenticated = (401,)
    return {
        "HS256 keyed with the public key (PEM)": (
            hs256_with(public_pem, admin, kid="k1"),
            unauthenticated,
        ),
        "HS256 keyed with the public key (JWK)": (
            hs256_with(public_jwk, admin, kid="k1"),
            unauthenticated,
        ),
        "HS256 with the development secret": (hs(admin), unauthenticated),
        "alg none with the provider's kid": (unsigned(admin, kid="k1"), unauthenticated),
        "an impostor's key under the provider's kid": (rs256(impostor, admin), unauthenticated),
        "an impostor's key, its JWKS in jku": (
            rs256(impostor, admin, kid="evil", jku=attacker_jwks.url),
            unauthenticated,
        ),
        "an ES256 key under the provider's kid": (
            jwt.encode(
                admin,
                ec.generate_private_key(ec.SECP256R1()),
                algorithm="ES256",
                headers={"kid": "k1"},
            ),
            unauthenticated,
        ),
        "role escalation in the payload": (
            with_claims(rs256(idp_key, idp_claims(guarded.refused)), roles=["admin"]),
            unauthenticated,
        ),
        "tampered signature": (with_bad_signature(rs256(idp_key, admin)), unauthenticated),
        "wrong audience": (rs256(idp_key, idp_claims(aud="another-app")), unauthenticated),
        "no audience": (rs256(idp_key, without(admin, "aud")), unauthenticated),
        "wrong issuer": (rs256(idp_key, idp_claims(iss="https://evil.example")), unauthenticated),
        "no issuer": (rs256(idp_key, without(admin, "iss")), unauthenticated),
        "expired": (rs256(idp_key, idp_claims(exp=now() - 60)), unauthenticated),
        "not yet valid (nbf)": (rs256(idp_key, idp_claims(nbf=now() + 3600)), unauthenticated),
        "no roles claim": (rs256(idp_key, without(admin, "roles")), (403,)),
        "the role refused here": (rs256(idp_key, idp_claims(guarded.refused)), (403,)),
        "a participant token": (
            issue_participant_token(DEV_PARTICIPANT_SECRET, "p-forger"),
            (401, 403),
        ),
    }


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_forged_staff_tokens_are_refused_with_an_identity_provider(
    name: str,
    make_settings: Callable[..., Any],
    idp: KeyServer,
    idp_key: rsa.RSAPrivateKey,
    attacker_jwks: KeyServer,
    subtests: pytest.Subtests,
) -> None:
    guarded = GUARDED[name]
    settings = {
        "jwt_secret": None,
        "jwt_jwks_url": idp.url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }
    async with running_app(build_app(name, make_settings, **settings)) as client:
        good = rs256(idp_key, idp_claims(guarded.allowed))
        assert_admitted(await request(client, guarded, bearer(good)))
        attacks = identity_provider_attacks(idp_key, attacker_jwks, guarded)
        for attack, (token, statuses) in attacks.items():
            with subtests.test(msg=f"{name}: {attack}"):
                assert_problem(await request(client, guarded, bearer(token)), *statuses)

        fetched = len(idp.fetches)
        with subtests.test(msg=f"{name}: a flood of unknown key ids"):
            for n in range(20):
                token = rs256(idp_key, idp_claims(), kid=f"unknown-{n}")
                assert_problem(await request(client, guarded, bearer(token)), 401)
            # each unknown kid may not make the service fetch the provider's keys again:
            # unauthenticated callers could otherwise make it hammer the identity provider
            assert len(idp.fetches) - fetched <= 1, idp.fetches
    assert attacker_jwks.fetches == [], "a key URL in the token's header was followed"


# -- participant tokens (intake) -----------------------------------------------------------------


def participant_claims(**changes: Any) -> dict[str, Any]:
    issued = now()
    return {
        "sub": "p-honest",
        "typ": PARTICIPANT_TOKEN_TYPE,
        "iss": PARTICIPANT_ISSUER,
        "iat": issued,
        "exp": issued + 600,
        **changes,
    }


def participant_attacks() -> dict[str, str]:
    honest = hs(participant_claims(), DEV_PARTICIPANT_SECRET)
    return {
        "another participant's id in the payload": with_claims(honest, sub="p-victim"),
        "a closed circle added to the payload": with_claims(honest, circles=["experts"]),
        "tampered signature": with_bad_signature(honest),
        "expired": hs(participant_claims(exp=now() - 60), DEV_PARTICIPANT_SECRET),
        "not yet valid (nbf)": hs(participant_claims(nbf=now() + 3600), DEV_PARTICIPANT_SECRET),
        "alg none": unsigned(participant_claims()),
        "wrong issuer": hs(participant_claims(iss="kolot/moderation"), DEV_PARTICIPANT_SECRET),
        "no issuer": hs(without(participant_claims(), "iss"), DEV_PARTICIPANT_SECRET),
        "not a participant token type": hs(participant_claims(typ="JWT"), DEV_PARTICIPANT_SECRET),
        "no expiry": hs(without(participant_claims(), "exp"), DEV_PARTICIPANT_SECRET),
        "signed with the staff secret": hs(participant_claims(), DEV_JWT_SECRET),
        "signed with the receipt secret": hs(participant_claims(), DEV_RECEIPT_SECRET),
        "a staff admin token": hs(staff_claims(Role.ADMIN)),
        "a staff token with the participant issuer": hs(
            staff_claims(Role.ADMIN, iss=PARTICIPANT_ISSUER), DEV_PARTICIPANT_SECRET
        ),
    }


async def test_forged_participant_tokens_are_refused(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    async with running_app(build_app("intake", make_settings)) as client:
        campaign_id = await open_campaign(
            client, circles=[{"id": "experts", "access": "invitation"}]
        )

        async def comment(token: str, circle: str | None = None) -> httpx.Response:
            body = {"text": "A fair point about the buses", "circle": circle}
            return await client.post(
                f"/v1/campaigns/{campaign_id}/comments", json=body, headers=bearer(token)
            )

        honest = hs(participant_claims(), DEV_PARTICIPANT_SECRET)
        accepted = await comment(honest)
        assert accepted.status_code == 202, accepted.text
        # the closed circle refuses the honest token, so a token claiming it must be forged
        assert_problem(await comment(honest, "experts"), 403)
        for attack, token in participant_attacks().items():
            with subtests.test(msg=attack):
                assert_problem(await comment(token, "experts"), 401)
                assert_problem(await comment(token), 401)
        with subtests.test(msg="a participant token on a staff route"):
            response = await client.post(
                "/v1/campaigns", json={"title": {"en": "Mine now"}}, headers=bearer(honest)
            )
            assert_problem(response, 401, 403)
