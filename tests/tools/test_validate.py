"""validate: one-line errors naming the bad field; lenient where JSON is ambiguous."""

from __future__ import annotations

import pytest

from ketch.tools.base import ToolError
from ketch.tools.registry import default_tools
from ketch.tools.validate import require_valid, validate

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "meta": {"type": "object", "properties": {"deep": {"type": "integer"}}, "required": ["deep"]},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": {"s": {"type": "string", "minLength": 1}}, "required": ["s"]},
        },
    },
    "required": ["name"],
}


def test_valid_input_passes_and_extras_are_ignored() -> None:
    good = {"name": "x", "count": 3, "ratio": 0.5, "flag": True, "mode": "a", "meta": {"deep": 1}, "items": [{"s": "y"}]}
    assert validate(SCHEMA, good) is None
    assert validate(SCHEMA, {"name": "x", "surprise": [1, 2]}) is None


def test_whole_float_counts_as_integer() -> None:
    assert validate(SCHEMA, {"name": "x", "count": 3.0}) is None
    assert validate(SCHEMA, {"name": "x", "ratio": 2}) is None
    assert "`count` must be integer, got number" == validate(SCHEMA, {"name": "x", "count": 3.5})


@pytest.mark.parametrize(
    "value, expected",
    [
        ({}, "missing required field `name`"),
        ({"name": 5}, "`name` must be string, got integer"),
        ({"name": "x", "count": True}, "`count` must be integer, got boolean"),
        ({"name": "x", "ratio": "1"}, "`ratio` must be number, got string"),
        ({"name": "x", "flag": "yes"}, "`flag` must be boolean, got string"),
        ({"name": "x", "mode": "c"}, '`mode` must be one of "a", "b", got "c"'),
        ({"name": "x", "meta": {}}, "missing required field `meta.deep`"),
        ({"name": "x", "meta": {"deep": "1"}}, "`meta.deep` must be integer, got string"),
        ({"name": "x", "items": []}, "`items` needs at least 1 item(s), got 0"),
        ({"name": "x", "items": [{"s": "ok"}, {"t": 1}]}, "missing required field `items[1].s`"),
        ({"name": "x", "items": [{"s": ""}]}, "`items[0].s` must not be empty"),
        ({"name": "x", "items": {"s": "y"}}, "`items` must be array, got object"),
        ([], "the input must be object, got array"),
        (None, "the input must be object, got null"),
    ],
)
def test_errors_name_the_field(value: object, expected: str) -> None:
    assert validate(SCHEMA, value) == expected


def test_errors_are_one_line() -> None:
    problem = validate(SCHEMA, {"name": "x", "mode": "line\nbreak"})
    assert problem is not None and "\n" not in problem


def test_require_valid_raises_tool_error_with_tool_name() -> None:
    with pytest.raises(ToolError, match=r"^Invalid input for Read: missing required field `name`$"):
        require_valid("Read", SCHEMA, {})


def test_every_shipped_schema_is_understood() -> None:
    """Each tool's schema accepts a minimal call and rejects a missing required field."""
    minimal = {
        "Read": {"file_path": "/x"},
        "Write": {"file_path": "/x", "content": ""},
        "Edit": {"file_path": "/x", "old_string": "a", "new_string": "b"},
        "MultiEdit": {"file_path": "/x", "edits": [{"old_string": "a", "new_string": "b"}]},
        "Bash": {"command": "ls"},
        "Glob": {"pattern": "*"},
        "Grep": {"pattern": "x"},
        "TodoWrite": {"todos": []},
    }
    for tool in default_tools():
        schema = tool.definition().input_schema
        assert validate(schema, minimal[tool.name]) is None, tool.name
        assert validate(schema, {}) is not None, tool.name
