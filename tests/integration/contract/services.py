"""The four services' app factories, for tests that hold every app to the same contract."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from kolot.common.settings import ServiceSettings


@dataclass(frozen=True)
class Service:
    name: str
    settings: type[ServiceSettings]
    create_app: Callable[[Any], FastAPI]


SERVICE_NAMES = ("intake", "moderation", "notify", "metrics")


def service(name: str) -> Service:
    # imported on demand, so that a service that fails to import fails its own tests only
    app_module = importlib.import_module(f"kolot.{name}.app")
    settings_module = importlib.import_module(f"kolot.{name}.settings")
    settings = getattr(settings_module, f"{name.capitalize()}Settings")
    return Service(name, settings, app_module.create_app)


def build_app(name: str, make_settings: Callable[..., Any], **overrides: Any) -> FastAPI:
    found = service(name)
    return found.create_app(make_settings(found.settings, **overrides))


MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def operations(app: FastAPI) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path template) -> OpenAPI operation, for every operation the app documents."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method.upper() in {"GET", "HEAD", *MUTATING}:
                found[(method.upper(), path)] = operation
    return found
