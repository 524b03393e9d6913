"""A small model writes a whole file as Markdown, not as a JSON string: the path on one line, then
the file in a ``` block. The reply is still decoded under a grammar (`grammar`), and read back
into an ordinary Write call (`parse`), so the gate, the hooks, the syntax and gutting guards and the
test-file rule judge it exactly as they judge any Write.

Why: inside JSON every quote and backslash of the file must be escaped, and qwen2.5-coder-1.5b
slips where a file is dense with them (tune split, issue 16): it dropped the quotes of `\"\"\"`
(docstrings opened with `"`, closed with `""`), dropped a module docstring and a function's spec
docstring it would have had to escape, and wrote `size)}` for `size)]`. A code block is the form
the model was trained to write code in; nothing in it is escaped. The Markdown is also what a past
Write is rendered back as (`render`), byte for byte what the grammar let the model write for a
Python file, so the cached prompt prefix of later turns stays valid.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

from ketch.conversation import Block, TextBlock, ToolUseBlock
from ketch.providers.local.gbnf import literal
from ketch.providers.text_tool_calls import new_call_id

FILE_TOOL = "Write"
FENCE = "```"
_LANGUAGES = {".py": "python", ".pyi": "python", ".js": "javascript", ".ts": "typescript", ".sh": "bash",
              ".md": "markdown", ".yml": "yaml", ".yaml": "yaml", ".json": "json", ".toml": "toml",
              ".rs": "rust", ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp", ".java": "java", ".rb": "ruby"}
# The grammar's rules (GBNF, as llama.cpp reads it), all named file-*: a path with no blank, quote or
# colon (prose such as "Here:" is no path; `{` opens the JSON reply), an opening fence with an optional
# language, lines that do not start with ```, and the closing fence; then another block, or the answer
# (`{"answer": "..."}`), or the end. Why the answer: offered only blocks after a block, qwen2.5-coder-1.5b
# wrote its answer as a file (`The_tests_passed.json` holding `{"answer": ...}`, on a server, tune split).
GBNF_RULES = r"""
file-reply ::= file-block ("\n\n" file-block)* ("\n\n" file-answer)?
file-answer ::= "{" file-ws "\"answer\"" file-ws ":" file-ws "\"" file-char* "\"" file-ws "}"
file-char ::= [^"\\] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])
file-ws ::= [ \t\n]?
file-block ::= file-path "\n```" file-lang "\n" file-line* "```"
file-path ::= [^ \t\n`{}"'<>|*?:] [^ \t\n`{}"'<>|*?:]*
file-lang ::= [a-zA-Z0-9_+-]*
file-line ::= ([^`\n] [^\n]* | "`" [^`\n] [^\n]* | "``" [^`\n] [^\n]*)? "\n"
"""
BETWEEN = "\n\n"  # between two blocks of one reply
# One block as the grammar has it: the closing fence is the first line that starts with ```, and it
# ends the reply or a blank line follows it.
_BLOCK = re.compile(r"([^\s`{][^\s`]*)\n```[\w+-]*\n((?:(?!```)[^\n]*\n)*)```(?=\n|\Z)")
_STARTED = re.compile(r"([^\s`{][^\s`]*)\n```")
_BLANK_TO_END = re.compile(r"\s*\Z")  # the rest of the reply is blank (looked at in place: no copy per block)


def language(path: str) -> str:
    """The code block's language tag for a file, by its extension ("" when unknown)."""
    return _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "")


def render_body(content: str) -> str:
    """A file's text as a block holds it: ending with a line break."""
    return content if not content or content.endswith("\n") else content + "\n"


def render(path: str, content: str) -> str:
    """A Write as the model writes it (the inverse of `parse` where `shows` says so)."""
    return f"{path}\n{FENCE}{language(path)}\n{render_body(content)}{FENCE}"


def shows(path: str, content: str) -> bool:
    """`render` reads back as this Write: the path is one a block can hold (no blank, no line break,
    no fence) and no line of the content starts with ```."""
    back = parse(render(path, content), cut_off=False)
    return (back is not None and len(back) == 1 and isinstance(back[0], ToolUseBlock)
            and back[0].input == {"file_path": path, "content": render_body(content)})


def grammar(json_rules: str | None, paths: tuple[str, ...] = ()) -> str:
    """The reply grammar: file blocks, or (when `json_rules` is given: GBNF for the JSON reply,
    its start rule named `root`) that JSON reply. With `paths`, a block may name only those files."""
    if json_rules is None:
        rules = GBNF_RULES
        if paths:
            rules = re.sub(r"^file-path ::= .*$", lambda _: "file-path ::= " + " | ".join(map(literal, paths)),
                           rules, count=1, flags=re.MULTILINE)
        return "root ::= file-reply\n" + rules
    renamed = re.sub(r"^root\s*::=", "json-reply ::=", json_rules, count=1, flags=re.MULTILINE)
    return "root ::= json-reply | file-reply\n" + renamed + "\n" + GBNF_RULES


def parse(raw: str, cut_off: bool) -> list[Block] | None:
    """The Writes a file-block reply asks for, one per block (a model changing two files writes two
    blocks: measured, qwen2.5-coder-1.5b bumping a version in two files began a second block inside
    the first when the grammar allowed one), and the answer that may follow them; a call with
    `input_error` for a block that started but never closed; None for a reply that is not blocks."""
    calls: list[Block] = []
    pos = 0
    while True:
        block = _BLOCK.match(raw, pos)
        if block is None:
            if _STARTED.match(raw, pos) is None:
                return None
            reason = ("the reply hit the token limit before the file's closing ``` (write a shorter file, or "
                      "change it with Edit)" if cut_off else "the file block has no closing ``` line")
            return [*calls, ToolUseBlock(id=new_call_id(), name=FILE_TOOL, input={}, input_error=reason,
                                         raw_input=raw[pos:])]
        calls.append(ToolUseBlock(id=new_call_id(), name=FILE_TOOL,
                                  input={"file_path": block.group(1), "content": block.group(2)}))
        pos = block.end()
        if _BLANK_TO_END.match(raw, pos):  # raw[pos:].strip() copied the rest once per block: quadratic
            return calls
        if not raw.startswith(BETWEEN, pos):
            return None
        pos += len(BETWEEN)
        if raw.startswith("{", pos):
            answer = _answer(raw[pos:])
            return None if answer is None else [*calls, TextBlock(answer)]


def _answer(text: str) -> str | None:
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    return value["answer"] if isinstance(value, dict) and isinstance(value.get("answer"), str) else None
