"""Per-node reasons never to auto-allow a line: constructs bash gives a meaning static
analysis cannot see (substitutions, arithmetic on variables, heredoc bodies), and spots
where tree-sitter-bash is known to read a line differently from bash.

Each check looks at one node of the tree and reports problems; none of them builds
commands (that is `walk.py`'s job).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ketch.security.shell.syntax import Source
from ketch.security.shell.types import ShellAnalysis
from ketch.security.shell.words import braced_expansion_problem

REGION_TYPES = frozenset({"command_substitution", "process_substitution", "expansion",
                          "simple_expansion", "arithmetic_expansion"})
_ARITH_OK_LEAF = re.compile(r"[0-9][0-9A-Za-z#]*|[-+*/%<>=!&|^~?:,()]+|\*\*|\$\(\(|\)\)|\$\[|\]|\(\(|;")
_SAFE_LOOP_VAR = re.compile(r"[a-z_][a-z0-9_]*")
RISKY_LOWER_VARS = frozenset({"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"})
_DELIMITER = re.compile(r"""(?:'([A-Za-z0-9_.\-]+)'|"([A-Za-z0-9_.\-]+)"|\\?([A-Za-z0-9_.\-]+))""")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_BRACE_CLOSE_AFTER = re.compile(rb"(?:[;&\n)}]|(?:^|[\s;&])(?:fi|done|esac))[ \t]*$")
_SCANNED_LEAVES = frozenset({"word", "regex", "extglob_pattern", "string_content"})
_HIDDEN = re.compile(r"\$[({\[]|`")
_BACKQUOTED = re.compile(r"`((?:[^`\\]|\\.)*)`", re.DOTALL)


class Checker:
    def __init__(self, source: Source, analysis: ShellAnalysis) -> None:
        self.src = source
        self.analysis = analysis
        self.nested_code: list[str] = []  # code bash runs that the grammar left as text

    def problem(self, text: str) -> None:
        self.analysis.add_problem(text)

    def check(self, node: Any) -> None:
        t = node.type
        if t == "ERROR" or node.is_missing:
            self.problem("parse error")
        if not node.is_named:
            if t in (";;", ";&", ";;&") and (node.parent is None or node.parent.type != "case_item"):
                self.problem("parse error")
            return
        if node.child_count == 0 and t in _SCANNED_LEAVES and hidden_expansion(self.src.slice(node)):
            self.problem("parse error")  # bash would expand what the grammar took as text
        check = _CHECKS.get(t)
        if check is not None:
            check(self, node)

    # -- the checks, by node type ---------------------------------------------------------------

    def substitution(self, node: Any) -> None:
        self.problem(node.type.replace("_", " "))

    def assignment(self, node: Any) -> None:
        if not _ASSIGNMENT.match(self.src.slice(node)):
            self.problem("parse error")  # `--x=1` is a command to bash, not an assignment

    def negation(self, node: Any) -> None:
        if self.src.data[node.start_byte + 1:node.start_byte + 2] not in (b" ", b"\t"):
            self.problem("parse error")  # `!x` is a command named !x to bash

    def compound(self, node: Any) -> None:
        first = node.children[0].type if node.children else ""
        if first == "((":
            self.arithmetic(node)
        elif first == "{":
            self.brace_group(node)

    def brace_group(self, node: Any) -> None:
        """`{` and `}` are reserved words to bash only as separate words: `{ls;}` runs `{ls`."""
        data = self.src.data
        close = node.children[-1]
        if data[node.start_byte + 1:node.start_byte + 2] not in (b" ", b"\t", b"\n") or close.type != "}" \
                or not _BRACE_CLOSE_AFTER.search(data[node.start_byte:close.start_byte]):
            self.problem("parse error")

    def arithmetic(self, node: Any) -> None:
        """Arithmetic evaluates a variable's contents as an expression, and an array subscript
        in there runs command substitution (`x='a[$(id)]'; echo $((x))`): literals only."""
        stack = [c for c in node.children if c.type not in ("do_group", "compound_statement")]
        while stack:
            child = stack.pop()
            if child.child_count:
                if child.type not in ("command_substitution", "process_substitution"):
                    stack.extend(child.children)
                continue
            if child.type not in ("ERROR", "comment") and \
                    not _ARITH_OK_LEAF.fullmatch(self.src.slice(child).strip() or "0"):
                self.problem("variable in arithmetic")
                return

    def expansion(self, node: Any) -> None:
        text = self.src.slice(node)
        braced = text.startswith("${") and text.endswith("}")
        problem = braced_expansion_problem(text[2:-1]) if braced else "unsupported expansion"
        if problem:
            self.problem(problem)

    def subscript(self, node: Any) -> None:
        index = node.child_by_field_name("index")
        if not re.fullmatch(r"[0-9]+|@|\*", self.src.slice(index) if index is not None else ""):
            self.problem("variable in arithmetic")

    def function(self, node: Any) -> None:
        self.problem("function definition")

    def loop(self, node: Any) -> None:
        """`for PATH in ./evil; do git status; done` changes what later commands run."""
        var = node.child_by_field_name("variable")
        name = self.src.slice(var) if var is not None else ""
        if not _SAFE_LOOP_VAR.fullmatch(name) or name in RISKY_LOWER_VARS:
            self.problem("loop variable " + (name or "?"))

    def heredoc(self, node: Any) -> None:
        """The body is data, unless its delimiter is unquoted: then bash expands it. And bash
        ends it only on a line exactly equal to the delimiter, which the grammar does not."""
        kids = {c.type: c for c in node.children}
        start, body, end = kids.get("heredoc_start"), kids.get("heredoc_body"), kids.get("heredoc_end")
        strip = "<<-" in kids
        m = _DELIMITER.fullmatch(self.src.slice(start)) if start else None
        if not m or end is None:
            self.problem("heredoc")
            return
        delimiter = next(g for g in m.groups() if g)
        quoted = m.group(3) is None or self.src.slice(start).startswith("\\")
        data = self.src.data
        line_start = data.rfind(b"\n", 0, end.start_byte) + 1
        line_end = data.find(b"\n", end.end_byte)
        end_line = data[line_start:len(data) if line_end < 0 else line_end].decode("utf-8", "replace")
        text = self.src.slice(body) if body else ""
        lines = [end_line] + text.split("\n")
        lines = [line.lstrip("\t") if strip else line for line in lines]
        if lines[0] != delimiter or delimiter in lines[1:]:
            self.problem("heredoc")
        if quoted or body is None:
            return
        if "\\\n" in text:
            self.problem("heredoc")
        if "`" in text:  # the grammar does not parse backquotes in a body; bash runs them
            self.problem("command substitution")
            self.nested_code.extend(found.group(1) for found in _BACKQUOTED.finditer(text))
        starts = {c.start_byte - body.start_byte for c in body.children if c.type in REGION_TYPES}
        raw = data[body.start_byte:body.end_byte]
        for found in re.finditer(rb"\$[({\[]", raw):
            if found.start() not in starts:
                after = raw[found.start() + 1:found.start() + 3]
                substitution = after[:1] == b"(" and after != b"(("
                self.problem("command substitution" if substitution else "heredoc")


def hidden_expansion(text: str) -> bool:
    """Does leaf text hold an unescaped `$(`, `${`, `$[` or backtick?"""
    for found in _HIDDEN.finditer(text):
        before = text[:found.start()]
        if (len(before) - len(before.rstrip("\\"))) % 2 == 0:
            return True
    return False


_CHECKS: dict[str, Callable[[Checker, Any], None]] = {
    "command_substitution": Checker.substitution,
    "process_substitution": Checker.substitution,
    "variable_assignment": Checker.assignment,
    "negated_command": Checker.negation,
    "compound_statement": Checker.compound,
    "arithmetic_expansion": Checker.arithmetic,
    "c_style_for_statement": Checker.arithmetic,
    "expansion": Checker.expansion,
    "subscript": Checker.subscript,
    "function_definition": Checker.function,
    "for_statement": Checker.loop,
    "heredoc_redirect": Checker.heredoc,
}
