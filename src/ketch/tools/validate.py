"""A small JSON-schema checker for tool inputs.

Why not `jsonschema`: it costs tens of milliseconds to import and tools only use a sliver
of the language. Why check at all: a model that sends `offset: "ten"` should get one line
naming the field, not a traceback from deep inside a tool.

Supported: type (one or a list of object/array/string/integer/number/boolean/null),
properties, required, items, enum, minItems, maxItems, minLength, minimum, maximum.
Unknown extra fields are ignored (models add them; they harm nothing). An integer given
as a whole float (`3.0`) counts as an integer, because some providers send all numbers
as floats.
"""

from __future__ import annotations

import json
from typing import Any

from ketch.tools.base import ToolError


def _is_type(value: Any, kind: str) -> bool:
    # bool is a subclass of int in Python but not a number in JSON.
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return True  # an unknown type word constrains nothing


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _where(path: str) -> str:
    return f"`{path}`" if path else "the input"


def validate(schema: dict[str, Any], value: Any, path: str = "") -> str | None:
    """The first problem with `value` against `schema`, as one line, or None if it fits."""
    kinds = schema.get("type")
    if kinds is not None:
        options = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is_type(value, k) for k in options):
            return f"{_where(path)} must be {' or '.join(options)}, got {_json_type(value)}"
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"])
        return f"{_where(path)} must be one of {allowed}, got {json.dumps(value, default=str)}"
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        return f"{_where(path)} must not be empty" if schema["minLength"] == 1 else (
            f"{_where(path)} must be at least {schema['minLength']} characters"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{_where(path)} must be at least {schema['minimum']}, got {value}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{_where(path)} must be at most {schema['maximum']}, got {value}"
    if isinstance(value, dict):
        return _validate_object(schema, value, path)
    if isinstance(value, list):
        return _validate_array(schema, value, path)
    return None


def _validate_object(schema: dict[str, Any], value: dict[str, Any], path: str) -> str | None:
    prefix = f"{path}." if path else ""
    for name in schema.get("required", ()):
        if name not in value:
            return f"missing required field `{prefix}{name}`"
    for name, sub in schema.get("properties", {}).items():
        if name in value:
            problem = validate(sub, value[name], f"{prefix}{name}")
            if problem:
                return problem
    return None


def _validate_array(schema: dict[str, Any], value: list[Any], path: str) -> str | None:
    if len(value) < schema.get("minItems", 0):
        return f"{_where(path)} needs at least {schema['minItems']} item(s), got {len(value)}"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"{_where(path)} allows at most {schema['maxItems']} item(s), got {len(value)}"
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            problem = validate(items, item, f"{path}[{i}]")
            if problem:
                return problem
    return None


def require_valid(tool_name: str, schema: dict[str, Any], value: Any) -> None:
    """Raise ToolError naming the bad field, so the model can fix its call and retry."""
    problem = validate(schema, value)
    if problem:
        raise ToolError(f"Invalid input for {tool_name}: {problem}")
