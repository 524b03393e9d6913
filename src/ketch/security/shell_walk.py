"""Walk a tree-sitter-bash tree into simple commands, collecting reasons to distrust the line.

Every node is visited, whatever it is nested in (pipelines, lists, subshells, brace groups,
if/while/for/case bodies, command and process substitutions, heredoc lines), so a deny rule
sees every command bash would run. Words are unquoted by `shell_words`, on their exact
source span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ketch.security.shell_syntax import Source
from ketch.security.shell_types import Redirect, ShellAnalysis, Word
from ketch.security.shell_words import WordContext, braced_expansion_problem, lex_word

MAX_DEPTH = 150

_REGION_TYPES = frozenset({"command_substitution", "process_substitution", "expansion",
                           "simple_expansion", "arithmetic_expansion"})
_QUOTE_TYPES = frozenset({"raw_string", "string", "ansi_c_string"})
_REDIRECT_TYPES = frozenset({"file_redirect", "herestring_redirect", "heredoc_redirect"})
_STATEMENT_PARENTS = frozenset({"program", "list", "pipeline", "subshell", "compound_statement",
                                "do_group", "if_statement", "elif_clause", "else_clause",
                                "while_statement", "case_item", "negated_command", "heredoc_redirect",
                                "command_substitution", "process_substitution", "redirected_statement",
                                "function_definition"})
_BRACKETS = frozenset({"[", "]", "[[", "]]"})
_ARITH_OK_LEAVES = re.compile(r"[0-9][0-9A-Za-z#]*|[-+*/%<>=!&|^~?:,()]+|\*\*|\$\(\(|\)\)|\$\[|\]|\(\(|;")
_ARITH_TEST_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_SAFE_LOOP_VAR = re.compile(r"[a-z_][a-z0-9_]*")
_RISKY_LOWER_VARS = frozenset({"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"})
_DELIMITER = re.compile(r"""(?:'([A-Za-z0-9_.\-]+)'|"([A-Za-z0-9_.\-]+)"|\\?([A-Za-z0-9_.\-]+))""")


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_BRACE_CLOSE_AFTER = re.compile(rb"(?:[;&\n)}]|(?:^|[\s;&])(?:fi|done|esac))[ \t]*$")
_SCANNED_LEAVES = frozenset({"word", "regex", "extglob_pattern", "string_content"})
_HIDDEN = re.compile(r"\$[({\[]|`")


def _hidden_expansion(text: str) -> bool:
    """Does leaf text hold an unescaped `$(`, `${`, `$[` or backtick?"""
    for found in _HIDDEN.finditer(text):
        run = len(text[:found.start()]) - len(text[:found.start()].rstrip("\\"))
        if run % 2 == 0:
            return True
    return False


@dataclass
class RawCommand:
    """A simple command before wrappers are looked through."""

    words: list[Word]
    assignments: list[Word]
    redirects: list[Redirect]
    text: str
    start: int
    redirect_literal: list[bool] = field(default_factory=list)


class Walker:
    def __init__(self, source: Source, analysis: ShellAnalysis) -> None:
        self.src = source
        self.analysis = analysis
        self.commands: list[RawCommand] = []
        self.nested_code: list[str] = []  # code bash runs that the grammar left as text

    # -- traversal ---------------------------------------------------------------------------

    def walk(self, node: Any, inherited: list[Redirect], depth: int = 0, statement: bool = True) -> None:
        if depth > MAX_DEPTH:
            self.analysis.add_problem("too deeply nested")
            return
        t = node.type
        if t == "ERROR" or node.is_missing:
            self.analysis.add_problem("parse error")
        if not node.is_named:
            if t in (";;", ";&", ";;&") and (node.parent is None or node.parent.type != "case_item"):
                self.analysis.add_problem("parse error")
            return
        if node.child_count == 0 and t in _SCANNED_LEAVES and _hidden_expansion(self.src.slice(node)):
            self.analysis.add_problem("parse error")  # bash would expand what the parser took as text
        if t == "variable_assignment" and not _ASSIGNMENT.match(self.src.slice(node)):
            self.analysis.add_problem("parse error")  # `./x=1 ls` runs ./x=1: not an assignment to bash
        if t == "negated_command" and self.src.data[node.start_byte + 1:node.start_byte + 2] not in (b" ", b"\t"):
            self.analysis.add_problem("parse error")  # `!x` is a command named !x to bash
        if t == "compound_statement" and node.children and node.children[0].type == "{":
            self.brace_group(node)
        handler = _HANDLERS.get(t)
        if handler is not None and handler(self, node, inherited, depth, statement):
            return
        child_statement = t in _STATEMENT_PARENTS
        for child in node.children:
            self.walk(child, inherited, depth + 1, child_statement)

    def walk_children(self, node: Any, inherited: list[Redirect], depth: int, statement: bool = False) -> None:
        for child in node.children:
            self.walk(child, inherited, depth + 1, statement)

    # -- words -------------------------------------------------------------------------------

    def word(self, *group: Any, assignment: bool = False) -> Word:
        """Lex the source span covered by `group` (adjacent nodes) as one bash word."""
        start, end = group[0].start_byte, group[-1].end_byte
        base = self.src.char(start)
        regions: list[tuple[int, int]] = []
        quotes: set[tuple[int, int]] = set()
        stack = list(group)
        while stack:
            node = stack.pop()
            span = (self.src.char(node.start_byte) - base, self.src.char(node.end_byte) - base)
            if node.type in _REGION_TYPES:
                regions.append(span)
                continue
            if node.type in _QUOTE_TYPES:
                quotes.add(span)
            if node.type in ("array", "regex"):
                return Word(self.src.between(start, end), literal=False, may_split=True, option_like=True)
            stack.extend(node.children)
        word, problems = lex_word(self.src.between(start, end),
                                  WordContext(sorted(regions), quotes, assignment))
        for problem in problems:
            self.analysis.add_problem(problem)
        return word

    def words(self, pieces: list[Any], assignment_types: frozenset[str] = frozenset()) -> list[Word]:
        """Group adjacent pieces (bash joins text with no blank between) and lex each group."""
        out: list[Word] = []
        pieces = sorted((p for p in pieces if p.end_byte > p.start_byte), key=lambda n: n.start_byte)
        i = 0
        while i < len(pieces):
            j = i
            while j + 1 < len(pieces) and pieces[j + 1].start_byte == pieces[j].end_byte:
                j += 1
            group = pieces[i:j + 1]
            if len(group) == 1 and not group[0].is_named and group[0].type != "$":
                out.append(Word(self.src.slice(group[0])))  # an operator token inside [[ ]]
            else:
                out.append(self.word(*group, assignment=any(p.type in assignment_types for p in group)))
            i = j + 1
        return out

    # -- redirects ---------------------------------------------------------------------------

    def redirect(self, node: Any) -> tuple[Redirect | None, list[Any]]:
        """The redirect a node makes, and words the grammar wrongly hung on it (arguments)."""
        if node.type == "heredoc_redirect":
            start = next((c for c in node.children if c.type == "heredoc_start"), None)
            op = next((c.type for c in node.children if c.type in ("<<", "<<-")), "<<")
            return Redirect(op, self.src.slice(start) if start else ""), []
        fd = ""
        op = ""
        targets: list[Any] = []
        for child in node.children:
            if child.type == "file_descriptor":
                fd = self.src.slice(child)
            elif not child.is_named:
                op = child.type
            else:
                targets.append(child)
        if op in (">&-", "<&-"):
            return Redirect(fd + op[0], "&-"), targets
        if not targets:
            self.analysis.add_problem("parse error")
            return None, []
        target = self.word(targets[0])
        if op in (">&", "<&"):
            if target.literal and re.fullmatch(r"[0-9]+-?|-", target.value):
                return Redirect(fd + op[0], "&" + target.value), targets[1:]
            if op == ">&" and not fd:
                op = "&>"
        redirect = Redirect(fd + op, target.value)
        if target.literal and target.value.startswith("&"):
            redirect.target = "./" + target.value  # a file named `&1`, not a descriptor copy
        if not target.literal:
            redirect.target = target.value if "$" in target.value else "$" + target.value
        return redirect, targets[1:]

    def redirects_of(self, nodes: list[Any]) -> tuple[list[Redirect], list[Any]]:
        out: list[Redirect] = []
        extra: list[Any] = []
        for node in nodes:
            redirect, more = self.redirect(node)
            if redirect is not None:
                out.append(redirect)
            extra.extend(more)
            if node.type == "heredoc_redirect":  # `cat <<EOF >out`: the grammar nests `>out`
                nested = [c for c in node.children if c.type in ("file_redirect", "herestring_redirect")]
                more_redirects, more_extra = self.redirects_of(nested)
                out.extend(more_redirects)
                extra.extend(more_extra)
        return out, extra

    # -- statements --------------------------------------------------------------------------

    def add(self, words: list[Word], assignments: list[Word], redirects: list[Redirect],
            node: Any, text_node: Any | None = None) -> None:
        text = self.src.slice(text_node or node).strip()
        self.commands.append(RawCommand(words, assignments, redirects, text, node.start_byte))

    def command(self, node: Any, inherited: list[Redirect], depth: int, extra: list[Any] = (),
                own: list[Redirect] = (), text_node: Any | None = None) -> None:
        assignments, pieces, redirect_nodes = [], list(extra), []
        for i, child in enumerate(node.children):
            field_name = node.field_name_for_child(i)
            if child.type == "variable_assignment":
                assignments.append(self.word(child, assignment=True))
            elif child.type in _REDIRECT_TYPES:
                redirect_nodes.append(child)
            elif field_name in ("name", "argument"):
                pieces.append(child)
            elif child.type != "comment":
                self.analysis.add_problem("parse error")
        redirects, more = self.redirects_of(redirect_nodes)
        pieces.extend(more)
        words = self.words(pieces)
        self.add(words, assignments, list(inherited) + list(own) + redirects, node, text_node)
        self.walk_children(node, inherited, depth)

    def redirected(self, node: Any, inherited: list[Redirect], depth: int) -> None:
        body = node.child_by_field_name("body")
        redirect_nodes = [c for c in node.children if c.type in _REDIRECT_TYPES]
        redirects, extra = self.redirects_of(redirect_nodes)
        if body is None:
            if extra:
                self.analysis.add_problem("parse error")
            self.add([], [], list(inherited) + redirects, node)
        elif body.type == "command":
            self.command(body, inherited, depth + 1, extra, redirects, node)
        else:
            if extra:
                self.analysis.add_problem("parse error")
            self.walk(body, list(inherited) + redirects, depth + 1)
        for child in node.children:
            if child != body:
                self.walk(child, inherited, depth + 1, statement=False)

    def declaration(self, node: Any, inherited: list[Redirect], depth: int) -> None:
        pieces = [c for c in node.children if c.type != "comment"]
        redirect_nodes = [c for c in pieces if c.type in _REDIRECT_TYPES]
        pieces = [c for c in pieces if c.type not in _REDIRECT_TYPES]
        redirects, extra = self.redirects_of(redirect_nodes)
        words = self.words(pieces + extra, frozenset({"variable_assignment"}))
        self.add(words, [], list(inherited) + redirects, node)
        self.walk_children(node, inherited, depth)

    def test(self, node: Any, inherited: list[Redirect], depth: int) -> None:
        """`[ ... ]` and `[[ ... ]]`: argv is the bracket and its words, in order."""
        pieces: list[Any] = []
        stack = list(reversed(node.children))
        operators: list[str] = []
        while stack:
            child = stack.pop()
            if child.type in ("binary_expression", "unary_expression", "parenthesized_expression",
                              "ternary_expression", "postfix_expression"):
                stack.extend(reversed(child.children))
                continue
            if child.type == "test_operator":
                operators.append(self.src.slice(child))
            pieces.append(child)
        words = self.words(pieces)
        if words and words[0].value == "[[":
            values = [w.value for w in words]
            if {"-v", "-R"} & set(values):
                self.analysis.add_problem("variable test in [[ ]]")
            for i, value in enumerate(values):
                if value in _ARITH_TEST_OPS:
                    operands = words[i - 1:i] + words[i + 1:i + 2]
                    if not all(w.literal and re.fullmatch(r"-?[0-9]+", w.value) for w in operands):
                        self.analysis.add_problem("variable in arithmetic")
        self.add(words, [], list(inherited), node)
        self.walk_children(node, inherited, depth)

    def assignment_statement(self, node: Any, inherited: list[Redirect], depth: int) -> None:
        parts = [node] if node.type == "variable_assignment" else \
            [c for c in node.children if c.type == "variable_assignment"]
        self.add([], [self.word(p, assignment=True) for p in parts], list(inherited), node)
        self.walk_children(node, inherited, depth)

    # -- checks ------------------------------------------------------------------------------

    def arithmetic(self, node: Any, stop_at: tuple[str, ...] = ()) -> None:
        """Arithmetic on a variable can run code (`x='a[$(id)]'; echo $((x))`): literals only."""
        stack = [c for c in node.children if c.type not in stop_at]
        while stack:
            child = stack.pop()
            if child.child_count:
                if child.type in ("command_substitution", "process_substitution"):
                    continue  # reported on its own
                stack.extend(child.children)
                continue
            if child.type in ("ERROR", "comment"):
                continue
            if not _ARITH_OK_LEAVES.fullmatch(self.src.slice(child).strip() or "0"):
                self.analysis.add_problem("variable in arithmetic")
                return

    def brace_group(self, node: Any) -> None:
        """`{` and `}` are reserved words to bash only as separate words: `{ls;}` runs `{ls`."""
        data = self.src.data
        close = node.children[-1]
        if data[node.start_byte + 1:node.start_byte + 2] not in (b" ", b"\t", b"\n") or close.type != "}" \
                or not _BRACE_CLOSE_AFTER.search(data[node.start_byte:close.start_byte]):
            self.analysis.add_problem("parse error")

    def heredoc(self, node: Any) -> None:
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        body = next((c for c in node.children if c.type == "heredoc_body"), None)
        end = next((c for c in node.children if c.type == "heredoc_end"), None)
        strip = any(c.type == "<<-" for c in node.children)
        m = _DELIMITER.fullmatch(self.src.slice(start)) if start else None
        if not m or end is None:
            self.analysis.add_problem("heredoc")
            return
        delimiter = next(g for g in m.groups() if g)
        quoted = m.group(3) is None or self.src.slice(start).startswith("\\")
        data = self.src.data
        line_start = data.rfind(b"\n", 0, end.start_byte) + 1
        line_end = data.find(b"\n", end.end_byte)
        end_line = data[line_start:len(data) if line_end < 0 else line_end].decode("utf-8", "replace")
        if (end_line.lstrip("\t") if strip else end_line) != delimiter:
            self.analysis.add_problem("heredoc")  # bash ends a heredoc only on a line equal to the word
        text = self.src.slice(body) if body else ""
        lines = text.split("\n")
        if any((line.lstrip("\t") if strip else line) == delimiter for line in lines):
            self.analysis.add_problem("heredoc")
        if quoted or body is None:
            return
        if "\\\n" in text:
            self.analysis.add_problem("heredoc")
        if "`" in text:
            self.analysis.add_problem("command substitution")
            self.nested_code.extend(m.group(1) for m in re.finditer(r"`((?:[^`\\]|\\.)*)`", text, re.S))
        starts = {c.start_byte - body.start_byte for c in body.children if c.type in _REGION_TYPES}
        raw = self.src.data[body.start_byte:body.end_byte]
        for found in re.finditer(rb"\$[({\[]", raw):
            if found.start() not in starts:
                after = raw[found.start() + 1:found.start() + 3]
                is_substitution = after[:1] == b"(" and after != b"(("
                self.analysis.add_problem("command substitution" if is_substitution else "heredoc")


# -- dispatch: each handler returns True when it walked the children itself ----------------

def _h_command(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.command(n, inh, d)
    return True


def _h_redirected(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.redirected(n, inh, d)
    return True


def _h_declaration(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.declaration(n, inh, d)
    return True


def _h_test(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.test(n, inh, d)
    return True


def _h_assignment(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    if stmt:
        w.assignment_statement(n, inh, d)
        return True
    return False


def _h_substitution(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.analysis.add_problem(n.type.replace("_", " "))
    w.walk_children(n, [], d, statement=True)  # what runs inside does not share outer redirects
    return True


def _h_arithmetic(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    if n.type == "c_style_for_statement":
        w.arithmetic(n, stop_at=("do_group", "compound_statement"))
    elif n.type == "arithmetic_expansion" or (n.children and n.children[0].type == "(("):
        w.arithmetic(n)
    return False


def _h_expansion(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    text = w.src.slice(n)
    problem = braced_expansion_problem(text[2:-1]) if text.startswith("${") and text.endswith("}") \
        else "unsupported expansion"
    if problem:
        w.analysis.add_problem(problem)
    return False


def _h_subscript(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    index = n.child_by_field_name("index")
    text = w.src.slice(index) if index is not None else ""
    if not re.fullmatch(r"[0-9]+|@|\*", text):
        w.analysis.add_problem("variable in arithmetic")
    return False


def _h_function(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.analysis.add_problem("function definition")
    return False


def _h_for(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    var = n.child_by_field_name("variable")
    name = w.src.slice(var) if var is not None else ""
    if not _SAFE_LOOP_VAR.fullmatch(name) or name in _RISKY_LOWER_VARS:
        w.analysis.add_problem("loop variable " + (name or "?"))
    for child in n.children:
        if var is None or child != var:
            w.walk(child, inh, d + 1, child.type == "do_group")
    return True


def _h_heredoc(w: Walker, n: Any, inh: list[Redirect], d: int, stmt: bool) -> bool:
    w.heredoc(n)
    return False


_HANDLERS = {
    "command": _h_command,
    "redirected_statement": _h_redirected,
    "declaration_command": _h_declaration,
    "unset_command": _h_declaration,
    "test_command": _h_test,
    "variable_assignment": _h_assignment,
    "variable_assignments": _h_assignment,
    "command_substitution": _h_substitution,
    "process_substitution": _h_substitution,
    "arithmetic_expansion": _h_arithmetic,
    "compound_statement": _h_arithmetic,
    "c_style_for_statement": _h_arithmetic,
    "expansion": _h_expansion,
    "subscript": _h_subscript,
    "function_definition": _h_function,
    "for_statement": _h_for,
    "heredoc_redirect": _h_heredoc,
}
