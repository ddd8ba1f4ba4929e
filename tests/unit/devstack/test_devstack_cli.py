import argparse

import jwt
import pytest

from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack.cli import main, replica_counts, replica_ports


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


def test_replica_counts_are_read_from_service_equals_number() -> None:
    assert replica_counts("moderation=4, metrics=2") == {"moderation": 4, "metrics": 2}
    assert replica_counts("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("moderation", "give SERVICE=N"),
        ("search=2", "give SERVICE=N"),
        ("moderation=four", "whole number"),
        ("moderation=0", "between 1 and 16"),
        ("moderation=17", "between 1 and 16"),
        ("metrics=2,metrics=3", "given twice"),
    ],
)
def test_replica_counts_refuse_what_cannot_be_run(value: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        replica_counts(value)


def test_up_refuses_bad_replicas_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["up", "--replicas", "moderation=0"])

    assert exit_info.value.code == 2
    assert "between 1 and 16" in capsys.readouterr().err


def test_up_refuses_metrics_replicas_on_the_embedded_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONGODB_URL", raising=False)

    assert main(["up", "--replicas", "metrics=2"]) == 2
    assert "needs a real MongoDB replica set: set MONGODB_URL" in capsys.readouterr().err


def test_extra_replicas_take_fixed_ports_after_the_four_services() -> None:
    assert replica_ports(9001, {"moderation": 3, "metrics": 2}) == {
        "intake": 9001,
        "moderation": 9002,
        "notify": 9003,
        "metrics": 9004,
        "moderation-2": 9005,
        "moderation-3": 9006,
        "metrics-2": 9007,
    }
