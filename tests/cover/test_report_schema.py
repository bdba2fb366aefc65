"""docs/report-schema.json, and a small validator for the subset of JSON Schema it uses.

The CLI tests validate every JSON report against the schema with `validate_report` (no
dependency on a JSON-Schema package); the tests here make sure the validator itself rejects
what it must, so a passing CLI test means something.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_KNOWN_KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties", "required",
    "additionalProperties", "items", "enum", "const", "anyOf", "oneOf", "minimum", "minItems",
}


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$"
) -> list[str]:
    """Every way `instance` breaks `schema`, as `path: problem` strings (empty: valid)."""
    unknown = set(schema) - _KNOWN_KEYWORDS
    if unknown:
        return [f"{path}: schema uses unsupported keywords {sorted(unknown)}"]
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return validate(instance, root["$defs"][name], root, path)
    problems: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, name) for name in names):
            return [f"{path}: expected {'/'.join(names)}, got {type(instance).__name__}"]
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{path}: expected {schema['const']!r}, got {instance!r}")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if "minimum" in schema and _is_type(instance, "number") and instance < schema["minimum"]:
        problems.append(f"{path}: {instance} is below {schema['minimum']}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found = [validate(instance, option, root, path) for option in schema[key]]
            matches = sum(not p for p in found)
            if matches == 0 or (key == "oneOf" and matches > 1):
                problems.append(f"{path}: matches {matches} of the {key} options")
                # Say why it failed the closest option: that is the one the author meant.
                problems += min(found, key=len) if matches == 0 else []
    if isinstance(instance, dict):
        problems += _validate_object(instance, schema, root, path)
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for index, item in enumerate(instance):
                problems += validate(item, schema["items"], root, f"{path}[{index}]")
    return problems


def _validate_object(instance: dict[str, Any], schema: dict[str, Any], root: dict[str, Any],
                     path: str) -> list[str]:
    required = schema.get("required", ())
    problems = [f"{path}: missing {key!r}" for key in required if key not in instance]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if key in properties:
            problems += validate(value, properties[key], root, f"{path}.{key}")
        elif extra is False:
            problems.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, dict):
            problems += validate(value, extra, root, f"{path}.{key}")
    return problems


def _is_type(instance: Any, name: str) -> bool:
    if isinstance(instance, bool) and name in ("integer", "number"):
        return False  # JSON has no boolean numbers; Python's bool is an int
    return isinstance(instance, _TYPES[name])


def validate_report(document: Any) -> None:
    """Assert that a JSON report follows docs/report-schema.json."""
    schema = load_schema()
    problems = validate(document, schema, schema)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------


def test_schema_is_json_with_a_definition_per_command() -> None:
    schema = load_schema()
    commands = {option["$ref"].removeprefix("#/$defs/") for option in schema["oneOf"]}
    # explore_crash: an `explore` whose model raised reports the crash instead
    assert commands == {"check", "impls", "run", "explore", "explore_crash", "hunt", "stats",
                        "conform", "explore-live", "evaluate"}
    for name in commands:
        assert schema["$defs"][name]["properties"]["command"]["const"] == name.removesuffix(
            "_crash"
        )


def test_every_reference_resolves_and_every_keyword_is_supported() -> None:
    schema = load_schema()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"].removeprefix("#/$defs/") in schema["$defs"], node["$ref"]
            for key, value in node.items():
                if key not in ("properties", "$defs"):
                    assert key in _KNOWN_KEYWORDS, key
                if key in ("properties", "$defs"):
                    for child in value.values():
                        walk(child)
                else:
                    walk(value)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)


def _impls_document(**changes: Any) -> dict[str, Any]:
    document = {
        "schema": "ptediff-report/1",
        "command": "impls",
        "impls": [{"name": "postfix", "class": "ptediff.impls.base:Kernel", "reverts": ""}],
    }
    document.update(changes)
    return document


def test_validator_accepts_a_valid_document() -> None:
    validate_report(_impls_document())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"command": "nonsense"}, "oneOf"),
        ({"schema": "ptediff-report/0"}, "oneOf"),
        (
            {"impls": [{"name": "postfix", "class": "ptediff.impls.base:Kernel"}]},
            "missing 'reverts'",
        ),
        ({"impls": [{"name": 3, "class": "x:Y", "reverts": ""}]}, "expected string"),
        ({"impls": "postfix"}, "expected array"),
        ({"extra": 1}, "unexpected key 'extra'"),
    ],
)
def test_validator_rejects_broken_documents(changes: dict[str, Any], problem: str) -> None:
    schema = load_schema()
    document = _impls_document(**changes)
    problems = validate(document, schema, schema)
    assert any(problem in p for p in problems), problems


def test_booleans_are_not_integers() -> None:
    assert validate(True, {"type": "integer"}, {}) == ["$: expected integer, got bool"]
    assert validate(3, {"type": ["integer", "null"]}, {}) == []
