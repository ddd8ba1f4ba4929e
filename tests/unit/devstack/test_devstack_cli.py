import jwt
import pytest

from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack.cli import main


def decode(token: str, secret: str = DEV_JWT_SECRET) -> dict[str, object]:
    return jwt.decode(token, secret, algorithms=["HS256"])


def test_token_is_signed_with_the_development_secret_and_carries_the_role(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOLOT_JWT_SECRET", raising=False)

    assert main(["token", "--role", "admin"]) == 0

    out = capsys.readouterr().out
    assert out.count("\n") == 1, "only the token, so that $(kolot-dev token ...) works"
    claims = decode(out.strip())
    assert claims["roles"] == ["admin"]
    assert claims["sub"] == "dev"


def test_token_takes_several_roles_a_subject_and_a_lifetime(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOLOT_JWT_SECRET", raising=False)

    main(["token", "--role", "moderator", "--role", "analyst", "--subject", "dana", "--ttl", "60"])

    claims = decode(capsys.readouterr().out.strip())
    assert claims["roles"] == ["moderator", "analyst"]
    assert claims["sub"] == "dana"
    assert claims["exp"] == claims["iat"] + 60  # type: ignore[operator]


def test_token_honours_kolot_jwt_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOLOT_JWT_SECRET", "a-secret-of-this-installation-only")

    main(["token", "--role", "integrator"])

    token = capsys.readouterr().out.strip()
    assert decode(token, "a-secret-of-this-installation-only")["roles"] == ["integrator"]
    with pytest.raises(jwt.InvalidSignatureError):
        decode(token)


def test_token_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--role", "root"])

    assert exit_info.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err


@pytest.mark.parametrize("namespace", ["Kolot", "1kolot", "kolot-dev", "k" * 33])
def test_up_refuses_a_namespace_services_would_reject(
    namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["up", "--namespace", namespace])

    assert "does not match" in capsys.readouterr().err
