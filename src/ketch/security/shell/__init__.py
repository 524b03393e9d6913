"""Shell-command analysis for the permission gate (DESIGN.md §5.7, §5.9).

The model that writes a command is treated as an attacker who has read this code. So the
line is parsed with a real grammar (tree-sitter-bash), checked against the places where
that grammar and bash are known to disagree, and everything that cannot be understood
statically (command substitution, expansions in command names, parse errors, arithmetic on
variables...) is reported as a problem: such a line is never auto-allowed. Every simple
command is still listed, wherever it is nested, so deny rules apply to each of them.

Public API (the gate is written against these names):
    analyze(command) -> ShellAnalysis
    is_read_only(cmd), runs_arbitrary_code(cmd)
    files_named_inside(cmd) (files a read-only command opens that no word names: sed's `r FILE`)
    folders_read_through_links(cmd) (`grep -R`, `rg -L`, `diff DIR DIR` read through the links below them)
    prefix_matches(rule_prefix, cmd), exact_matches(rule, cmd), wildcard_matches(pattern, cmd)
        (pass deny=True for deny and ask rules: then a word known only at run time, `$X`,
        matches whatever it could become, so hiding a word in a variable cannot dodge a deny)

`SimpleCommand.words[i].literal` is False for argv[i] when its value is only known at run
time (argv then holds the raw source text, e.g. `$HOME/x`, `*.py`, `{a,b}`): a path check
must treat such a word as unknown. The pieces live in the modules beside this one, one job each.
"""

from __future__ import annotations

import re

from ketch.security.shell.code import SHELLS, runs_arbitrary_code
from ketch.security.shell.match import exact_matches, prefix_matches, wildcard_matches
from ketch.security.shell.readonly import (
    assignment_is_harmless,
    files_named_inside,
    folders_read_through_links,
    is_read_only,
)
from ketch.security.shell.types import Redirect, ShellAnalysis, SimpleCommand, Word

__all__ = [
    "Redirect",
    "ShellAnalysis",
    "SimpleCommand",
    "Word",
    "analyze",
    "assignment_is_harmless",
    "exact_matches",
    "files_named_inside",
    "folders_read_through_links",
    "is_read_only",
    "prefix_matches",
    "runs_arbitrary_code",
    "wildcard_matches",
]

MAX_LENGTH = 10_000
MAX_COMMANDS = 50
_HARD_LENGTH = 100_000    # beyond this the line is not even parsed (no commands are listed)
_MAX_NESTING = 3          # bash -c 'bash -c "..."': how deep code in strings is followed
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff]")


def analyze(command: str) -> ShellAnalysis:
    """Split a command line into simple commands and find what forbids auto-allowing it."""
    analysis = ShellAnalysis()
    if len(command) > MAX_LENGTH:
        analysis.add_problem("too long")
    if len(command) > _HARD_LENGTH:
        analysis.add_problem("not analysed")
        return analysis
    _analyze_into(command, analysis, depth=0, origin="")
    if len(analysis.commands) > MAX_COMMANDS:
        analysis.add_problem("too many commands")
    return analysis


def _analyze_into(command: str, analysis: ShellAnalysis, depth: int, origin: str) -> None:
    from ketch.security.shell.syntax import parse
    from ketch.security.shell.walk import Walker

    if _BAD_CHARS.search(command):
        analysis.add_problem("control or invisible character")
    try:
        command.encode("utf-8")
    except UnicodeEncodeError:
        analysis.add_problem("parse error")
        return
    source, tree, problems = parse(command)
    for problem in problems:
        analysis.add_problem(problem)
    walker = Walker(source, analysis)
    walker.walk(tree.root_node, [])
    for raw in sorted(walker.commands, key=lambda c: c.start):
        if not (raw.words or raw.assignments or raw.redirects):
            continue  # an empty statement the parser made up around a syntax error
        cmd = _finish(raw.words, raw.assignments, raw.redirects, raw.text, analysis, origin)
        analysis.commands.append(cmd)
        _follow_nested_code(cmd, analysis, depth)
    for code in walker.checker.nested_code:  # backquotes in a heredoc body: bash runs them
        if depth >= _MAX_NESTING:
            analysis.add_problem("too deeply nested")
            break
        _analyze_into(code, analysis, depth + 1, "heredoc")


