"""Look through wrapper programs (`timeout 5 env X=1 rm x` runs `rm x`).

A rule about `rm` must apply however many wrappers stand in front of it, and a read-only
verdict must be about the program that really runs. Each wrapper's own options are parsed
as the wrapper parses them, so `timeout -k 5 10 rm` does not hide `rm` behind `10`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from ketch.security.shell.getopt import NONE, OPTIONAL, REQUIRED, Parsed, Spec, parse
from ketch.security.shell.types import Word

_N, _R, _O = NONE, REQUIRED, OPTIONAL
_NAME_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Unwrapped:
    words: list[Word]
    wrappers: list[str] = field(default_factory=list)
    wrapper_argv: list[list[str]] = field(default_factory=list)
    assignments: list[Word] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    input_args: bool = False
    read_only_ok: bool = True  # False when a wrapper itself writes, changes directory, elevates...


@dataclass
class _Step:
    """What one wrapper contributes: how many words it takes, and its effects."""

    taken: int
    inner: list[Word] | None = None  # replaces the words after `taken` (xargs' default echo, env -S)
    assignments: list[Word] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    input_args: bool = False
    replace: str | None = None
    read_only_ok: bool = True


def _options(words: list[Word], spec: Spec) -> tuple[int, list[str], Parsed]:
    parsed = parse(words, 1, spec)
    problems = []
    if parsed.unknown:
        problems.append(f"unrecognised option for {words[0].value}")
    if parsed.dynamic:
        problems.append(f"expansion in {words[0].value} arguments")
    return parsed.end, problems, parsed


def _simple(spec: Spec, operands_before_command: int = 0, read_only_ok: bool = True
            ) -> Callable[[list[Word]], _Step | None]:
    def step(words: list[Word]) -> _Step | None:
        end, problems, _ = _options(words, spec)
        end += operands_before_command
        if end >= len(words):
            return None
        return _Step(end, problems=problems, read_only_ok=read_only_ok)
    return step


def _nice(words: list[Word]) -> _Step | None:
    if len(words) > 1 and words[1].literal and re.fullmatch(r"-[-+]?[0-9]+", words[1].value):
        return _Step(2) if len(words) > 2 else None
    return _simple(Spec({"n": _R}, {"adjustment": _R, "help": _N, "version": _N}, permute=False))(words)


def _env(words: list[Word]) -> _Step | None:
    spec = Spec({"0": _N, "i": _N, "u": _R, "C": _R, "S": _R, "v": _N, "a": _R},
                {"ignore-environment": _N, "null": _N, "unset": _R, "chdir": _R, "split-string": _R,
                 "debug": _N, "help": _N, "version": _N, "block-signal": _O, "default-signal": _O,
                 "ignore-signal": _O, "list-signal-handling": _N, "argv0": _R}, permute=False)
    end, problems, parsed = _options(words, spec)
    i = end
    while i < len(words) and words[i].literal and words[i].value == "-":
        i += 1  # a lone `-` means -i to env
    assignments = []
    while i < len(words) and words[i].literal and _NAME_VALUE.match(words[i].value):
        assignments.append(words[i])
        i += 1
    if i < len(words) and not words[i].literal and "=" in words[i].value:
        problems.append("expansion in env arguments")
    inner = None
    split = parsed.values("-S", "--split-string")
    if split:
        problems.append("env -S")
        try:
            inner = [Word(w) for w in shlex.split(split[-1] or "")] + words[i:]
        except ValueError:
            problems.append("parse error")
            inner = words[i:]
        if not inner:
            return None
    elif i >= len(words):
        return None
    chdir = parsed.has("-C", "--chdir")
    return _Step(i, inner=inner, assignments=assignments, problems=problems, read_only_ok=not chdir)


def _command(words: list[Word]) -> _Step | None:
    end, problems, parsed = _options(words, Spec({"p": _N, "v": _N, "V": _N}, permute=False))
    if parsed.has("-v", "-V") or end >= len(words):
        return None  # `command -v x` is a query, not a wrapper
    return _Step(end, problems=problems)


def _builtin(words: list[Word]) -> _Step | None:
    return _Step(1) if len(words) > 1 else None


def _ionice(words: list[Word]) -> _Step | None:
    spec = Spec({"c": _R, "n": _R, "p": _R, "P": _R, "t": _N, "u": _R, "h": _N, "V": _N},
                {"class": _R, "classdata": _R, "pid": _R, "pgid": _R, "ignore": _N, "uid": _R,
                 "help": _N, "version": _N}, permute=False)
    end, problems, parsed = _options(words, spec)
    if parsed.has("-p", "-P", "-u", "--pid", "--pgid", "--uid") or end >= len(words):
        return None
    return _Step(end, problems=problems)


def _time(words: list[Word]) -> _Step | None:
    spec = Spec({"p": _N, "a": _N, "v": _N, "q": _N, "f": _R, "o": _R, "V": _N},
                {"format": _R, "output": _R, "append": _N, "verbose": _N, "quiet": _N,
                 "portability": _N, "help": _N, "version": _N}, permute=False)
    end, problems, parsed = _options(words, spec)
    if end >= len(words):
        return None
    writes = parsed.has("-o", "--output")
    return _Step(end, problems=problems, read_only_ok=not writes)


def _xargs(words: list[Word]) -> _Step:
    spec = Spec({"0": _N, "a": _R, "E": _R, "e": _O, "i": _O, "I": _R, "l": _O, "L": _R, "n": _R,
                 "p": _N, "r": _N, "s": _R, "t": _N, "P": _R, "x": _N, "d": _R, "o": _N},
                {"null": _N, "arg-file": _R, "delimiter": _R, "eof": _O, "replace": _O, "max-lines": _O,
                 "max-args": _R, "interactive": _N, "no-run-if-empty": _N, "max-chars": _R, "verbose": _N,
                 "show-limits": _N, "exit": _N, "max-procs": _R, "process-slot-var": _R, "open-tty": _N,
                 "help": _N, "version": _N}, permute=False)
    end, problems, parsed = _options(words, spec)
    replace = None
    for name, value in parsed.options:
        if name == "-I":
            replace = value
        elif name in ("-i", "--replace"):
            replace = value or "{}"
    inner = None if end < len(words) else [Word("echo")]
    slot = parsed.has("--process-slot-var")
    return _Step(end, inner=inner, problems=problems, input_args=True, replace=replace, read_only_ok=not slot)


def _sudo(words: list[Word]) -> _Step | None:
    spec = Spec({c: _N for c in "AbEeHiKklnPSsVvBN"} | {c: _R for c in "CDghprRTtUuc"},
                {"preserve-env": _O, "user": _R, "group": _R, "shell": _N, "login": _N, "non-interactive": _N,
                 "chdir": _R, "chroot": _R, "prompt": _R, "host": _R, "close-from": _R, "role": _R,
                 "type": _R, "command-timeout": _R, "other-user": _R, "stdin": _N, "background": _N,
                 "askpass": _N, "set-home": _N, "preserve-groups": _N, "edit": _N, "list": _N,
                 "validate": _N, "reset-timestamp": _N, "remove-timestamp": _N, "bell": _N,
                 "help": _N, "version": _N}, permute=False)
    end, problems, _ = _options(words, spec)
    i = end
    assignments = []
    while i < len(words) and words[i].literal and _NAME_VALUE.match(words[i].value):
        assignments.append(words[i])
        i += 1
    if i >= len(words):
        return None
    return _Step(i, assignments=assignments, problems=problems, read_only_ok=False)


def _doas(words: list[Word]) -> _Step | None:
    return _simple(Spec({"n": _N, "s": _N, "u": _R, "C": _R, "L": _N}, permute=False), read_only_ok=False)(words)


def _exec(words: list[Word]) -> _Step | None:
    return _simple(Spec({"c": _N, "l": _N, "a": _R}, permute=False), read_only_ok=False)(words)


def _coproc(words: list[Word]) -> _Step | None:
    return _Step(1, problems=["coproc"], read_only_ok=False) if len(words) > 1 else None


WRAPPERS: dict[str, Callable[[list[Word]], _Step | None]] = {
    "timeout": _simple(Spec({"k": _R, "s": _R, "v": _N},
                            {"kill-after": _R, "signal": _R, "foreground": _N, "preserve-status": _N,
                             "verbose": _N, "help": _N, "version": _N}, permute=False), 1),
    "nice": _nice,
    "nohup": _simple(Spec({}, {"help": _N, "version": _N}, permute=False), read_only_ok=False),
    "env": _env,
    "command": _command,
    "builtin": _builtin,
    "time": _time,
    "stdbuf": _simple(Spec({"i": _R, "o": _R, "e": _R},
                           {"input": _R, "output": _R, "error": _R, "help": _N, "version": _N}, permute=False)),
    "ionice": _ionice,
    "setsid": _simple(Spec({"c": _N, "f": _N, "w": _N},
                           {"ctty": _N, "fork": _N, "wait": _N, "help": _N, "version": _N}, permute=False)),
    "xargs": _xargs,
    "sudo": _sudo,
    "doas": _doas,
    "exec": _exec,
    "coproc": _coproc,
}


_TRUSTED_DIRS = ("/bin/", "/usr/bin/")


def wrapper_name(value: str) -> tuple[str, bool]:
    """(name, trusted): `/usr/bin/timeout` is timeout; `/tmp/x/timeout` is looked through too,
    so deny rules still see what it runs, but it is not the real wrapper (not trusted)."""
    if "/" not in value:
        return value, True
    directory, _, name = value.rpartition("/")
    return name, directory + "/" in _TRUSTED_DIRS


def unwrap(words: list[Word]) -> Unwrapped:
    """Peel wrappers off the front of `words`, outermost first."""
    out = Unwrapped(words)
    replace: str | None = None
    for _ in range(32):
        if not out.words or not out.words[0].literal:
            break
        name, trusted = wrapper_name(out.words[0].value)
        step_fn = WRAPPERS.get(name)
        step = step_fn(out.words) if step_fn else None
        if step is None:
            break
        if not trusted:
            out.read_only_ok = False
        out.wrappers.append(name)
        out.wrapper_argv.append([w.value for w in out.words[:step.taken]])
        out.assignments.extend(step.assignments)
        out.problems.extend(p for p in step.problems if p not in out.problems)
        out.input_args = out.input_args or step.input_args
        out.read_only_ok = out.read_only_ok and step.read_only_ok
        replace = step.replace or replace
        out.words = step.inner if step.inner is not None else out.words[step.taken:]
    else:
        out.problems.append("too many wrappers")
    if replace:
        out.words = [Word(w.value, False, False, True) if replace in w.value else w for w in out.words]
    return out
