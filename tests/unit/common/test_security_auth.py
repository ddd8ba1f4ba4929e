"""Staff tokens whose roles claim has an unexpected shape: refused (403), never a 500 and never
read as a role they do not name (regressions found by tests/security/test_jwt_attacks.py)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from kolot.common.auth import AuthError, StaffVerifier
from kolot.common.settings import DEV_JWT_SECRET

verifier = StaffVerifier(secret=DEV_JWT_SECRET)


@pytest.mark.parametrize(
    "roles",
    [7, 1.5, True, {"admin": False}, {"admin": True}, [["admin"]], [{"admin": 1}], None],
    ids=["int", "float", "bool", "obj-false", "obj-true", "nested", "objects", "null"],
)
def test_a_roles_claim_that_is_not_names_is_forbidden(roles: Any) -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "x", "roles": roles, "exp": now + 60}, DEV_JWT_SECRET)

    with pytest.raises(AuthError) as refused:
        verifier.verify(token)

    assert refused.value.status == 403
