"""Turn a tool call's streamed argument text into the input dict, never raising."""

from __future__ import annotations

import json
from typing import Any


def parse_tool_input(text: str, start_input: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """(input, input_error, raw_input) from the streamed argument JSON.

    A model can emit arguments that are not JSON, or not an object; the loop then answers
    with an error result instead of failing the whole turn, so this never raises.
    """
    if not text:
        return (start_input if isinstance(start_input, dict) else {}), None, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {}, f"tool input is not valid JSON: {exc}", text
    if not isinstance(value, dict):
        return {}, f"tool input is a JSON {type(value).__name__}, not an object", text
    return value, None, None
