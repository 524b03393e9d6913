"""The tools as a small local model sees them: narrow schemas, and its line-number slips undone.

Why narrow: offered Grep's dozen options, qwen2.5-coder-1.5b filled `type` with "string"
(rg: unrecognized file type) and Glob's `path` with a folder that does not exist. Every
optional field left out of the schema is left out of the prompt and of the grammar, so the
model cannot produce it. Required fields are always kept; normal models keep full schemas.

Why Read shows at most SMALL_READ_LINES lines unless asked for a range: a small model's
context is 8k tokens and it reads at ~100 prompt tokens/s on two cores; asked to summarise
this project, qwen2.5-coder-1.5b read the whole 169-line README (~4,000 tokens, most of the
run's minutes) to write a paragraph the first screen supports. Read itself says where it
stopped and which offset reads on, so `offset` is one of Read's fields here.

Why the repairs: Read and Edit show files as numbered lines (`     1\tcode`), and a small
model copies those prefixes into what it writes (measured: a Write of `     1\t# color
settings\n     2\t...`, which would have put the numbers into the file). A text in which every
line carries exactly Read's prefix, numbered consecutively, is taken without the prefixes;
a text wrapped whole in a Markdown code fence is taken without the fence (`unfence`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.localmodels.profile import SMALL_TOOLS, WHOLE_FILE_LINES

# The optional fields a small model may fill, per tool; every other optional field is dropped.
SMALL_OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "Read": ("offset",),
    "Edit": ("replace_all",),
    "Grep": ("path", "output_mode"),
}
# The fields holding file text, whose copied line-number prefixes are removed.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {"Write": ("content",), "Edit": ("old_string", "new_string")}
MAX_PEEK_BYTES = 2_000_000  # a file this big is not looked at for a repair
SMALL_READ_LINES = 100  # Read's default window for a small model (the full profile's is 2,000)
_NUMBERED = re.compile(r" *(\d+)\t")
_FENCED = re.compile(r"\A[ \t]*```[\w+.-]*[ \t]*\n(.*?)\n?[ \t]*```[ \t]*\n?\Z", re.DOTALL)
_MARKDOWN = (".md", ".markdown", ".mdx", ".rst", ".txt")
# A line opening or closing a docstring whose triple quote lost one or two of its quotes: `    "Text...`, `    ""`.
_SHORT_DELIMITER = re.compile(r'^(\s*)"{1,2}(?=[^"]*$)', re.MULTILINE)


def small_schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with only its required fields and the tool's allowed optional ones."""
    keep = set(schema.get("required", [])) | set(SMALL_OPTIONAL_FIELDS.get(name, ()))
    props = {k: v for k, v in schema.get("properties", {}).items() if k in keep}
    return {**schema, "properties": props, "additionalProperties": False}


def unnumber(text: str) -> str:
    """`text` without Read's line-number prefixes, if every line has one (numbered 1, 2, 3... from
    any start, right-aligned in six columns as Read writes them); otherwise `text` unchanged."""
    lines = text.split("\n")
    body = lines[:-1] if len(lines) > 1 and lines[-1] == "" else lines
    out: list[str] = []
    expected: int | None = None
    for line in body:
        match = _NUMBERED.match(line)
        if match is None:
            return text
        number = int(match.group(1))
        if match.group(0) != f"{number:>6}\t" or expected not in (None, number):
            return text
        expected = number + 1
        out.append(line[match.end():])
    return "\n".join(out + lines[len(body):])


def unfence(text: str) -> str:
    """`text` without a Markdown code fence around the whole of it; otherwise `text` unchanged.

    Why: ketch shows code to a small model in fences (the closed loop's failures), and the model
    wraps what it writes the same way (measured: a Write of "```python\\n__version__ = ...\\n```"
    to a .py file, refused by the syntax guard five times in a row)."""
    match = _FENCED.match(text)
    if match is None or "```" in match.group(1):
        return text
    return match.group(1)


def mend_docstring_quotes(text: str) -> str:
    """Python `text` with docstring delimiters that lost quotes made whole again, if that and only
    that makes it parse; otherwise `text` unchanged.

    Why: a small model writing a file inside a JSON string must escape each quote of `\"\"\"`, and
    drops some (measured, qwen2.5-coder-1.5b on a file with doctests: `    \"The initials...` to open
    and `    \"\"` to close, twice refused by the syntax guard, then the same Write again). A line that
    starts with one or two double quotes and has no other is taken as such a delimiter."""
    import ast

    if '"' not in text or _parses(text, ast):
        return text
    mended = _SHORT_DELIMITER.sub(r'\1"""', text)
    return mended if mended != text and _parses(mended, ast) else text


