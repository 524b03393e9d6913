"""A failed test run, read: the part of its output that holds the failure, and the frames it names.

What the model is given must fit a small model's 8k-token window and be worth its prompt time
(~90 tokens/s on two cores), so of a run's output it gets the first failure and the summary:
pytest's first FAILURES (or ERRORS) entry, its short test summary and the count line; for other
runners the last traceback, or the last lines. Ruler lines (`=====`, `_ _ _`) are shortened,
since each costs ~40 tokens and says nothing, and so are Python's `^^^^` marker lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINES = 60
MAX_CHARS = 4000
_HEAD_LINES = 14  # of an over-long failure entry: its start (the test's own lines) is kept...
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$")
_CARETS = re.compile(r"^\s*[\^~]+\s*$")  # Python 3.11's markers under the failing expression
_RULERS = ((re.compile(r"^=+ (.*?) =+$"), r"== \1 =="), (re.compile(r"^(_ ){4,}_?\s*$"), "_ _ _"),
           (re.compile(r"^_{3,} (.+?) _{3,}$"), r"__ \1 __"), (re.compile(r"^!{3,} (.*?) !{3,}$"), r"!! \1 !!"))

_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>[^\s]+))?')
_LOCATION = re.compile(r"^\s*(?P<path>[^\s:\"'<>()]+\.\w+):(?P<line>\d+):(?: in (?P<func>\S+))?")
_AT = re.compile(r"\bat (?:(?P<func>[^\s()]+) )?\(?(?P<path>[^\s()]+?\.\w+):(?P<line>\d+):\d+\)?")
_GO_PANIC = re.compile(r"^\s+(?P<path>/\S+\.go):(?P<line>\d+)\b")
_FAILED = re.compile(r"^(?:FAILED|ERROR) (?P<path>[^\s:]+\.py)::(?P<name>\S+?)(?: - .*)?$")


@dataclass(frozen=True)
class Frame:
    """A place in a file the output names: a traceback entry, a pytest location line, a stack line."""

    path: str  # as the output wrote it: relative to the run's folder, or absolute
    line: int
    function: str = ""


def trim(output: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> str:
    """The part of a failed run's output that says what failed."""
    lines = [_short_ruler(line.rstrip()) for line in _ANSI.sub("", output).splitlines()
             if not _CARETS.match(line)]
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line)), None)
    if start is not None:
        kept = _pytest_failure(lines, start, max_lines)
    else:
        tb = max((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")),
                 default=max(0, len(lines) - max_lines))
        kept = _cut_middle(lines[tb:], max_lines)
    text = "\n".join(kept).strip("\n")
    if len(text) > max_chars:
        text = "[...]\n" + text[-max_chars:].split("\n", 1)[-1]
    return text


def frames(output: str) -> list[Frame]:
    """Every file location the output names, in the order it names them (outermost first)."""
    found: list[Frame] = []
    for line in _ANSI.sub("", output).splitlines():
        for pattern in (_PY_FRAME, _LOCATION, _AT, _GO_PANIC):
            match = pattern.search(line)
            if match is not None:
                func = match.groupdict().get("func") or ""
                found.append(Frame(match["path"], int(match["line"]), func.rstrip(":")))
                break
    return found


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def failed_tests(output: str) -> list[tuple[str, str]]:
    """(file, test function) of each test pytest's summary lists as failed, in order."""
    tests = []
    for line in _ANSI.sub("", output).splitlines():
        match = _FAILED.match(line.strip())
        if match is not None:
            name = re.sub(r"\[.*$", "", match["name"].split("::")[-1])
            tests.append((match["path"], name))
    return tests


def _short_ruler(line: str) -> str:
    for pattern, replacement in _RULERS:
        if pattern.match(line):
            return pattern.sub(replacement, line)
    return line


def _pytest_failure(lines: list[str], start: int, max_lines: int) -> list[str]:
    """pytest's first failure entry (cut in the middle if long), then its summary and count."""
    summary = next((i for i in range(start, len(lines)) if lines[i] == "== short test summary info =="), len(lines))
    entries = [i for i in range(start + 1, summary) if lines[i].startswith("__ ") and lines[i].endswith(" __")]
    end = entries[1] if len(entries) > 1 else summary
    tail = lines[summary:][: max(6, max_lines // 4)]
    body = _cut_middle(lines[start:end], max_lines - len(tail))
    return [*body, *tail]


def _cut_middle(lines: list[str], limit: int) -> list[str]:
    """`lines`, or their start and end with a marker between: a traceback's first entry shows
    the test, its last the error; what lies between is the least worth its tokens."""
    if len(lines) <= limit:
        return lines
    head = min(_HEAD_LINES, limit // 3)
    tail = limit - head - 1
    return [*lines[:head], f"[... {len(lines) - head - tail} lines cut ...]", *lines[len(lines) - tail:]]
