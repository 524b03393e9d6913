"""Turn the source text of one shell word into the word a program receives.

Quote removal is done here, by bash's rules, on the exact source span of a word, rather
than by trusting the parser's inner nodes: tree-sitter-bash is not bash, and a differential
in how a word is unquoted is exactly what an attacker would use to make `rm` look like
something else. The parser still supplies the extents of expansions and quoted strings; where
its idea and ours disagree, the word is reported as a problem (fail closed).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from ketch.security.shell.types import Word

_METACHARS = set(" \t\n|&;()<>")
_EXPANSION_START = re.compile(r"[A-Za-z0-9_@*#?$!{(\[-]")
_ANSI_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_DQ_ESCAPABLE = set('$`"\\\n')


@dataclass
class WordContext:
    """What the parser knows about a word's span, in offsets relative to the span."""

    regions: list[tuple[int, int]] = field(default_factory=list)  # expansions/substitutions, sorted
    quotes: set[tuple[int, int]] | None = None  # extents of quoted-string nodes; None: skip check
    assignment: bool = False  # `NAME=value`: a tilde after '=' or ':' expands too

    def region_at(self, pos: int) -> tuple[int, int] | None:
        i = bisect_right(self.regions, (pos, float("inf"))) - 1
        if i >= 0 and self.regions[i][0] <= pos < self.regions[i][1]:
            return self.regions[i]
        return None


class _Lexer:
    """Walks one word; `kinds` marks each value char: u(nquoted) q(uoted) d(ynamic)."""

    def __init__(self, text: str, ctx: WordContext) -> None:
        self.text, self.ctx = text, ctx
        self.chars: list[str] = []
        self.kinds: list[str] = []
        self.problems: list[str] = []
        self.may_split = False
        self.option_like = False

    def emit(self, s: str, kind: str) -> None:
        self.chars.extend(s)
        self.kinds.extend(kind * len(s))

    def dynamic(self, raw: str, quoted: bool) -> None:
        if not quoted:
            self.may_split = self.option_like = True
        else:
            if not self.chars:
                self.option_like = True
            if "@" in raw:  # "$@" and "${a[@]}" become several words even when quoted
                self.may_split = self.option_like = True
        self.emit(raw, "d")

    def quote_check(self, start: int, end: int) -> None:
        if self.ctx.quotes is not None and (start, end) not in self.ctx.quotes:
            self.problems.append("parse error")

    def run(self) -> None:
        text, n, i = self.text, len(self.text), 0
        dq_start = -1
        if text.startswith("#"):
            self.problems.append("parse error")
        while i < n:
            c = text[i]
            if c in "$`<>":
                region = self.ctx.region_at(i)
                if region is not None:
                    self.dynamic(text[i:region[1]], dq_start >= 0)
                    i = region[1]
                    continue
            if dq_start >= 0:
                i = self._in_double_quotes(i)
                if i < 0:
                    self.quote_check(dq_start, -i)
                    i, dq_start = -i, -1
                continue
            if c == "'":
                j = text.find("'", i + 1)
                if j < 0:
                    self.problems.append("parse error")
                    self.emit(text[i:], "d")
                    return
                self.quote_check(i, j + 1)
                self.emit(text[i + 1:j], "q")
                i = j + 1
            elif c == '"':
                dq_start, i = i, i + 1
            elif c == "\\":
                if i + 1 >= n:
                    self.emit("\\", "q")
                elif text[i + 1] != "\n":
                    self.emit(text[i + 1], "q")
                i += 2
            elif c == "$":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt == "'":
                    i = self._ansi_c(i)
                elif nxt == '"':
                    self.dynamic('$"', True)  # a translated string: the locale decides its text
                    dq_start, i = i + 1, i + 2
                elif nxt and _EXPANSION_START.match(nxt):
                    self.problems.append("parse error")  # an expansion the parser did not see
                    self.dynamic(text[i:], False)
                    return
                else:
                    self.emit("$", "u")
                    i += 1
            elif c == "`":
                self.problems.append("parse error")
                self.dynamic(text[i:], False)
                return
            else:
                if c in _METACHARS:
                    self.problems.append("parse error")  # bash would end the word here
                self.emit(c, "u")
                i += 1
        if dq_start >= 0:
            self.problems.append("parse error")

    def _in_double_quotes(self, i: int) -> int:
        """One step inside "...": returns the next index, or -(index after the closing quote)."""
        text, c = self.text, self.text[i]
        if c == '"':
            return -(i + 1)
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _DQ_ESCAPABLE:
            if text[i + 1] != "\n":
                self.emit(text[i + 1], "q")
            return i + 2
        if c == "$":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt and nxt != '"' and _EXPANSION_START.match(nxt):
                self.problems.append("parse error")
                self.dynamic(text[i:], True)
                return len(text)
        if c == "`":
            self.problems.append("parse error")
            self.dynamic(text[i:], True)
            return len(text)
        self.emit(c, "q")
        return i + 1

    def _ansi_c(self, i: int) -> int:
        text, j = self.text, i + 2
        while j < len(text) and text[j] != "'":
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            self.problems.append("parse error")
            self.dynamic(text[i:], True)
            return len(text)
        self.quote_check(i, j + 1)
        value = decode_ansi_c(text[i + 2:j])
        if value is None:
            self.dynamic(text[i:j + 1], True)
        else:
            self.emit(value, "q")
        return j + 1

    def word(self) -> Word:
        value = "".join(self.chars)
        literal = "d" not in self.kinds
        skeleton = "".join(ch if kind == "u" else "\0" for ch, kind in zip(self.chars, self.kinds))
        glob = _glob_index(skeleton)
        if glob >= 0:
            literal, self.may_split = False, True
            if not value[:glob]:
                self.option_like = True
        if re.search(r"\{[^{}]*(,|\.\.)[^{}]*\}", skeleton):
            literal = False
            self.may_split = self.option_like = True
        tilde = _tilde_index(skeleton, self.ctx.assignment)
        if tilde >= 0:
            literal = False
            rest = skeleton[tilde + 1:tilde + 2]
            if rest not in ("", "/", ":"):
                self.option_like = True  # ~user, ~+, ~- ... are not just $HOME
        return Word(value, literal, self.may_split and not literal, self.option_like and not literal)


