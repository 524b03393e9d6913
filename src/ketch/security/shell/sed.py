"""Is a sed invocation read-only, and can it run commands? (GNU sed 4.x rules.)

`sed -n 1,20p f` only reads, but `sed 's/x/y/e'` runs the pattern space as a shell command,
`w file` / `s///w file` write, and `-i` edits in place. Finding an `e` or `w` by searching
the script for the letter would flag `s/hello/world/`; so the script is scanned the way sed
itself reads it (addresses, commands, s/// delimiters, text arguments). Anything the scanner
does not understand counts as unsafe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketch.security.shell.getopt import NONE, OPTIONAL, REQUIRED, Spec, parse
from ketch.security.shell.types import Word

_SPEC = Spec({"n": NONE, "e": REQUIRED, "f": REQUIRED, "i": OPTIONAL, "l": REQUIRED, "E": NONE, "r": NONE,
              "s": NONE, "u": NONE, "z": NONE, "b": NONE},
             {"quiet": NONE, "silent": NONE, "debug": NONE, "expression": REQUIRED, "file": REQUIRED,
              "follow-symlinks": NONE, "in-place": OPTIONAL, "line-length": REQUIRED, "null-data": NONE,
              "zero-terminated": NONE, "posix": NONE, "regexp-extended": NONE, "separate": NONE,
              "sandbox": NONE, "unbuffered": NONE, "binary": NONE, "help": NONE, "version": NONE})

_NO_ARG = set("=dDgGhHnNpPxzF")
_ADDRESS_NUMBER = re.compile(r"[0-9]+(~[0-9]+)?")


@dataclass
class SedVerdict:
    reads_only: bool    # no -i, no w/W, no s///w, no e, script fully understood
    runs_code: bool     # an `e` command or s///e flag, or a script we cannot see


def classify(words: list[Word]) -> SedVerdict:
    parsed = parse(words, 1, _SPEC)
    if parsed.dynamic or parsed.unknown:
        return SedVerdict(False, True)
    if parsed.has("-f", "--file"):
        return SedVerdict(False, True)  # the script is in a file we do not read
    scripts = [v for n, v in parsed.options if n in ("-e", "--expression")]
    operands = parsed.operands
    if not parsed.has("-e", "--expression"):
        if not operands:
            return SedVerdict(False, False)
        scripts, operands = [words[operands[0]].value], operands[1:]
        if not words[parsed.operands[0]].literal:
            return SedVerdict(False, True)
    if any(s is None for s in scripts):
        return SedVerdict(False, True)
    scan = scan_script("\n".join(s for s in scripts if s is not None))
    if scan is None:
        return SedVerdict(False, True)
    runs, writes = scan
    in_place = parsed.has("-i", "--in-place")
    return SedVerdict(not (runs or writes or in_place), runs)


def scan_script(script: str) -> tuple[bool, bool] | None:
    """(runs code, writes files) for a sed script, or None if it is not understood.

    GNU sed skips delimiters inside bracket expressions of a regex (`s/[/]/x/`), other seds
    may not; the script is read both ways and trusted only if both readings agree.
    """
    aware, plain = _scan(script, True), _scan(script, False)
    return aware if aware is not None and aware == plain else None


def _scan(script: str, brackets: bool) -> tuple[bool, bool] | None:
    s, i, n = script, 0, len(script)
    runs = writes = False

    def skip_ws(k: int) -> int:
        while k < n and s[k] in " \t":
            k += 1
        return k

    def regex_end(k: int, delim: str, regex: bool = True) -> int:
        while k < n:
            if s[k] == "\\":
                k += 2
                continue
            if s[k] == delim:
                return k
            if s[k] == "\n":
                return -1
            if s[k] == "[" and brackets and regex:
                k = bracket_end(k)
                if k < 0:
                    return -1
                continue
            k += 1
        return -1

    def bracket_end(k: int) -> int:
        """Index after the bracket expression starting at k (backslash is literal inside)."""
        j = k + 1
        if j < n and s[j] == "^":
            j += 1
        if j < n and s[j] == "]":
            j += 1
        while j < n and s[j] != "]":
            if s[j] == "\n":
                return -1
            if s[j] == "[" and j + 1 < n and s[j + 1] in ":.=":
                close = s.find(s[j + 1] + "]", j + 2)
                if close < 0:
                    return -1
                j = close + 2
                continue
            j += 1
        return j + 1 if j < n else -1

    def address(k: int) -> int:
        if k < n and s[k] == "$":
            return k + 1
        m = _ADDRESS_NUMBER.match(s, k)
        if m:
            return m.end()
        if k < n and s[k] in "/\\":
            delim = s[k + 1] if s[k] == "\\" else "/"
            start = k + 2 if s[k] == "\\" else k + 1
            if s[k] == "\\" and (k + 1 >= n or delim in "\n\\[]"):
                return -1
            end = regex_end(start, delim)
            if end < 0:
                return -1
            k = end + 1
            while k < n and s[k] in "IM":
                k += 1
            return k
        return k

    while True:
        while i < n and s[i] in " \t\n;":
            i += 1
        if i >= n:
            return runs, writes
        if s[i] == "#":
            while i < n and s[i] != "\n":
                i += 1
            continue
        j = address(i)
        if j < 0:
            return None
        if j != i:
            j = skip_ws(j)
            if j < n and s[j] == ",":
                j = skip_ws(j + 1)
                if j < n and s[j] in "+~":
                    m = re.compile(r"[0-9]+").match(s, j + 1)
                    if not m:
                        return None
                    j = m.end()
                else:
                    k = address(j)
                    if k < 0 or k == j:
                        return None
                    j = k
        j = skip_ws(j)
        while j < n and s[j] == "!":
            j = skip_ws(j + 1)
        if j >= n:
            return None
        c = s[j]
        i = j + 1
        if c in "{}":
            continue
        if c in _NO_ARG:
            pass
        elif c in "qQlL":
            i = skip_ws(i)
            while i < n and s[i].isdigit():
                i += 1
        elif c in ":btTv":
            if c == ":" and skip_ws(i) >= n:
                return None
            while i < n and s[i] not in "\n;":
                i += 1
        elif c in "aic":
            while i < n and s[i] != "\n":  # text runs to the end of the line...
                i += 2 if s[i] == "\\" else 1  # ...and escaped newlines continue it
            continue
        elif c in "rRwW":
            if c in "wW":
                writes = True
            while i < n and s[i] != "\n":
                i += 1
            continue
        elif c == "e":
            runs = True
            while i < n and s[i] != "\n":
                i += 1
            continue
        elif c in "sy":
            if i >= n or s[i] in "\n\\[]":
                return None
            delim = s[i]
            end1 = regex_end(i + 1, delim, c == "s")
            end2 = regex_end(end1 + 1, delim, False) if end1 >= 0 else -1
            if end2 < 0:
                return None
            i = end2 + 1
            if c == "s":
                while i < n and s[i] in "gpiImMe0123456789w":
                    if s[i] == "e":
                        runs = True
                    if s[i] == "w":
                        writes = True
                        while i < n and s[i] != "\n":
                            i += 1
                        break
                    i += 1
        else:
            return None
        i = skip_ws(i)
        if i < n and s[i] not in ";\n}#":
            return None
