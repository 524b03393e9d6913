"""A task of bench/local_tasks.py: a small repository whose tests fail, a request in a user's words,
and the reference fix that makes them pass without touching a test (--verify proves both).

`held_out=True` marks the tasks written before anyone tuned the harness against them
(local_task_held.py): look at their scores, never at their transcripts, when changing ketch
(issue 16: a bench written by the hands that tuned the harness flatters it).
"""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import dedent


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    prompt: str
    files: dict[str, str]  # the repository as committed; test files among them are never to change
    fix: tuple[tuple[str, str, str], ...]  # the reference fix: (path, old text, new text), every occurrence
    held_out: bool = False
    keep: tuple[tuple[str, str], ...] = ()  # (path, text) that must survive: a doctest's example, say


def _(text: str) -> str:
    """A file's text written indented in the task list."""
    return dedent(text).lstrip("\n")
