"""A JSON schema as a GBNF grammar (llama.cpp's grammar format), for a small model's reply, embedded
or on a user's server: the JSON choices beside a Write as a file block (file_reply.py), which a JSON
schema cannot express. One converter for both, so both get the same grammar.

Why not llama_cpp's own converter: a server's client need not have llama-cpp-python (the `local`
extra compiles llama.cpp for minutes), and importing it loads the native library. This covers what
the reply schemas hold (format.reply_schema: oneOf, const, enum, objects with typed properties,
strings, numbers, booleans, arrays); anything else becomes any JSON value, which the server still
constrains to JSON. Keys come in the schema's order, required ones first, as llama_cpp's converter
does; strings may hold raw line breaks, as its strings may (reply.parse_reply reads them).
"""

from __future__ import annotations

import json
from typing import Any

from ketch.conversation import valid_text

_BASE = r"""
ws ::= [ \t\n]?
json-string ::= "\"" json-char* "\""
json-char ::= [^"\\] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])
json-integer ::= "-"? [0-9]+
json-number ::= "-"? [0-9]+ ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
json-boolean ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null
json-object ::= "{" ws (json-string ws ":" ws json-value (ws "," ws json-string ws ":" ws json-value)*)? ws "}"
json-array ::= "[" ws (json-value (ws "," ws json-value)*)? ws "]"
"""
_TYPES = {"string": "json-string", "integer": "json-integer", "number": "json-number",
          "boolean": "json-boolean", "null": "json-null", "object": "json-object", "array": "json-array"}


def literal(text: str) -> str:
    """`text` as a GBNF string literal (a lone surrogate, which an MCP server's schema may hold, as U+FFFD:
    the grammar must stay encodable, or every request with that tool offered fails)."""
    text = valid_text(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


class _Builder:
    def __init__(self) -> None:
        self.rules: dict[str, str] = {}

    def add(self, name: str, body: str) -> str:
        self.rules[name] = body
        return name

    def rule(self, schema: Any, name: str) -> str:
        """The name of a rule for `schema` (a new one, or a base rule)."""
        if not isinstance(schema, dict):
            return "json-value"
        if "const" in schema:
            return self.add(name, literal(json.dumps(schema["const"], ensure_ascii=False)))
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.add(name, " | ".join(literal(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]))
        choices = schema.get("oneOf") or schema.get("anyOf")
        if isinstance(choices, list) and choices:
            return self.add(name, " | ".join(self.rule(c, f"{name}-{i}") for i, c in enumerate(choices)))
        kind = schema.get("type")
        if kind == "object" and isinstance(schema.get("properties"), dict) and schema["properties"]:
            return self._object(schema, name)
        if kind == "array" and isinstance(schema.get("items"), dict):
            item = self.rule(schema["items"], f"{name}-item")
            return self.add(name, f'"[" ws ({item} (ws "," ws {item})*)? ws "]"')
        return _TYPES.get(kind, "json-value") if isinstance(kind, str) else "json-value"

    def _object(self, schema: dict[str, Any], name: str) -> str:
        props: dict[str, Any] = schema["properties"]
        required = [k for k in props if k in set(schema.get("required", []))]
        optional = [k for k in props if k not in required]
        pair = {k: self.add(f"{name}-{i}-kv", f'{literal(json.dumps(k))} ws ":" ws {self.rule(v, f"{name}-{i}")}')
                for i, (k, v) in enumerate(props.items())}
        if required:
            body = ' ws "," ws '.join(pair[k] for k in required)
            body += "".join(f' (ws "," ws {pair[k]})?' for k in optional)
        else:  # any subset of the optional keys, in order: the first one present, then the rest
            rest = ""
            for i in range(len(optional) - 1, -1, -1):
                rest = self.add(f"{name}-rest{i}", f'(ws "," ws {pair[optional[i]]})? {rest}'.strip())
            body = "(" + " | ".join(
                f"{pair[k]} {name}-rest{i + 1}" if i + 1 < len(optional) else pair[k]
                for i, k in enumerate(optional)) + ")?"
        return self.add(name, f'"{{" ws {body} ws "}}"')


def schema_to_gbnf(schema: dict[str, Any], root: str = "root") -> str:
    """GBNF whose start rule `root` matches the JSON values `schema` allows (see the module docstring)."""
    builder = _Builder()
    start = builder.rule(schema, "reply")
    lines = [f"{root} ::= {start}", *(f"{k} ::= {v}" for k, v in builder.rules.items())]
    return "\n".join(lines) + _BASE
