"""What the deployment tests share: the repository's services, their settings classes and apps,
and the built kustomize overlays. Everything offline: binaries come from this virtualenv."""

from __future__ import annotations

import base64
import importlib
import inspect
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from kolot.common import web
from kolot.common.bus import PullConsumer, create_broker
from kolot.common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
OVERLAYS = ("dev", "prod")
K8S = ROOT / "deploy" / "k8s"


def tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is missing from {BIN}: run `make install`")
    return path


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def env_name(cls: type[ServiceSettings], name: str, field: FieldInfo) -> str:
    """The environment variable pydantic-settings reads ``name`` from (upper case)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        # by convention the choice in capitals is the environment variable, the other the field
        for choice in alias.choices:
            if isinstance(choice, str) and choice.isupper():
                return choice
    if isinstance(alias, str):
        return alias.upper()
    return f"{cls.model_config.get('env_prefix', '')}{name}".upper()


def secret_value() -> str:
    """A stand-in for a secret the cluster holds: 32 random bytes, also a valid Fernet key."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class Service:
    name: str
    settings_class: type[ServiceSettings]
    consumers: tuple[PullConsumer, ...]

    @property
    def port(self) -> int:
        port = self.settings_class.model_fields["http_port"].default
        assert isinstance(port, int)
        return port

    @property
    def required_env(self) -> set[str]:
        """The variables without which the service refuses to start."""
        return {
            env_name(self.settings_class, name, field)
            for name, field in self.settings_class.model_fields.items()
            if field.is_required()
        }

    @property
    def known_env(self) -> set[str]:
        return {
            env_name(self.settings_class, name, field)
            for name, field in self.settings_class.model_fields.items()
        }


def _settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"kolot.{name}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
        and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"kolot.{name}.settings should define one ServiceSettings class"
    return classes[0]


def _consumers(name: str, cls: type[ServiceSettings]) -> tuple[PullConsumer, ...]:
    """The durable consumers the service declares (create_app connects to nothing)."""
    required = {
        field: secret_value() for field, info in cls.model_fields.items() if info.is_required()
    }
    settings = cls(
        **required
        | {
            "nats_url": "nats://nats:4222",
            "mongodb_url": "mongodb://mongo:27017",
            "environment": "test",
            "jwt_secret": secret_value(),
        }
    )
    app = importlib.import_module(f"kolot.{name}.app").create_app(settings)
    return tuple(app.state.runtime.consumers)


def shutdown_budget(consumers: int, pre_stop: int) -> float:
    """Seconds a pod may need after SIGTERM: the endpoint drain, uvicorn's request drain, each
    consumer finishing its batch, then the NATS drain (all read from the code that does them)."""
    uvicorn = re.search(r"timeout_graceful_shutdown=(\d+)", inspect.getsource(web.run))
    drain = re.search(r"drain_timeout=(\d+)", inspect.getsource(create_broker))
    assert uvicorn is not None
    assert drain is not None
    grace = inspect.signature(PullConsumer.stop).parameters["grace"].default
    return pre_stop + int(uvicorn.group(1)) + consumers * grace + int(drain.group(1))


def service_names() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / "services").glob("*/pyproject.toml"))


@pytest.fixture(scope="session")
def services() -> list[Service]:
    found = []
    for name in service_names():
        cls = _settings_class(name)
        found.append(Service(name, cls, _consumers(name, cls)))
    return found


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every overlay built by ``kubectl kustomize``, as a list of objects."""
    kubectl = tool("kubectl")
    out: dict[str, list[dict[str, Any]]] = {}
    for overlay in OVERLAYS:
        result = run(kubectl, "kustomize", K8S / "overlays" / overlay)
        assert result.returncode == 0, f"kustomize {overlay}:\n{result.stderr}"
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


@pytest.fixture(scope="session")
def built_files(
    built: dict[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("kustomize")
    files = {}
    for overlay, docs in built.items():
        path = directory / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        files[overlay] = path
    return files


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}
