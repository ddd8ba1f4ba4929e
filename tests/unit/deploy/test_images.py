"""Each service's Dockerfile, read as Docker would: no engine runs here, so the properties the
images must have are checked on the instructions themselves."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass

import pytest

from tests.unit.deploy.conftest import ROOT, Service, service_names

UV_CACHE = "--mount=type=cache,target=/root/.cache/uv"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage (index 0: the ARGs before the first FROM)."""
    grouped: list[list[Instruction]] = [[]]
    for instruction in instructions:
        if instruction.keyword == "FROM":
            grouped.append([])
        grouped[-1].append(instruction)
    return grouped


def resolve(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def workspace_members() -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for pattern in ("libs/*/pyproject.toml", "services/*/pyproject.toml")
        for path in ROOT.glob(pattern)
    )


@pytest.fixture(params=service_names())
def dockerfile(request: pytest.FixtureRequest) -> tuple[str, list[Instruction]]:
    path = ROOT / "services" / request.param / "Dockerfile"
    assert path.exists(), f"services/{request.param} has no Dockerfile"
    return request.param, parse(path.read_text())


def test_runtime_image_is_python_311_slim_and_uv_comes_from_its_official_image(
    dockerfile: tuple[str, list[Instruction]],
) -> None:
    _, instructions = dockerfile
    grouped = stages(instructions)
    args = dict(
        instruction.args.split("=", 1) for instruction in grouped[0] if "=" in instruction.args
    )
    bases = [resolve(stage[0].args.split()[0], args) for stage in grouped[1:]]
    assert bases[-1] == "python:3.11-slim", "the image that runs is python:3.11-slim"
    uv_stages = {
        stage[0].args.split()[-1]
        for stage in grouped[1:]
        if resolve(stage[0].args.split()[0], args).startswith("ghcr.io/astral-sh/uv:")
    }
    copies = [i.args for stage in grouped[1:] for i in stage if i.keyword == "COPY"]
    assert any(
        re.match(rf"--from=({'|'.join(uv_stages)}|ghcr\.io/astral-sh/uv:\S+) /uv\b", copy)
        for copy in copies
    ), "uv is copied from ghcr.io/astral-sh/uv"


def test_two_cached_uv_steps_first_dependencies_then_the_service(
    dockerfile: tuple[str, list[Instruction]],
) -> None:
    name, instructions = dockerfile
    syncs = [i.args for i in instructions if i.keyword == "RUN" and "uv sync" in i.args]
    assert len(syncs) == 2, "two uv sync steps: third-party dependencies, then the workspace"
    deps, project = syncs
    for step in syncs:
        assert UV_CACHE in step, "every uv step keeps uv's cache between builds"
        assert "--frozen" in step, "images install exactly what uv.lock says"
        assert "--no-dev" in step
        assert re.search(rf"--package kolot-{name}\b", step) or "--all-packages" in step
    assert "--no-install-project" in deps
    assert "--no-install-workspace" in deps, "the first layer must not depend on our code"
    assert "--no-install-project" not in project
    assert "--no-install-workspace" not in project
    # the dependency layer sees only the lock and the manifests, so code changes keep it cached
    bound = set(re.findall(r"--mount=type=bind,source=([^,\s]+)", deps))
    assert bound == {"uv.lock", "pyproject.toml", *workspace_members()}


def test_runs_as_a_non_root_user_with_the_same_command_as_everywhere(
    dockerfile: tuple[str, list[Instruction]],
) -> None:
    name, instructions = dockerfile
    final = stages(instructions)[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric uid: runAsNonRoot cannot check a user name"
    assert int(uid) >= 1000, "not root, nor a system account"
    entry = [i for i in final if i.keyword in ("ENTRYPOINT", "CMD")]
    assert entry, "the image has a command"
    command = json.loads(entry[0].args)
    assert command == [f"kolot-{name}"]
    scripts = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())["project"][
        "scripts"
    ]
    assert f"kolot-{name}" in scripts, "the entry command is the service's console script"


def test_stops_on_sigterm_and_checks_its_own_readiness(
    dockerfile: tuple[str, list[Instruction]], services: list[Service]
) -> None:
    name, instructions = dockerfile
    port = next(s.port for s in services if s.name == name)
    final = stages(instructions)[-1]
    keywords = {i.keyword: i.args for i in final}
    assert keywords.get("STOPSIGNAL") == "SIGTERM"
    assert keywords.get("EXPOSE") == str(port)
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert f"KOLOT_HTTP_PORT={port}" in env
    assert "KOLOT_HTTP_HOST=0.0.0.0" in env, "reachable from outside the container"
    assert f"127.0.0.1:{port}/readyz" in keywords.get("HEALTHCHECK", "")


def test_build_context_leaves_out_what_images_do_not_need() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for pattern in ("**/.git", "**/.venv", "tests", ".kolot", "**/*.env"):
        assert pattern in ignored
    for needed in ("uv.lock", "pyproject.toml", "libs", "services", "services/*"):
        assert needed not in ignored
