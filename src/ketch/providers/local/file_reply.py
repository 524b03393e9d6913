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

import re
from pathlib import PurePosixPath

from ketch.conversation import ToolUseBlock
from ketch.providers.text_tool_calls import new_call_id

FILE_TOOL = "Write"
FENCE = "```"
_LANGUAGES = {".py": "python", ".pyi": "python", ".js": "javascript", ".ts": "typescript", ".sh": "bash",
              ".md": "markdown", ".yml": "yaml", ".yaml": "yaml", ".json": "json", ".toml": "toml",
              ".rs": "rust", ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp", ".java": "java", ".rb": "ruby"}
# The grammar's rules (GBNF, as llama.cpp reads it), all named file-*: a path with no blank, quote or
# colon (prose such as "Here:" is no path; `{` opens the JSON reply), an opening fence with an optional
# language, lines that do not start with ```, and the closing fence, after which the reply ends.
GBNF_RULES = r"""
file-reply ::= file-path "\n```" file-lang "\n" file-line* "```"
file-path ::= [^ \t\n`{}"'<>|*?:] [^ \t\n`{}"'<>|*?:]*
file-lang ::= [a-zA-Z0-9_+-]*
file-line ::= ([^`\n] [^\n]* | "`" [^`\n] [^\n]* | "``" [^`\n] [^\n]*)? "\n"
"""
# The closing fence starts a line, as the grammar has it: a line may hold ``` after its first
# character, and a reply the token limit cut right after such a ``` is not a whole file.
_REPLY = re.compile(r"\A([^\s`{][^\s`]*)\n```[\w+-]*\n((?:.*\n)?)```\s*\Z", re.DOTALL)
_FENCE_LINE = re.compile(r"^```", re.MULTILINE)
_STARTED = re.compile(r"\A([^\s`{][^\s`]*)\n```")


def language(path: str) -> str:
    """The code block's language tag for a file, by its extension ("" when unknown)."""
    return _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "")


def render(path: str, content: str) -> str:
    """A Write as the model writes it (the inverse of `parse` where `shows` says so)."""
    body = content if not content or content.endswith("\n") else content + "\n"
    return f"{path}\n{FENCE}{language(path)}\n{body}{FENCE}"


def shows(path: str, content: str) -> bool:
    """`render` reads back as this Write: the path is one a block can hold (no blank, no line break,
    no fence) and no line of the content starts with ```."""
    back = _REPLY.match(render(path, content))
    return back is not None and back.group(1) == path and not _FENCE_LINE.search(content)


def grammar(json_rules: str | None) -> str:
    """The reply grammar: a file block, or (when `json_rules` is given: GBNF for the JSON reply,
    its start rule named `root`) that JSON reply."""
    if json_rules is None:
        return "root ::= file-reply\n" + GBNF_RULES
    renamed = re.sub(r"^root\s*::=", "json-reply ::=", json_rules, count=1, flags=re.MULTILINE)
    return "root ::= json-reply | file-reply\n" + renamed + "\n" + GBNF_RULES


def parse(raw: str, cut_off: bool) -> ToolUseBlock | None:
    """The Write a file-block reply asks for; a call with `input_error` for a block that started
    but never closed; None for any other reply."""
    match = _REPLY.match(raw)
    if match is not None:
        return ToolUseBlock(id=new_call_id(), name=FILE_TOOL,
                            input={"file_path": match.group(1), "content": match.group(2)})
    if _STARTED.match(raw) is None:
        return None
    reason = ("the reply hit the token limit before the file's closing ``` (write a shorter file, or change it with Edit)"
              if cut_off else "the file block has no closing ``` line")
    return ToolUseBlock(id=new_call_id(), name=FILE_TOOL, input={}, input_error=reason, raw_input=raw)
