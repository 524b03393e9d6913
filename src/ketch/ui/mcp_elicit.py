"""An MCP server's elicitation, asked in the REPL: its message and the fields of a flat form.

The spec limits a form to a flat object of strings, numbers, integers, booleans and enums; a
schema with anything else (a nested object, an array) is declined, with the reason shown. The
message and every label are the server's text: escaped before they reach the terminal. The
answer is `{"action": "accept", "content": {...}}`, `{"action": "decline"}` (the person said
no) or `{"action": "cancel"}` (dismissed, or gave up on a field).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_FIELDS = 20
TRIES = 3  # a field answered wrongly this many times cancels the form
_YES = ("y", "yes", "true", "1", "on")
_NO = ("n", "no", "false", "0", "off")


def choices(spec: dict[str, Any]) -> list[tuple[Any, str]]:
    """(value, label) of an enum field: `enum` (with `enumNames`), or `oneOf`/`anyOf` of `const`s."""
    if isinstance(spec.get("enum"), list):
        given = spec.get("enumNames")
        names: list[Any] = given if isinstance(given, list) else []
        return [(v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(spec["enum"])]
    options = spec.get("oneOf") or spec.get("anyOf")
    if isinstance(options, list):
        return [(o["const"], str(o.get("title") or o["const"])) for o in options if isinstance(o, dict) and "const" in o]
    return []


def kind_of(spec: dict[str, Any]) -> str | None:
    """"enum", "boolean", "integer", "number" or "string"; None for what a flat form cannot hold."""
    if choices(spec):
        return "enum"
    kind = spec.get("type", "string")
    return kind if kind in ("boolean", "integer", "number", "string") else None


def parse(spec: dict[str, Any], text: str) -> tuple[Any, str | None]:
    """The value `text` gives the field, or (None, what is wrong with it)."""
    kind = kind_of(spec)
    text = text.strip()
    if kind == "enum":
        options = choices(spec)
        for i, (value, label) in enumerate(options, 1):
            if text in (str(value), label, str(i)):
                return value, None
        return None, "pick one of: " + ", ".join(f"{i} {label}" for i, (_, label) in enumerate(options, 1))
    if kind == "boolean":
        if text.lower() in _YES or text.lower() in _NO:
            return text.lower() in _YES, None
        return None, "answer y or n"
    if kind in ("integer", "number"):
        try:
            number: float = int(text) if kind == "integer" else float(text)
        except ValueError:
            return None, f"expected {'a whole number' if kind == 'integer' else 'a number'}"
        low, high = spec.get("minimum"), spec.get("maximum")
        if isinstance(low, (int, float)) and number < low or isinstance(high, (int, float)) and number > high:
            return None, f"expected a number from {low if low is not None else '-∞'} to {high if high is not None else '∞'}"
        return number, None
    low, high = spec.get("minLength"), spec.get("maxLength")
    if isinstance(low, int) and len(text) < low or isinstance(high, int) and len(text) > high:
        return None, f"expected {low or 0} to {high if high is not None else 'any number of'} characters"
    return text, None


def label(name: str, spec: dict[str, Any], required: bool) -> str:
    kind = kind_of(spec) or "?"
    title = str(spec.get("title") or name)[:80]
    hint = " / ".join(f"{i} {lab}" for i, (_, lab) in enumerate(choices(spec), 1)) if kind == "enum" else \
        "y/n" if kind == "boolean" else kind
    default = f", Enter for {spec['default']}" if "default" in spec else ""
    return f"{title} ({hint}{', required' if required else default})"


def ask_form(r: Any, ask_line: Callable[[str], str], message: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Ask the person; the elicitation result to send back."""
    given = schema.get("properties")
    props: dict[str, Any] = given if isinstance(given, dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    fields = [(str(n), s) for n, s in list(props.items())[:MAX_FIELDS] if isinstance(s, dict)]
    r.end_text()
    r.line(f"? An MCP server asks: {message}", "bold yellow")
    unsupported = [n for n, s in fields if kind_of(s) is None]
    if unsupported:
        r.warn(f"  it asks for {', '.join(unsupported)}, which ketch cannot ask for (not a flat form); declined")
        return {"action": "decline"}
    for name, spec in fields:
        described = f": {str(spec['description'])[:200]}" if spec.get("description") else ""
        r.line(f"    {label(name, spec, name in required)}{described}")
    answer = ask_line("  [y] answer  [n] decline  [Enter] cancel: ").strip().lower()
    if answer not in ("y", "yes"):
        r.info("  declined" if answer in ("n", "no") else "  cancelled")
        return {"action": "decline" if answer in ("n", "no") else "cancel"}
    content: dict[str, Any] = {}
    for name, spec in fields:
        for _ in range(TRIES):
            text = ask_line(f"  {label(name, spec, name in required)}: ")
            if not text.strip() and name not in required:
                if "default" in spec:
                    content[name] = spec["default"]
                break
            value, problem = parse(spec, text) if text.strip() else (None, "an answer is required")
            if problem is None:
                content[name] = value
                break
            r.warn(f"    {problem}")
        else:
            r.info("  cancelled")
            return {"action": "cancel"}
    r.info("  sent")
    return {"action": "accept", "content": content}