def _glob_index(skeleton: str) -> int:
    """Index of the first unquoted pattern character that makes bash glob, or -1."""
    for i, ch in enumerate(skeleton):
        if ch in "*?":
            return i
        if ch == "[" and "]" in skeleton[i + 1:]:
            return i
        if ch in "@+!" and skeleton[i + 1:i + 2] == "(":
            return i
    return -1


def _tilde_index(skeleton: str, assignment: bool) -> int:
    if skeleton.startswith("~"):
        return 0
    if assignment:
        m = re.search(r"[=:]~", skeleton)
        if m:
            return m.start() + 1
    return -1


def lex_word(text: str, ctx: WordContext | None = None) -> tuple[Word, list[str]]:
    """The word `text` becomes, and any disagreement with the parser (as problems)."""
    lexer = _Lexer(text, ctx or WordContext())
    lexer.run()
    return lexer.word(), lexer.problems


def decode_ansi_c(body: str) -> str | None:
    """Bash's `$'...'` decoding, or None where the result depends on the locale or is not
    plain text (non-ASCII bytes, control-character escapes): such a word is then dynamic,
    never a different literal."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
            i += 2
            continue
        if e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            assert m is not None  # e is an octal digit
            code, i = int(m.group(), 8) & 0xFF, i + 1 + len(m.group())
        elif e in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[e]
            m = re.match(rf"[0-9A-Fa-f]{{1,{limit}}}", body[i + 2:])
            if not m:
                out.append("\\" + e)
                i += 2
                continue
            code, i = int(m.group(), 16), i + 2 + len(m.group())
        elif e == "c":
            return None
        else:
            out.append("\\" + e)
            i += 2
            continue
        if code == 0:
            break  # bash ends the string at a NUL
        if code >= 0x80:
            return None
        out.append(chr(code))
    return "".join(out)


_BRACED_HEAD = re.compile(r"(#)?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(\[([0-9]+|@|\*)\])?")
_SUBSTRING = re.compile(r":\s*-?[0-9]+(\s*:\s*-?[0-9]+)?\s*")


def braced_expansion_problem(content: str) -> str | None:
    """Why `${content}` is unsafe to allow, or None.

    Allowed: plain names, lengths, defaults, pattern removal and replacement, case changes,
    literal subscripts and offsets. Refused: indirection (`${!x}`), transformations
    (`${x@P}` runs prompt expansion, which performs command substitution), assignment
    (`${x:=v}`), and variable subscripts or offsets (arithmetic on a variable can run code).
    """
    m = _BRACED_HEAD.match(content)
    if not m:
        return "unsupported expansion"
    rest = content[m.end():]
    if not rest:
        return None
    if m.group(1):
        return "unsupported expansion"
    if rest[0] == "[":
        return "variable in arithmetic"
    if rest[0] == "@":
        return "parameter transformation"
    if re.match(r":?=", rest):
        return "assignment in expansion"
    if re.match(r":?[-?+]|##?|%%?|//?|/#|/%|\^\^?|,,?", rest):
        return None
    if rest[0] == ":":
        return None if _SUBSTRING.fullmatch(rest) else "variable in arithmetic"
    return "unsupported expansion"