def _finish(words: list[Word], assignments: list[Word], redirects: list[Redirect], text: str,
            analysis: ShellAnalysis, origin: str) -> SimpleCommand:
    """Look through wrappers and record what makes the command untrustworthy."""
    from ketch.security.shell.wrappers import unwrap

    if words and not words[0].literal:
        _name_problem(words[0], analysis)
    unwrapped = unwrap(words)
    for problem in unwrapped.problems:
        analysis.add_problem(problem)
    inner = unwrapped.words
    if inner and not inner[0].literal:
        _name_problem(inner[0], analysis)
    if inner and inner[0].literal and inner[0].value in ("eval", "alias"):
        analysis.add_problem(inner[0].value)
    for word in assignments + unwrapped.assignments:
        if re.match(r"[A-Za-z_][A-Za-z0-9_]*\[", word.value):
            name_index = word.value.split("]", 1)[0]
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\[[0-9]+", name_index):
                analysis.add_problem("variable in arithmetic")
    cmd = SimpleCommand(
        argv=[w.value for w in inner],
        wrappers=unwrapped.wrappers,
        text=text,
        redirects=list(redirects),
        assignments=[w.value for w in assignments + unwrapped.assignments],
        words=list(inner),
        wrapper_argv=unwrapped.wrapper_argv,
        input_args=unwrapped.input_args,
        origin=origin,
        wrappers_read_only=unwrapped.read_only_ok,
    )
    return cmd


def _name_problem(word: Word, analysis: ShellAnalysis) -> None:
    if re.search(r"\$[A-Za-z0-9_{(@*#?!-]|`", word.value):
        analysis.add_problem("variable used as command name")
    else:
        analysis.add_problem("expansion in command name")


def _follow_nested_code(cmd: SimpleCommand, analysis: ShellAnalysis, depth: int) -> None:
    """Commands hidden in strings (`bash -c '...'`, `eval`, `find -exec`): list them too, so
    deny rules reach them. The outer command already runs arbitrary code, so this only adds."""
    for kind, payload in nested_code(cmd):
        if depth >= _MAX_NESTING:
            analysis.add_problem("too deeply nested")
            return
        if isinstance(payload, str):
            _analyze_into(payload, analysis, depth + 1, kind)
            continue
        inner = _finish(payload, [], [], " ".join(w.value for w in payload), analysis, kind)
        analysis.commands.append(inner)
        _follow_nested_code(inner, analysis, depth + 1)


def nested_code(cmd: SimpleCommand) -> list[tuple[str, str | list[Word]]]:
    """Code a command carries in its arguments: (origin, source text or argv words)."""
    words = cmd.word_list()
    if not words or not words[0].literal:
        return []
    name = words[0].value.rsplit("/", 1)[-1]
    rest = words[1:]
    if name in SHELLS:
        script = _shell_c_string(words)
        return [(f"{name} -c", script)] if script is not None else []
    if name == "eval" and rest and all(w.literal for w in rest):
        return [("eval", " ".join(w.value for w in rest))]
    if name == "trap":
        body = [w for w in rest if not w.value.startswith("-")][:1]
        return [("trap", body[0].value)] if body and body[0].literal else []
    if name == "find":
        return _find_actions(words)
    if name == "watch":  # watch joins its arguments and runs them with `sh -c`
        while rest and rest[0].value.startswith("-") and rest[0].value != "--":
            rest = rest[2:] if rest[0].value in ("-n", "--interval") else rest[1:]
        rest = rest[1:] if rest and rest[0].value == "--" else rest
        if rest and all(w.literal for w in rest):
            return [("watch", " ".join(w.value for w in rest))]
    return []


def _find_actions(words: list[Word]) -> list[tuple[str, str | list[Word]]]:
    """Every `-exec ... ;` / `-execdir ... +` clause of a find command, `{}` as unknown."""
    out: list[tuple[str, str | list[Word]]] = []
    i = 1
    while i < len(words):
        action = words[i]
        i += 1
        if not (action.literal and action.value in ("-exec", "-execdir", "-ok", "-okdir")):
            continue
        body: list[Word] = []
        while i < len(words) and not (words[i].literal and words[i].value in (";", "+")):
            w = words[i]
            body.append(Word(w.value, False, False, True) if "{}" in w.value else w)
            i += 1
        if body:
            out.append(("find " + action.value, body))
    return out


def _shell_c_string(words: list[Word]) -> str | None:
    """The script of `bash [options] -c 'script'`, if given literally."""
    has_c = False
    i = 1
    while i < len(words):
        v = words[i].value
        if not words[i].literal:
            return None
        if v == "--":
            i += 1
            break
        if v in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if v.startswith("--"):
            i += 1
            continue
        if v[:1] in ("-", "+") and len(v) > 1:
            has_c = has_c or "c" in v[1:]
            i += 1
            continue
        break
    if has_c and i < len(words) and words[i].literal:
        return words[i].value
    return None
