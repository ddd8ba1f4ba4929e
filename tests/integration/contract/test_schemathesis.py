"""Schemathesis over each service's OpenAPI, against the app served by uvicorn with real NATS/Mongo.

Every documented operation gets a few generated requests, valid and invalid (derandomized, so a
run is reproducible), with an admin token on staff routes and a participant token elsewhere.
What users rely on: no request makes a server error, and every 4xx is an RFC 9457 problem.
Intake's campaign ids point at a real open campaign half the time, so that bodies get past the
lookup and into the write path.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from _pytest.mark import ParameterSet
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from kolot.common.auth import Role
from kolot.common.settings import development_environment
from kolot.devstack import free_port
from tests.conftest import staff_headers
from tests.integration.contract.services import SERVICE_NAMES, operations, service
from tests.integration.contract.test_authorisation import (
    ANYONE,
    PARTICIPANT,
    RULES,
    participant_token,
)

pytestmark = [
    pytest.mark.integration,
    # schemathesis' own strategies draw from `random` (its bug, not ours; the draws are seeded)
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

EXAMPLES = 15
"""Generated requests per operation and generation mode: enough to find the usual crashes (odd
Unicode, out-of-range numbers, wrong types) while the whole file stays well under a minute."""


@dataclass(frozen=True)
class KnownServerError:
    """A 5xx found here whose cause is in a service: proven by its own strict xfail test (so the
    fix shows as XPASS and the entry must go), and tolerated in the fuzzing of that operation
    only for requests that ``matches`` (so the operation is still fuzzed for everything else)."""

    service: str
    method: str
    path: str
    body: Any
    reason: str
    matches: Callable[[Any], bool]


def _explicit_null(*names: str) -> Callable[[Any], bool]:
    def matches(case: Any) -> bool:
        body = case.body
        return isinstance(body, dict) and any(n in body and body[n] is None for n in names)

    return matches


CAMPAIGN_FIELDS = (
    "title",
    "description",
    "purpose",
    "use_of_input",
    "discourse_rules",
    "moderation_mode",
    "circles",
    "questions",
    "flag_threshold",
    "organiser",
    "priority",
    "retention_days",
    "keyword",
    "short_code",
    "default_language",
    "opens_at",
    "closes_at",
)

KNOWN_SERVER_ERRORS: list[KnownServerError] = [
    # Found here and fixed since (intake 0f2f2f2): an explicit null for an optional campaign
    # field made POST /v1/campaigns and PATCH /v1/campaigns/{id} answer 500. An entry looks like
    # KnownServerError("intake", "POST", "/v1/campaigns", {"title": {"en": "Buses"},
    # "description": None}, "<cause and where>", _explicit_null(*CAMPAIGN_FIELDS)).
]

ADMIN = staff_headers(Role.ADMIN)
# generated requests arrive far faster than any citizen's: limits would answer most of them 429
# and hide the code behind them (the limits themselves are intake's own tests' business)
SETTINGS: dict[str, dict[str, Any]] = {
    "intake": {
        "rate_participant_per_minute": 1e6,
        "rate_participant_burst": 100_000,
        "rate_address_per_minute": 1e6,
        "rate_address_burst": 100_000,
    },
}


def _offline_settings(name: str) -> Any:
    """Settings good enough to build an app (nothing connects before its lifespan starts)."""
    env: dict[str, Any] = {
        k.removeprefix("KOLOT_").lower(): v for k, v in development_environment().items()
    }
    env["environment"] = env.pop("env")
    env.update(nats_url="nats://127.0.0.1:1", mongodb_url="mongodb://127.0.0.1:1")
    return service(name).settings(**env)


def _cases() -> list[ParameterSet]:
    """One test per documented operation of each service, or one failing test if the app cannot
    even be built (so a broken service does not hide the others)."""
    found: list[ParameterSet] = []
    for name in SERVICE_NAMES:
        try:
            documented = operations(service(name).create_app(_offline_settings(name)))
        except Exception as exc:
            found.append(pytest.param(name, "", "", repr(exc), id=f"{name}-cannot-build"))
            continue
        for method, path in sorted(documented):
            found.append(pytest.param(name, method, path, "", id=f"{name}-{method}-{path}"))
    return found


class _ServerErrors(logging.Handler):
    """Keeps the tracebacks the apps log, to show beside the request that caused them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def since(self, index: int) -> str:
        return "\n".join(self.format(r) for r in self.records[index:])


@dataclass
class LiveService:
    name: str
    app: FastAPI
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    schema: Any = None
    path_values: dict[str, str] = field(default_factory=dict)
    """Ids of things that exist, for contributions (comments need an open campaign)."""
    admin_path_values: dict[str, str] = field(default_factory=dict)
    """The same for staff routes, which may close or archive what they are given."""

    def existing(self, method: str, path: str) -> dict[str, str]:
        staff = RULES[self.name].get((method, path), ANYONE) not in (ANYONE, PARTICIPANT)
        values = self.admin_path_values if staff else self.path_values
        return {k: v for k, v in values.items() if "{" + k + "}" in path}