def _parses(text: str, ast: Any) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


class SmallTool:
    """A tool as a small model sees it: the same tool, a narrower schema. Calls that fit the
    narrow schema fit the full one, so the tool itself (and its own validation) is unchanged."""

    def __init__(self, tool: Any) -> None:
        self._tool = tool
        full = tool.definition()
        self._definition: ToolDef = replace(full, input_schema=small_schema(full.name, full.input_schema))

    def definition(self) -> ToolDef:
        return self._definition

    def run(self, input: dict[str, Any], ctx: Any) -> Any:
        """The call exactly as given. Why not repaired here: dispatch repaired it (`repair_input`) before
        hooks, gate and preview judged it, and a second pass is not a no-op (text numbered twice lost
        its second layer after a hook had judged the first; a hook's rewrite was rewritten again).

        An Edit of a short file whose old_string is not there is told to write the file whole: the
        edit format by file size (issue 16). Measured, qwen2.5-coder-1.5b retyped the same wrong
        old_string for a 22-line file until the time ran out, where a whole-file Write of it went through."""
        from ketch.errors import OldStringNotFound

        try:
            return self._tool.run(input, ctx)
        except OldStringNotFound as exc:
            if not 0 < exc.file_lines <= WHOLE_FILE_LINES:
                raise
            name = Path(str(input.get("file_path", "the file"))).name
            raise OldStringNotFound(f"{exc} {name} is short ({exc.file_lines} lines): instead of Edit, Write the "
                                    "whole corrected file, every line of it.", exc.file_lines) from None

    def repair_input(self, input: dict[str, Any], ctx: Any, may_read: Callable[[Path], bool]) -> dict[str, Any]:
        """The call with its slips undone, as hooks, the gate and the preview will see it (tools.base.RepairsInput).

        An Edit whose old_string is not in the file but is there with its quotes swapped gets the
        swapped text. Why: small models retype code with the other quote character (measured:
        `''.join(...)` for the file's `"".join(...)`, twice, then a timeout), and no hint about
        copying exactly helps. The file is looked at only when the model may Read it without asking anyone."""
        input = self._repaired(input)
        old = input.get("old_string")
        if self._tool.name != "Edit" or not isinstance(old, str) or not ("'" in old or '"' in old):
            return input
        text = _peek(self._tool, input, ctx, may_read)
        if text is None or old in text:
            return input
        for swapped in (old.replace("'", '"'), old.replace('"', "'")):
            if swapped != old and swapped in text:
                return {**input, "old_string": swapped}
        return input

    def _repaired(self, input: dict[str, Any]) -> dict[str, Any]:
        if self._tool.name == "Read" and input.get("limit") is None:
            input = {**input, "limit": SMALL_READ_LINES}
        fields = [f for f in TEXT_FIELDS.get(self._tool.name, ()) if isinstance(input.get(f), str)]
        if fields:
            prose = str(input.get("file_path", "")).lower().endswith(_MARKDOWN)  # a fence may belong there
            repaired = {f: unnumber(input[f] if prose else unfence(input[f])) for f in fields}
            content = repaired.get("content")
            if content and content != unnumber(input["content"]) and not content.endswith("\n"):
                repaired["content"] = content = content + "\n"  # a whole file ends with a line break; a fence's inside does not
            if content and str(input.get("file_path", "")).endswith((".py", ".pyi")):
                repaired["content"] = mend_docstring_quotes(content)
            input = {**input, **repaired}
        return input

    def __getattr__(self, name: str) -> Any:  # name, kind, ...: the real tool's
        return getattr(self._tool, name)


def _peek(tool: Any, input: dict[str, Any], ctx: Any, may_read: Callable[[Path], bool]) -> str | None:
    """The text of the one regular file the call targets, if it may be read and is not too big."""
    from ketch.errors import ToolError

    try:
        [path] = tool.paths(input, ctx)
        if not may_read(path) or not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)  # swapped for a FIFO or link since: no wait
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_PEEK_BYTES + 1)
    except (ToolError, OSError, ValueError):
        return None
    return data.decode("utf-8", errors="replace") if len(data) <= MAX_PEEK_BYTES else None


def small_tools(tools: list[Any]) -> list[Any]:
    """The small-model tool set: only SMALL_TOOLS, each with its narrow schema."""
    return [SmallTool(t) for t in tools if t.name in SMALL_TOOLS]
