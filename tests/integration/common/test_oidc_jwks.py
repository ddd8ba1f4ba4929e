"""Production staff authentication: tokens signed by an identity provider, keys from its JWKS URL
(a real HTTP server here), checked for issuer and audience."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app
from tests.jwks_server import key_set, serve_jwks

pytestmark = pytest.mark.integration

ISSUER = "https://login.gov.example/realms/kolot"
AUDIENCE = "kolot-api"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(idp_key: rsa.RSAPrivateKey) -> Iterator[str]:
    with serve_jwks(key_set(idp_key), path="/protocol/openid-connect/certs") as server:
        yield server.url


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    base = {"sub": "ministry-admin-7", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE}
    base["exp"] = 4_102_444_800  # 2100
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


async def test_identity_provider_tokens_are_verified_against_its_keys(
    make_settings: Callable[..., Any], jwks_url: str, idp_key: rsa.RSAPrivateKey
) -> None:
    settings = make_settings(
        IntakeSettings,
        jwt_secret=None,
        jwt_jwks_url=jwks_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    body = {"title": {"en": "Water"}}
    async with running_app(create_app(settings)) as client:

        async def create(bearer: str) -> int:
            response = await client.post(
                "/v1/campaigns", json=body, headers={"Authorization": f"Bearer {bearer}"}
            )
            return response.status_code

        assert await create(token(idp_key)) == 201
        impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert await create(token(impostor)) == 401
        assert await create(token(idp_key, aud="another-app")) == 401
        assert await create(token(idp_key, iss="https://evil.example")) == 401
        assert await create(token(idp_key, roles=["analyst"])) == 403
        hs256 = jwt.encode({"sub": "x", "roles": ["admin"], "exp": 4_102_444_800}, "s" * 32)
        assert await create(hs256) == 401  # a shared secret is no longer accepted
