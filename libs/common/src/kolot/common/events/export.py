"""Export the JSON Schema of every current event version, and check schemas stay compatible.

``python -m kolot.common.events.export libs/common/schemas`` writes ``<type>.v<N>.json``. A
published file is a contract: ``incompatibilities(published, current)`` lists what a change to
that version would break for readers (a field removed or retyped, a new required field), and the
test suite fails on any.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kolot.common.events._registry import EVENT_CLASSES, current_version

SCHEMA_DIR = Path(__file__).resolve().parents[4] / "schemas"


def schema_filename(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def current_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of each event type at its current version."""
    return {
        schema_filename(event_type, current_version(event_type)): cls.model_json_schema(
            mode="validation"
        )
        for event_type, cls in sorted(EVENT_CLASSES.items())
    }


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**root.get("$defs", {})[name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _shape(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A comparable summary of a (sub)schema's type, ignoring titles, descriptions and defaults."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return (
            "anyOf",
            sorted(json.dumps(_shape(s, root), sort_keys=True) for s in schema["anyOf"]),
        )
    if "const" in schema:
        return ("const", schema["const"])
    if "enum" in schema:
        return ("enum", sorted(map(str, schema["enum"])))
    kind = schema.get("type")
    if kind == "array":
        return ("array", _shape(schema.get("items", {}), root))
    return kind


def incompatibilities(
    published: dict[str, Any],
    current: dict[str, Any],
    *,
    path: str = "",
    roots: tuple[Any, Any] | None = None,
) -> list[str]:
    """What would break a reader relying on ``published`` if events now follow ``current``."""
    old_root, new_root = roots or (published, current)
    old, new = _resolve(published, old_root), _resolve(current, new_root)
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    problems += [f"{path}{name}: new required field" for name in sorted(added_required)]
    for name, old_prop in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{where}: removed")
            continue
        new_prop = new_props[name]
        if _shape(old_prop, old_root) != _shape(new_prop, new_root):
            problems.append(f"{where}: type changed")
            continue
        # look inside objects, also when optional (anyOf [object, null]) or in a list
        old_nested, new_nested = (
            _nested_object(old_prop, old_root),
            _nested_object(new_prop, new_root),
        )
        if old_nested and new_nested:
            problems += incompatibilities(
                old_nested[1],
                new_nested[1],
                path=f"{where}{old_nested[0]}.",
                roots=(old_root, new_root),
            )
    return problems


def _nested_object(schema: dict[str, Any], root: dict[str, Any]) -> tuple[str, Any] | None:
    """The object schema a property holds (``[]`` in the path for a list of them), if any."""
    schema = _resolve(schema, root)
    if schema.get("type") == "array":
        found = _nested_object(schema.get("items", {}), root)
        return (f"[]{found[0]}", found[1]) if found else None
    if "anyOf" in schema:
        objects = [found for option in schema["anyOf"] if (found := _nested_object(option, root))]
        return objects[0] if len(objects) == 1 else None
    if schema.get("type") == "object" or "properties" in schema:
        return ("", schema)
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else SCHEMA_DIR
    for path in export(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
