"""Walk a tree-sitter-bash tree into simple commands, collecting reasons to distrust the line.

Every node is visited, whatever it is nested in (pipelines, lists, subshells, brace groups,
if/while/for/case bodies, command and process substitutions, heredoc lines), so a deny rule
sees every command bash would run. Words are unquoted by `words.py`, on their exact
source span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ketch.security.shell.checks import REGION_TYPES, Checker
from ketch.security.shell.syntax import Source
from ketch.security.shell.types import Redirect, ShellAnalysis, Word
from ketch.security.shell.words import WordContext, lex_word

MAX_DEPTH = 150

_QUOTE_TYPES = frozenset({"raw_string", "string", "ansi_c_string"})
_REDIRECT_TYPES = frozenset({"file_redirect", "herestring_redirect", "heredoc_redirect"})
_STATEMENT_PARENTS = frozenset({"program", "list", "pipeline", "subshell", "compound_statement",
                                "do_group", "if_statement", "elif_clause", "else_clause",
                                "while_statement", "case_item", "negated_command", "heredoc_redirect",
                                "command_substitution", "process_substitution", "redirected_statement",
                                "function_definition"})
_ARITH_TEST_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_VARNAME_FD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_RESERVED = frozenset({"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
                       "while", "until", "for", "in", "select", "function", "[[", "]]"})


@dataclass
class RawCommand:
    """A simple command before wrappers are looked through."""

    words: list[Word]
    assignments: list[Word]
    redirects: list[Redirect]
    text: str
    start: int


class Walker:
    """Collects `RawCommand`s from a tree; `checker` collects problems on the way."""

    def __init__(self, source: Source, analysis: ShellAnalysis) -> None:
        self.src = source
        self.analysis = analysis
        self.checker = Checker(source, analysis)
        self.commands: list[RawCommand] = []

    # -- traversal ---------------------------------------------------------------------------

    def walk(self, node: Any, inherited: list[Redirect], depth: int = 0, statement: bool = True) -> None:
        if depth > MAX_DEPTH:
            self.analysis.add_problem("too deeply nested")
            return
        self.checker.check(node)
        if not node.is_named:
            return
        t = node.type
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
            if node.type in REGION_TYPES:
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
        if any(b.start_byte == a.end_byte for a, b in pairwise(targets)):
            self.analysis.add_problem("parse error")  # one word to bash, split by the grammar
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

    def command(self, node: Any, inherited: list[Redirect], depth: int, extra: Sequence[Any] = (),
                own: Sequence[Redirect] = (), text_node: Any | None = None, outer: Sequence[Any] = ()) -> None:
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
        ends = {r.end_byte for r in redirect_nodes}
        starts = {r.start_byte for r in redirect_nodes + list(outer)}
        if any(p.start_byte in ends for p in pieces):
            self.analysis.add_problem("parse error")  # `<<<""x`: bash reads one word, the grammar two
        if any(p.end_byte in starts and _VARNAME_FD.fullmatch(self.src.slice(p)) for p in pieces):
            self.analysis.add_problem("parse error")  # `{fd}>x` is a redirect to bash, not a word
        pieces = self.strip_reserved(sorted(pieces, key=lambda n: n.start_byte))
        words = self.words(pieces)
        self.add(words, assignments, list(inherited) + list(own) + redirects, node, text_node)
        self.walk_children(node, inherited, depth)

    def strip_reserved(self, pieces: list[Any]) -> list[Any]:
        """An unquoted reserved word as a command name means the grammar misread the line
        (`! for ...`, `if if ...`), except `!`, which bash reads as negation (`! ! rm`)."""
        while pieces:
            name = self.src.slice(pieces[0])
            if name == "!" and (len(pieces) == 1 or pieces[1].start_byte > pieces[0].end_byte):
                pieces = pieces[1:]
                continue
            if name in _RESERVED:
                self.analysis.add_problem("parse error")
            break
        return pieces

    def redirected(self, node: Any, inherited: list[Redirect], depth: int) -> None:
        body = node.child_by_field_name("body")
        redirect_nodes = [c for c in node.children if c.type in _REDIRECT_TYPES]
        redirects, extra = self.redirects_of(redirect_nodes)
        if body is None:
            if extra:
                self.analysis.add_problem("parse error")
            self.add([], [], list(inherited) + redirects, node)
        elif body.type == "command":
            self.command(body, inherited, depth + 1, extra, redirects, node, redirect_nodes)
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
        while stack:
            child = stack.pop()
            if child.type in ("binary_expression", "unary_expression", "parenthesized_expression",
                              "ternary_expression", "postfix_expression"):
                stack.extend(reversed(child.children))
                continue
            pieces.append(child)
        words = self.words(pieces)
        if words and words[0].value == "[[":  # `[[ -v 'a[$(id)]' ]]` and `-eq` evaluate subscripts
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
    w.walk_children(n, [], d, statement=True)  # what runs inside does not share outer redirects
    return True


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
}
