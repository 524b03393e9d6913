"""Match permission rules against a simple command, word by word (never by raw string prefix).

`Bash(git log:*)` must match `git log --oneline` but not `git logx`, and a word that is only
known at run time (`$X`, `*.py`) must never equal a literal the rule trusts. For allow rules
(the default) such a word matches only a rule's `*`. Deny rules pass `deny=True`: then such a
word matches anything it could expand to, so a deny cannot be dodged by hiding a word in a
variable.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache

from ketch.security.shell.types import SimpleCommand, Word

_SEP, _DYN = "\x00", "\x01"  # word separator and stand-in for unknown text: never in a rule
_STAR = None                 # a wildcard item in the intersection automaton
_DP_LIMIT = 2_000_000


def split_rule(rule: str) -> list[str] | None:
    """A rule's words, split like the shell would; None when malformed or unusable."""
    try:
        words = shlex.split(rule)
    except ValueError:
        return None
    if any(_SEP in w or _DYN in w for w in words):
        return None
    return words


def _words(cmd: SimpleCommand, deny: bool = False) -> list[Word]:
    words = list(cmd.word_list())
    if deny and words and words[0].literal and "/" in words[0].value:
        # `/bin/rm` and `./rm` are `rm` as far as a deny rule is concerned
        words[0] = Word(words[0].value.rsplit("/", 1)[1], literal=True)
    if cmd.input_args:
        words.append(Word("", literal=False, may_split=True, option_like=True))
    return words


def prefix_matches(rule_prefix: str, cmd: SimpleCommand, *, deny: bool = False) -> bool:
    """Are the rule's words the first words of argv? (`npm run test` vs `npm run testing`: no.)"""
    rule = rule_prefix.removesuffix(":*")
    wanted = split_rule(rule)
    if not wanted:
        return deny
    words = _words(cmd, deny)
    for i, expected in enumerate(wanted):
        if i >= len(words):
            return False
        word = words[i]
        if word.literal:
            if word.value != expected:
                return False
        elif not deny:
            return False
        elif word.may_split:
            return True  # it could expand to every remaining word of the rule
    return True


def exact_matches(rule: str, cmd: SimpleCommand, *, deny: bool = False) -> bool:
    """Is argv exactly the rule's words?"""
    wanted = split_rule(rule)
    if wanted is None:
        return deny
    words = _words(cmd, deny)
    if not deny or all(w.literal for w in words):
        return len(words) == len(wanted) and all(w.literal and w.value == x for w, x in zip(words, wanted))
    # Deny: a word may stand for any one word, a splitting word for any number of them.
    reach = {0}
    for word in words:
        nxt: set[int] = set()
        for k in reach:
            if word.literal:
                if k < len(wanted) and wanted[k] == word.value:
                    nxt.add(k + 1)
            elif word.may_split:
                nxt.update(range(k, len(wanted) + 1))
            elif k < len(wanted):
                nxt.add(k + 1)
        reach = nxt
        if not reach:
            return False
    return len(wanted) in reach


def wildcard_matches(pattern: str, cmd: SimpleCommand, *, deny: bool = False) -> bool:
    """`git * main`: `*` is any run of characters or words; anchored at both ends."""
    wanted = split_rule(pattern)
    if not wanted:
        return deny
    words = _words(cmd, deny)
    if not deny or all(w.literal for w in words):
        text = _SEP.join(w.value if w.literal else _DYN for w in words)
        return _pattern_regex(tuple(wanted)).fullmatch(text) is not None
    return _intersects(_pattern_items(wanted), _command_items(words))


@lru_cache(maxsize=512)
def _pattern_regex(wanted: tuple[str, ...]) -> re.Pattern[str]:
    out = []
    for i, word in enumerate(wanted):
        if word == "*":
            if i == 0:
                out.append(".*" if len(wanted) == 1 else f"(?:.*{_SEP})?")
            else:
                out.append(f"(?:{_SEP}.*)?")
            continue
        if i > 0 and not (i == 1 and wanted[0] == "*"):
            out.append(_SEP)
        out.append(".*".join(re.escape(part) for part in word.split("*")))
    return re.compile("".join(out), re.DOTALL)


def _pattern_items(wanted: list[str]) -> list[str | None]:
    items: list[str | None] = []
    for i, word in enumerate(wanted):
        if word == "*":
            items.append(_STAR)  # absorbs its separator: zero or more words
            continue
        if i > 0 and not (i == 1 and wanted[0] == "*"):
            items.append(_SEP)
        for j, part in enumerate(word.split("*")):
            if j:
                items.append(_STAR)
            items.extend(part)
    return items


def _command_items(words: list[Word]) -> list[str | None]:
    items: list[str | None] = []
    for i, word in enumerate(words):
        if word.literal:
            if i:
                items.append(_SEP)
            items.extend(word.value)
        elif word.may_split:
            items.append(_STAR)  # zero or more words, separator included
        else:
            if i:
                items.append(_SEP)
            items.append(_STAR)
    return items


def _intersects(a: list[str | None], b: list[str | None]) -> bool:
    """Can some string match both wildcard sequences? (None is `*`.)"""
    n, m = len(a), len(b)
    if (n + 1) * (m + 1) > _DP_LIMIT:
        return True  # too large to decide: a deny rule errs towards matching
    nxt = [False] * (m + 1)
    nxt[m] = True
    for j in range(m - 1, -1, -1):
        nxt[j] = b[j] is _STAR and nxt[j + 1]
    for i in range(n - 1, -1, -1):
        cur = [False] * (m + 1)
        cur[m] = a[i] is _STAR and nxt[m]
        for j in range(m - 1, -1, -1):
            if a[i] is _STAR:
                cur[j] = nxt[j] or cur[j + 1]
            elif b[j] is _STAR:
                cur[j] = cur[j + 1] or nxt[j]
            else:
                cur[j] = a[i] == b[j] and nxt[j + 1]
        nxt = cur
    return nxt[0]
