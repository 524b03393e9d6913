"""GNU-style option parsing over shell words, as the programs themselves would do it.

Classifying `sort -o`, `timeout -k 5 10 cmd` or `sed -ni` by looking for a flag in a list
is unsound: clusters (`-nz`), attached values (`-ofile`), long-option abbreviations
(`--out=x` is `--output=x` to getopt_long) and options after operands all change the
meaning. This follows getopt_long's rules so a dangerous option cannot hide in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ketch.security.shell.types import Word

NONE, REQUIRED, OPTIONAL = 0, 1, 2


@dataclass
class Spec:
    short: dict[str, int] = field(default_factory=dict)
    long: dict[str, int] = field(default_factory=dict)
    permute: bool = True  # GNU default; wrappers use "+" (stop at the first operand)


@dataclass
class Parsed:
    options: list[tuple[str, str | None]] = field(default_factory=list)  # ("-o", "file"), ("--output", "f")
    operands: list[int] = field(default_factory=list)  # indices into the words
    end: int = 0          # index of the first word not consumed as an option (non-permuting)
    unknown: list[str] = field(default_factory=list)
    dynamic: bool = False  # an expansion stood where an option could be

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.options)

    def values(self, *names: str) -> list[str | None]:
        return [value for name, value in self.options if name in names]


def resolve_long(name: str, names: dict[str, int]) -> str | None:
    """getopt_long accepts any unambiguous prefix of a long option."""
    if name in names:
        return name
    matches = [n for n in names if n.startswith(name)]
    return matches[0] if len(matches) == 1 and name else None


def parse(words: list[Word], start: int, spec: Spec) -> Parsed:
    out = Parsed(end=len(words))
    i = start
    while i < len(words):
        word = words[i]
        value = word.value
        if not word.literal and word.could_be_option:
            out.dynamic = True
        if value == "--" and word.literal:
            out.operands.extend(range(i + 1, len(words)))
            if not spec.permute:
                out.end = i + 1
            return out
        if not word.literal or not value.startswith("-") or value == "-":
            if not spec.permute:
                out.end = i
                return out
            out.operands.append(i)
            i += 1
            continue
        nxt = words[i + 1].value if i + 1 < len(words) else None
        if value.startswith("--"):
            name, eq, attached = value[2:].partition("=")
            resolved = resolve_long(name, spec.long)
            if resolved is None:
                out.unknown.append("--" + name)
                out.options.append(("--" + name, attached if eq else None))
                i += 1
                continue
            kind = spec.long[resolved]
            if kind == REQUIRED and not eq:
                out.options.append(("--" + resolved, nxt))
                i += 2
                continue
            out.options.append(("--" + resolved, attached if eq else None))
            i += 1
            continue
        j = 1
        consumed_next = False
        while j < len(value):
            ch = value[j]
            short_kind = spec.short.get(ch)
            if short_kind is None:
                out.unknown.append("-" + ch)
                out.options.append(("-" + ch, None))
                j += 1
            elif short_kind == NONE:
                out.options.append(("-" + ch, None))
                j += 1
            elif short_kind == OPTIONAL:
                out.options.append(("-" + ch, value[j + 1:] or None))
                break
            else:
                if value[j + 1:]:
                    out.options.append(("-" + ch, value[j + 1:]))
                else:
                    out.options.append(("-" + ch, nxt))
                    consumed_next = True
                break
        i += 2 if consumed_next else 1
    return out


def short_cluster_has(words: list[Word], letters: str, start: int = 1) -> bool:
    """Does any single-dash word carry one of `letters`? (Over-approximates: a letter in an
    attached value counts too, which only errs towards caution.)"""
    for word in words[start:]:
        v = word.value
        if v.startswith("-") and not v.startswith("--") and any(ch in v[1:] for ch in letters):
            return True
    return False


def long_option_used(words: list[Word], names: tuple[str, ...], start: int = 1, minimum: int = 3) -> bool:
    """Is any of the long options `names` (e.g. "--output") given, spelled out or abbreviated?"""
    for word in words[start:]:
        v = word.value
        if not v.startswith("--"):
            continue
        given = v.split("=", 1)[0]
        if len(given) < minimum:
            continue
        if any(name.startswith(given) for name in names):
            return True
    return False
