"""Allow-lists of a program's options, and the walk that holds a command line against one.

The built-in "runs without asking" rules (data/sandboxed_allow.txt) let ordinary work run:
`pytest -x -q tests/test_a.py`. The same programs take options that run code named on the
command line (`pytest -p mod`, `make --eval=...`, `go test -exec prog`), point them at
another project, destroy data (`pytest --basetemp=src`), or write a file the command line
names (`--junit-xml=x`, an edit). So an option is accepted only when it is on its program's
list, with what its value means; anything else (a misspelling, an abbreviation, an option
added in a later version) is not auto-allowed (DESIGN.md §5.8).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

FLAG: Final = "flag"
VALUE: Final = "value"
READ: Final = "read"
WRITE: Final = "write"
OPTIONAL: Final = "optional"
Validator = Callable[[str], str | None]  # a value's problem, or None
Meaning = Literal["flag", "value", "read", "write", "optional"] | Validator
_KINDS: dict[str, Meaning] = {FLAG: FLAG, VALUE: VALUE, READ: READ, WRITE: WRITE, OPTIONAL: OPTIONAL}


@dataclass
class Check:
    """What a command line does beyond running the program's ordinary job."""

    problem: str | None = None                        # why a person must be asked
    reads: list[str] = field(default_factory=list)    # words naming files it reads
    writes: list[str] = field(default_factory=list)   # files the command line names as outputs
    creates: list[str] = field(default_factory=list)  # what `mkdir`/`touch` make: fine inside the roots

    def refuse(self, problem: str) -> Check:
        if self.problem is None:
            self.problem = problem
        return self


def table(**groups: str | tuple[Validator, str]) -> dict[str, Meaning]:
    """`table(flag="-x --exitfirst", value="-k")` -> {"-x": FLAG, ...}; a validator
    group is passed as `name=(validator, "-p")`."""
    out: dict[str, Meaning] = {}
    for kind, spec in groups.items():
        if isinstance(spec, tuple):
            validator, names = spec
            out.update({n: validator for n in names.split()})
        else:
            out.update({n: _KINDS[kind] for n in spec.split()})  # the keyword is the kind: flag=, value=...
    return out


@dataclass(frozen=True)
class Grammar:
    """How a program spells options. `gnu`: clusters `-xq`, `-kval`, `--name=v`;
    `single`: Go's flag package, one option per word, `-name` or `--name`, `-name=v`."""

    options: dict[str, Meaning]
    style: Literal["gnu", "single"] = "gnu"
    case_insensitive: bool = False
    flag_pattern: str | None = None  # long flags by family (mypy's `--warn-*`), a full-match regex

    def meaning(self, name: str) -> Meaning | None:
        key = name.lower() if self.case_insensitive else name
        found = self.options.get(key)
        if found is None and self.flag_pattern and re.fullmatch(self.flag_pattern, key):
            return FLAG
        return found


Positional = Callable[[str, Check], None]


def scan(args: list[str], grammar: Grammar, positional: Positional, check: Check | None = None,
         *, program: str = "") -> tuple[Check, list[str]]:
    """Hold `args` against the grammar; returns the check and the words after `--`."""
    check = check or Check()
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            return check, args[i:]
        if not word.startswith("-") or word == "-":
            positional(word, check)
            continue
        if grammar.style == "single" or word.startswith("--"):
            name, eq, attached = word.partition("=")
            if grammar.style == "single" and name.startswith("--"):
                name = name[1:]
            meaning = grammar.meaning(name)
            if meaning is None:
                return check.refuse(f"{program} option {name} is not on the list of options that run "
                                    "without asking"), []
            if meaning in (FLAG, OPTIONAL):
                if eq and meaning == FLAG and grammar.style != "single":
                    return check.refuse(f"{program} option {name} takes no value"), []
                if eq and meaning == OPTIONAL or grammar.style == "single" and eq:
                    _value(meaning, name, attached, check, program)
                continue
            if not eq:
                if i >= len(args):
                    return check.refuse(f"{program} option {name} lacks its value"), []
                attached = args[i]
                i += 1
            _value(meaning, name, attached, check, program)
            continue
        j = 1
        while j < len(word):
            name = "-" + word[j]
            meaning = grammar.meaning(name)
            if meaning is None:
                return check.refuse(f"{program} option {name} is not on the list of options that run "
                                    "without asking"), []
            j += 1
            if meaning == FLAG:
                continue
            if meaning == OPTIONAL:  # getopt: an optional value is the rest of the word (`-j4`)
                break
            value = word[j:]
            if not value:
                if i >= len(args):
                    return check.refuse(f"{program} option {name} lacks its value"), []
                value = args[i]
                i += 1
            _value(meaning, name, value, check, program)
            break
        if check.problem:
            return check, []
    return check, []


def _value(meaning: Meaning, name: str, value: str, check: Check, program: str) -> None:
    if meaning == READ:
        check.reads.append(value)
    elif meaning == WRITE:
        check.writes.append(value)
    elif callable(meaning):
        problem = meaning(value)
        if problem:
            check.refuse(f"{program} {name} {value}: {problem}")
        else:
            check.reads.append(value)  # a validated value may still name a file: checked too


def reads_paths(word: str, check: Check) -> None:
    """A positional that names a file or folder the program reads (tests, sources)."""
    check.reads.append(word)


def no_positionals(what: str) -> Positional:
    def refuse(word: str, check: Check) -> None:
        check.refuse(f"`{word}`: {what}")
    return refuse
