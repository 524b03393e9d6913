"""Is a sed invocation read-only, and can it run commands? (GNU sed 4.x rules.)

`sed -n 1,20p f` only reads, but `sed 's/x/y/e'` runs the pattern space as a shell command,
`w file` / `s///w file` write, and `-i` edits in place. Finding an `e` or `w` by searching
the script for the letter would flag `s/hello/world/`; so the script is scanned the way sed
itself reads it (addresses, commands, s/// delimiters, text arguments). Anything the scanner
does not understand counts as unsafe. `r file` / `R file` read a file that no word of the
command names: the scan lists them (`SedVerdict.reads`) so the gate can check them like words.
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
_LABEL_END = frozenset(" \t\n\v\f\r;#}")  # where GNU sed ends a label (read_label)
_ADDRESS_NUMBER = re.compile(r"[0-9]+(~[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class SedVerdict:
    reads_only: bool    # no -i, no w/W, no s///w, no e, script fully understood
    runs_code: bool     # an `e` command or s///e flag, or a script we cannot see
    reads: tuple[str, ...] = ()  # the files `r`/`R` commands read, as sed opens them


@dataclass(frozen=True)
class ScriptScan:
    runs: bool                # an `e` command or s///e
    writes: bool              # `w`, `W` or s///w
    reads: tuple[str, ...]    # files named by `r` and `R`


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
    in_place = parsed.has("-i", "--in-place")
    return SedVerdict(not (scan.runs or scan.writes or in_place), scan.runs, scan.reads)


def scan_script(script: str) -> ScriptScan | None:
    """What a sed script does (runs code, writes, reads named files), or None if it is not understood.

    GNU sed skips delimiters inside bracket expressions of a regex (`s/[/]/x/`), other seds
    may not; the script is read both ways and trusted only if both readings agree.
    """
    aware, plain = _scan(script, True), _scan(script, False)
    return aware if aware is not None and aware == plain else None


def _scan(script: str, brackets: bool) -> ScriptScan | None:
    return _SedScanner(script, brackets).scan()


class _SedScanner:
    """One reading of a sed script, command by command, as GNU sed parses it.

    `pos` is where reading goes on; `brackets` says whether a `[...]` inside a regex hides the
    delimiter (GNU sed) or not (other seds). Every helper returns an index, or -1 when the
    script is not understood.
    """

    def __init__(self, script: str, brackets: bool) -> None:
        self.s, self.n, self.brackets = script, len(script), brackets
        self.pos = 0
        self.runs = self.writes = False
        self.reads: list[str] = []

    def scan(self) -> ScriptScan | None:
        s, n = self.s, self.n
        while True:
            while self.pos < n and s[self.pos] in " \t\n;":
                self.pos += 1
            if self.pos >= n:
                return ScriptScan(self.runs, self.writes, tuple(self.reads))
            if s[self.pos] == "#":
                self.pos = self._line_end(self.pos)
                continue
            j = self._addresses(self.pos)
            if j < 0:
                return None
            j = self._skip_ws(j)
            while j < n and s[j] == "!":
                j = self._skip_ws(j + 1)
            if j >= n:
                return None
            command = s[j]
            self.pos = j + 1
            ended = self._command(command)
            if ended is None:
                return None
            if ended:
                continue
            self.pos = self._skip_ws(self.pos)
            if self.pos < n and s[self.pos] not in ";\n}#":
                return None

    def _command(self, c: str) -> bool | None:
        """Read the arguments of command `c`: True when it ran to the end of its line (or is a brace),
        False when a separator must follow, None when it is not understood."""
        s, n = self.s, self.n
        i = self.pos
        if c in "{}":
            return True
        if c in _NO_ARG:
            return False
        if c in "qQlL":
            i = self._skip_ws(i)
            while i < n and s[i].isdigit():
                i += 1
        elif c in ":btTv":
            i = self._skip_ws(i)
            start = i
            while i < n and s[i] not in _LABEL_END:
                i += 1
            if c == ":" and i == start:
                return None  # `:` needs a label
            self.pos = i
            return True  # sed reads the next command right after the label, no `;` needed
        elif c in "aic":
            while i < n and s[i] != "\n":  # text runs to the end of the line...
                i += 2 if s[i] == "\\" else 1  # ...and escaped newlines continue it
            self.pos = i
            return True
        elif c in "rRwWe":
            self.writes = self.writes or c in "wW"
            self.runs = self.runs or c == "e"
            self.pos = self._line_end(i)
            if c in "rR":  # the file name: from the first non-blank to the end of the line
                self.reads.append(s[self._skip_ws(i):self.pos])
            return True
        elif c in "sy":
            if i >= n or s[i] in "\n\\[]":
                return None
            delim = s[i]
            end1 = self._regex_end(i + 1, delim, c == "s")
            end2 = self._regex_end(end1 + 1, delim, False) if end1 >= 0 else -1
            if end2 < 0:
                return None
            i = end2 + 1
            if c == "s":
                i = self._s_flags(i)
        else:
            return None
        self.pos = i
        return False

    def _s_flags(self, i: int) -> int:
        """The flags after s///: `e` runs the pattern space, `w FILE` writes (to the end of the line)."""
        s, n = self.s, self.n
        while i < n and s[i] in "gpiImMe0123456789w":
            if s[i] == "e":
                self.runs = True
            if s[i] == "w":
                self.writes = True
                return self._line_end(i)
            i += 1
        return i

    def _addresses(self, k: int) -> int:
        """After an optional address or `addr1,addr2` / `addr1,+N` / `addr1,~N` range."""
        s, n = self.s, self.n
        j = self._address(k)
        if j < 0 or j == k:
            return j
        j = self._skip_ws(j)
        if j < n and s[j] == ",":
            j = self._skip_ws(j + 1)
            if j < n and s[j] in "+~":
                m = _DIGITS.match(s, j + 1)
                return m.end() if m else -1
            end = self._address(j)
            return -1 if end < 0 or end == j else end
        return j

    def _address(self, k: int) -> int:
        s, n = self.s, self.n
        if k < n and s[k] == "$":
            return k + 1
        m = _ADDRESS_NUMBER.match(s, k)
        if m:
            return m.end()
        if k < n and s[k] in "/\\":
            if s[k] == "\\" and (k + 1 >= n or s[k + 1] in "\n\\[]"):
                return -1  # `\cREGEXc` needs a delimiter c, and these cannot be one
            delim = s[k + 1] if s[k] == "\\" else "/"
            start = k + 2 if s[k] == "\\" else k + 1
            end = self._regex_end(start, delim)
            if end < 0:
                return -1
            k = end + 1
            while k < n and s[k] in "IM":
                k += 1
            return k
        return k

    def _regex_end(self, k: int, delim: str, regex: bool = True) -> int:
        s, n = self.s, self.n
        while k < n:
            if s[k] == "\\":
                k += 2
                continue
            if s[k] == delim:
                return k
            if s[k] == "\n":
                return -1
            if s[k] == "[" and self.brackets and regex:
                k = self._bracket_end(k)
                if k < 0:
                    return -1
                continue
            k += 1
        return -1

    def _bracket_end(self, k: int) -> int:
        """Index after the bracket expression starting at k (backslash is literal inside)."""
        s, n = self.s, self.n
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

    def _skip_ws(self, k: int) -> int:
        while k < self.n and self.s[k] in " \t":
            k += 1
        return k

    def _line_end(self, k: int) -> int:
        while k < self.n and self.s[k] != "\n":
            k += 1
        return k
