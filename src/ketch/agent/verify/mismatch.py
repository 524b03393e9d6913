"""A failed test's wrong value (or a name never defined), said in one sentence: "initials('ada lovelace') returned 'al', but
the docstring expects 'AL'."

Why: the failure output says it, spread over pytest's introspection lines or doctest's
Expected/Got blocks, 40 lines above the instruction. Measured (issue 16): shown the doctest's
"Expected: 'AL' Got: 'al'" and the file whole, qwen2.5-coder-1.5b wrote the file back unchanged
twice; a small model acts on what is said plainly next to the instruction. Only a comparison the
output states outright is restated (pytest's `assert X == Y` with the expression on the `>` line,
doctest's Failed example); anything else gives no sentence, never a guess.
"""

from __future__ import annotations

import re

from ketch.agent.verify.failure import strip_ansi

MAX_VALUE = 120  # longer values are not restated: the output above has them
_SOURCE = re.compile(r"^>\s+assert (?P<expr>.+?) == (?P<expected>.+?)\s*$")
_ASSERT = re.compile(r"^E\s+(?:AssertionError: )?assert (?P<left>.+?) == (?P<right>.+?)\s*$")
_WHERE = re.compile(r"^E\s+\+\s+where (?P<value>.+?) = (?P<expr>.+?)\s*$")
_NAME_ERROR = re.compile(r"^E\s+NameError: name '(?P<name>\w+)' is not defined\s*\n(?:.*\n){0,3}?"
                         r"(?P<file>[\w./-]+\.py):\d+: NameError$", re.MULTILINE)
_DOCTEST = re.compile(r"Failed example:\n\s+(?P<example>.+)\nExpected:\n\s+(?P<expected>.+)\nGot:\n\s+(?P<got>.+)")


def mismatch(output: str) -> str:
    """The first failure's wrong value (or undefined name) as a sentence, or "" when the output
    states none plainly."""
    text = strip_ansi(output)
    return _doctest(text) or _pytest_assert(text.splitlines()) or _undefined(text)


def _undefined(text: str) -> str:
    """pytest's `E   NameError: name 'math' is not defined` and the `file.py:5: NameError` line after it.

    Measured: shown that NameError and its file whole, qwen2.5-coder-1.5b wrote the file back
    without the import, three times."""
    match = _NAME_ERROR.search(text)
    if match is None:
        return ""
    return f"`{match['name']}` is used in {match['file']} but never defined or imported there."


def _doctest(text: str) -> str:
    match = _DOCTEST.search(text)
    if match is None or not _short(match["example"], match["expected"], match["got"]):
        return ""
    example = match["example"].strip()
    return f"{example} returned {match['got'].strip()}, but the docstring expects {match['expected'].strip()}."


def _pytest_assert(lines: list[str]) -> str:
    """From `>   assert f(3) == 6` and `E   assert 3 == 6`: what f(3) gave and what the test wants."""
    for i, line in enumerate(lines):
        source = _SOURCE.match(line)
        if source is None:
            continue
        for after in lines[i + 1:i + 4]:
            shown = _ASSERT.match(after)
            if shown is None:
                continue
            actual, expected = shown["left"], shown["right"]
            where = next((w for w in map(_WHERE.match, lines[i + 2:i + 6]) if w and w["value"] == actual), None)
            expr = where["expr"] if where is not None else source["expr"]
            if actual == expr or not _short(expr, actual, expected):
                return ""
            return f"{expr} returned {actual}, but the test expects {expected}."
        return ""
    return ""


def _short(*values: str) -> bool:
    return all(0 < len(v.strip()) <= MAX_VALUE and "..." not in v for v in values)
