"""The data the shell analysis hands to the permission gate (DESIGN.md §5.7).

Kept apart from the parser so the gate, the classifiers and the matchers can share these
types without importing tree-sitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """One shell word as the program will receive it, or as close as static analysis allows.

    `value` is unquoted; an expansion (`$HOME`, `*.py`, `$(...)`) stays as its raw source
    text. Such a word is not `literal`: matchers never let it equal a rule's literal word,
    because at run time it may be anything.
    """

    value: str
    literal: bool = True
    may_split: bool = False    # an unquoted expansion or glob may become zero or several words
    option_like: bool = False  # some word it turns into could start with '-'

    @property
    def could_be_option(self) -> bool:
        """Could a program see this (or a word it expands into) as an option?"""
        return self.value.startswith("-") or self.option_like


@dataclass
class Redirect:
    """A redirection: `op` keeps any descriptor (`2>`); a descriptor copy targets `&1`."""

    op: str
    target: str


@dataclass
class SimpleCommand:
    """One simple command of a line, after looking through wrapper programs."""

    argv: list[str]
    wrappers: list[str] = field(default_factory=list)
    text: str = ""
    redirects: list[Redirect] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)
    # Beyond the gate's API: what the classifiers need to stay sound.
    words: list[Word] = field(default_factory=list, repr=False, compare=False)
    wrapper_argv: list[list[str]] = field(default_factory=list, repr=False, compare=False)
    input_args: bool = False   # xargs adds words read from its input (unknown, may be options)
    wrappers_read_only: bool = True  # False when a wrapper itself writes or elevates (`time -o f`, `nohup`)
    origin: str = ""           # "" for the line itself, else where it came from: "bash -c", "find -exec"...

    def word_list(self) -> list[Word]:
        """`words` when the analyser filled them in, else argv taken as literal words."""
        if len(self.words) == len(self.argv):
            return self.words
        return [Word(a) for a in self.argv]


@dataclass
class ShellAnalysis:
    """Every simple command of a line, and why the line can never be auto-allowed."""

    commands: list[SimpleCommand] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def auto_allowable(self) -> bool:
        return not self.problems

    def add_problem(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)