class LiveServices:
    """Each service served by uvicorn in a thread of its own, started when first asked for."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.running: dict[str, LiveService] = {}
        self.errors = _ServerErrors()
        logging.getLogger().addHandler(self.errors)

    def get(self, name: str) -> LiveService:
        if name not in self.running:
            self.running[name] = self._start(name)
        return self.running[name]

    def _start(self, name: str) -> LiveService:
        found = service(name)
        app = found.create_app(found.settings(**{**self.env, **SETTINGS.get(name, {})}))
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"{name} did not start: {self.errors.since(0)}")
            time.sleep(0.05)
        live = LiveService(name, app, f"http://127.0.0.1:{port}", server, thread)
        live.schema = schemathesis.openapi.from_dict(app.openapi())
        if name == "intake":
            live.path_values["campaign_id"] = _open_campaign(live.url)
            live.admin_path_values["campaign_id"] = _open_campaign(live.url)
        return live

    def stop(self) -> None:
        for live in self.running.values():
            live.server.should_exit = True
        for live in self.running.values():
            live.thread.join(timeout=30)
        logging.getLogger().removeHandler(self.errors)


def _open_campaign(url: str) -> str:
    with httpx.Client(base_url=url, headers=ADMIN, timeout=10) as client:
        created = client.post(
            "/v1/campaigns",
            json={
                "title": {"he": "בדיקה", "en": "Fuzzing"},
                "purpose": {"en": "To find crashes"},
                "use_of_input": {"en": "Read by the test, then forgotten"},
            },
        )
        assert created.status_code == 201, created.text
        campaign_id = str(created.json()["id"])
        opened = client.post(f"/v1/campaigns/{campaign_id}/open")
        assert opened.status_code == 200, opened.text
        return campaign_id


@pytest.fixture(scope="module")
def live(nats_url: str, mongo_url: str) -> Iterator[LiveServices]:
    env: dict[str, Any] = {
        key.removeprefix("KOLOT_").lower(): value
        for key, value in development_environment().items()
        if key != "KOLOT_ENV"
    }
    env.update(
        environment="test",
        nats_url=nats_url,
        mongodb_url=mongo_url,
        namespace=f"t{secrets.token_hex(5)}",
        log_json=False,
    )
    services = LiveServices(env)
    try:
        yield services
    finally:
        services.stop()


def _headers(name: str, method: str, path: str) -> dict[str, str]:
    rule = RULES[name].get((method, path), ANYONE)
    return participant_token(method, path) if rule in (PARTICIPANT, ANYONE) else ADMIN


@pytest.mark.parametrize(("name", "method", "path", "unbuildable"), _cases())
def test_no_server_errors_and_every_4xx_is_a_problem(
    live: LiveServices, name: str, method: str, path: str, unbuildable: str
) -> None:
    assert not unbuildable, f"{name}: the app cannot be built: {unbuildable}"
    server = live.get(name)
    operation = server.schema[path][method.lower()]
    headers = _headers(name, method, path)
    known = server.existing(method, path)
    known_errors = [
        k for k in KNOWN_SERVER_ERRORS if (k.service, k.method, k.path) == (name, method, path)
    ]
    strategies = [
        operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=fixed)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for fixed in ([None, known] if known else [None])
    ]

    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def check(case: Any) -> None:
        # a generated Authorization header would replace the token this route needs
        case.headers = {**(case.headers or {}), **headers}
        logged = len(live.errors.records)
        response = case.call(base_url=server.url, timeout=30)
        if response.status_code >= 500 and any(k.matches(case) for k in known_errors):
            return  # proven by test_known_server_error; nothing else to learn from it here
        request = case.as_curl_command(base_url=server.url)
        body = response.content[:500].decode("utf-8", "replace")
        assert response.status_code < 500, (
            f"{response.status_code} for:\n  {request}\nanswer: {body}\n"
            f"server log:\n{live.errors.since(logged)}"
        )
        if 400 <= response.status_code < 500:
            content_type = response.headers.get("content-type", [""])[0]
            assert re.match(r"application/problem\+json\b", content_type), (
                f"{response.status_code} with {content_type!r}, not a problem, for:\n"
                f"  {request}\nanswer: {body}"
            )

    check()


# collected only while there is a known error to prove (an empty parametrize reads as a skip)
if KNOWN_SERVER_ERRORS:

    @pytest.mark.parametrize(
        "known",
        [
            pytest.param(
                k,
                id=f"{k.service}-{k.method}-{k.path}",
                marks=pytest.mark.xfail(strict=True, reason=k.reason),
            )
            for k in KNOWN_SERVER_ERRORS
        ],
    )
    def test_known_server_error(live: LiveServices, known: KnownServerError) -> None:
        server = live.get(known.service)
        # a fresh open campaign: the fuzzing may have closed or archived the shared ones
        values = {"campaign_id": _open_campaign(server.url)} if known.service == "intake" else {}
        path = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "fuzz-0001"), known.path)
        headers = _headers(known.service, known.method, known.path)
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            response = client.request(known.method, path, json=known.body)
        assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
