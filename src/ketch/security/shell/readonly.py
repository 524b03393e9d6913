"""Which simple commands only read (DESIGN.md §5: ordinary reading must not nag).

A command is read-only when, given its actual flags, it can neither write a file, nor run
another program, nor reach the network. Unknown programs are never read-only. Flags are
checked the way the program parses them (clusters, abbreviations, options after operands),
and a word whose value is only known at run time (`$X`, `*`) is assumed to be the worst
option it could be, unless the program has no dangerous option at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ketch.security.shell.checks import RISKY_LOWER_VARS
from ketch.security.shell.getopt import NONE, OPTIONAL, REQUIRED, Spec, long_option_used, parse, short_cluster_has
from ketch.security.shell.git import git_read_only
from ketch.security.shell.sed import classify as classify_sed
from ketch.security.shell.types import Redirect, SimpleCommand, Word

SAFE_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
SAFE_ASSIGNMENTS = frozenset({"LANG", "LANGUAGE", "TZ", "NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS",
                              "LINES", "CLICOLOR", "CLICOLOR_FORCE", "GREP_COLOR", "GREP_COLORS"})
_LOCALE = re.compile(r"LC_(ALL|CTYPE|COLLATE|MESSAGES|NUMERIC|TIME|MONETARY|PAPER|NAME|ADDRESS|"
                     r"TELEPHONE|MEASUREMENT|IDENTIFICATION)")
_TRUSTED_DIRS = ("/bin/", "/usr/bin/")
_NO_WRAPPER_READ = frozenset({"sudo", "doas", "exec", "coproc", "nohup"})

# Programs with no option that writes, runs a program or reaches the network: any words do.
ANY_ARGS = frozenset({
    "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "echo", "pwd", "which", "type",
    "stat", "du", "df", "cut", "tr", "basename", "dirname", "realpath", "readlink", "true", "false",
    "id", "whoami", "uname", "nproc", "free", "uptime", "printenv", "cmp", "diff",
    "tac", "nl", "seq", "od", "comm", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum", "[[", ":",
})
_FIND_UNSAFE = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0",
                          "-fprintf", "-fls"})
_HOSTNAME_FLAGS = frozenset({"-f", "--fqdn", "--long", "-s", "--short", "-d", "--domain", "-i",
                             "--ip-address", "-I", "--all-ip-addresses", "-A", "--all-fqdns", "-a",
                             "--alias", "-y", "--yp", "--nis"})
_DATE = Spec({"d": REQUIRED, "f": REQUIRED, "I": OPTIONAL, "r": REQUIRED, "R": NONE, "s": REQUIRED, "u": NONE},
             {"date": REQUIRED, "file": REQUIRED, "iso-8601": OPTIONAL, "rfc-email": NONE, "rfc-3339": REQUIRED,
              "reference": REQUIRED, "set": REQUIRED, "universal": NONE, "utc": NONE, "debug": NONE,
              "resolution": NONE, "help": NONE, "version": NONE})
_READ = Spec({"a": REQUIRED, "d": REQUIRED, "e": NONE, "E": NONE, "i": REQUIRED, "n": REQUIRED,
              "N": REQUIRED, "p": REQUIRED, "r": NONE, "s": NONE, "t": REQUIRED, "u": REQUIRED}, {})
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_JQ_MODULE = re.compile(r"\b(import|include)\b")
_PS_VALUE_SHORT = frozenset("oOpuUgGtCqsk")      # `-o FORMAT`, `-p PID`...: the value may be the next word
_PS_VALUE_BSD = frozenset("oOpUtk")               # `axo FORMAT`: a BSD cluster ending in one takes the next word
_PS_VALUE_LONG = frozenset({"format", "pid", "ppid", "user", "User", "group", "Group", "tty", "sid", "sort",
                            "cols", "columns", "rows", "lines", "width", "quick-pid"})
_GREP = Spec({**dict.fromkeys("efmABCdD", REQUIRED), **dict.fromkeys("EFGPiyvwxclLoqsbHhnTZzrRaIUVu", NONE)},
             {**dict.fromkeys(("regexp", "file", "max-count", "after-context", "before-context", "context",
                               "directories", "devices", "include", "exclude", "exclude-from", "exclude-dir",
                               "label", "binary-files", "group-separator"), REQUIRED),
              "color": OPTIONAL, "colour": OPTIONAL,
              **dict.fromkeys(("extended-regexp", "fixed-strings", "basic-regexp", "perl-regexp", "ignore-case",
                               "no-ignore-case", "invert-match", "word-regexp", "line-regexp", "count",
                               "files-with-matches", "files-without-match", "only-matching", "quiet", "silent",
                               "no-messages", "byte-offset", "with-filename", "no-filename", "line-number",
                               "initial-tab", "null", "null-data", "text", "recursive", "dereference-recursive",
                               "line-buffered", "binary", "no-group-separator", "help", "version"), NONE)})
_UNIQ = Spec({"c": NONE, "d": NONE, "D": NONE, "i": NONE, "u": NONE, "z": NONE, "f": REQUIRED,
              "s": REQUIRED, "w": REQUIRED},
             {"count": NONE, "repeated": NONE, "all-repeated": OPTIONAL, "skip-fields": REQUIRED,
              "group": OPTIONAL, "ignore-case": NONE, "unique": NONE, "zero-terminated": NONE,
              "skip-chars": REQUIRED, "check-chars": REQUIRED, "help": NONE, "version": NONE})


def is_read_only(cmd: SimpleCommand) -> bool:
    """True only for commands that can neither write, nor run programs, nor use the network."""
    if not cmd.wrappers_read_only or _NO_WRAPPER_READ & set(cmd.wrappers):
        return False
    if not all(redirect_is_harmless(r) for r in cmd.redirects):
        return False
    if not all(assignment_is_harmless(a) for a in cmd.assignments):
        return False
    words = list(cmd.word_list())
    if not words:
        return True
    if not words[0].literal:
        return False
    name = program_name(words[0].value)
    if name is None:
        return False
    if cmd.input_args:
        words.append(Word("", literal=False, may_split=True, option_like=True))
    if name in ANY_ARGS:
        return True
    check = _CHECKS.get(name)
    return bool(check and check(words))


def folders_read_through_links(cmd: SimpleCommand) -> list[Word]:
    """The folders below which the command reads files through the symbolic links it meets
    there ([] for most commands). `grep -R`, `rg -L` and `diff DIR DIR` follow them: a link a
    repository ships (`docs -> ~/.ssh`) turns `grep -R x .` into a read of what it points to,
    so the gate checks where every link below these folders leads. Over-approximates: any
    operand may be a folder, and the current folder counts when the program may search it."""
    words = cmd.word_list()
    name = program_name(words[0].value) if words and words[0].literal else None
    if name in ("grep", "egrep", "fgrep"):
        if not (short_cluster_has(words, "R") or long_option_used(words, ("--dereference-recursive",), minimum=5)):
            return []
        parsed = parse(words, 1, _GREP)
        operands = [words[i] for i in parsed.operands]
        if not parsed.has("-e", "--regexp", "-f", "--file"):
            operands = operands[1:]  # the first is the pattern
        unsure = parsed.dynamic or bool(parsed.unknown) or not operands
        return operands + [Word(".")] if unsure else operands
    if name == "rg":
        if not (short_cluster_has(words, "L") or long_option_used(words, ("--follow",))):
            return []
        return [w for w in words[1:] if not w.value.startswith("-")] + [Word(".")]
    if name == "diff" and not long_option_used(words, ("--no-dereference",), minimum=6):
        return [w for w in words[1:] if not w.value.startswith("-")] + \
            [Word(w.value.split("=", 1)[1]) for w in words[1:] if w.literal and w.value.startswith("--") and "=" in w.value]
    return []


def files_named_inside(cmd: SimpleCommand) -> list[str]:
    """Files a read-only command opens that no word of its own names (sed's `r FILE` inside
    its script): the gate must check them as it checks the words."""
    words = cmd.word_list()
    if not words or not words[0].literal or program_name(words[0].value) != "sed":
        return []
    return list(classify_sed(words).reads)


def program_name(value: str) -> str | None:
    """`ls` or `/usr/bin/ls` -> "ls"; any other path (`./ls`) is not the program it names."""
    if "/" not in value:
        return value
    for directory in _TRUSTED_DIRS:
        if value.startswith(directory) and "/" not in value[len(directory):]:
            return value[len(directory):]
    return None


def redirect_is_harmless(redirect: Redirect) -> bool:
    if redirect.target.startswith(("/dev/tcp/", "/dev/udp/")):
        return False  # bash opens a network connection for these names
    if ">" not in redirect.op:
        return True
    return redirect.target.startswith("&") or redirect.target in SAFE_SINKS


def assignment_is_harmless(assignment: str) -> bool:
    name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", assignment)
    if not name or assignment[name.end():name.end() + 1] != "=":
        return False
    return name.group() in SAFE_ASSIGNMENTS or bool(_LOCALE.fullmatch(name.group()))


def _no_dynamic_options(words: list[Word]) -> bool:
    return not any(not w.literal and w.could_be_option for w in words[1:])


def _printf(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not any(w.value.startswith("-v") for w in words[1:2])


def _file(words: list[Word]) -> bool:
    """`-C` writes a compiled magic file; `-z` may start decompressors."""
    return _no_dynamic_options(words) and not short_cluster_has(words, "CzZ") \
        and not long_option_used(words, ("--compile", "--uncompress", "--uncompress-noreport"))


def _hostname(words: list[Word]) -> bool:
    return all(w.literal and w.value in _HOSTNAME_FLAGS for w in words[1:])


def _date(words: list[Word]) -> bool:
    parsed = parse(words, 1, _DATE)
    return not (parsed.dynamic or parsed.unknown or parsed.has("-s", "--set"))


def _test(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not any(w.value in ("-v", "-R") for w in words[1:])


def _env(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not short_cluster_has(words, "SC") \
        and not long_option_used(words, ("--split-string", "--chdir"))


def _command(words: list[Word]) -> bool:
    return len(words) > 1 and words[1].literal and words[1].value.startswith("-") \
        and any(ch in words[1].value for ch in "vV") and _no_dynamic_options(words)


def _sort(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not short_cluster_has(words, "o") \
        and not long_option_used(words, ("--output", "--compress-program"))


def _uniq(words: list[Word]) -> bool:
    parsed = parse(words, 1, _UNIQ)
    if parsed.dynamic or parsed.unknown:
        return False
    operands = [words[i] for i in parsed.operands]
    return len(operands) <= 1 and not any(w.may_split for w in operands)


def _tree(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not short_cluster_has(words, "oR") \
        and not long_option_used(words, ("--output",))


def _find(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not any(w.value in _FIND_UNSAFE for w in words[1:])


def _rg(words: list[Word]) -> bool:
    return _no_dynamic_options(words) and not short_cluster_has(words, "z") \
        and not long_option_used(words, ("--pre", "--pre-glob", "--search-zip", "--hostname-bin"))


def _read(words: list[Word]) -> bool:
    """`read line`: only into plain lowercase names (`read PATH` would redirect later commands,
    `read 'a[$(id)]'` runs code through the subscript)."""
    parsed = parse(words, 1, _READ)
    names = [words[i] for i in parsed.operands] + \
        [Word(v) for n, v in parsed.options if n == "-a" and v is not None]
    return not (parsed.dynamic or parsed.unknown) and all(
        w.literal and _PLAIN_NAME.fullmatch(w.value) and w.value not in RISKY_LOWER_VARS for w in names)


def _jq(words: list[Word]) -> bool:
    """`import "../x" as $d;` and `include` load a file named inside the program (a JSON file,
    searched from the current folder or a `search` folder the program names), which no path
    check sees; `-f` takes the program from a file, which is not read here. jq parses `-nf` as
    holding `-f`, and takes no abbreviated long options."""
    if short_cluster_has(words, "f") or any(w.value == "--from-file" for w in words[1:]):
        return False
    return not any(w.literal and _JQ_MODULE.search(w.value) for w in words[1:])


def _ps(words: list[Word]) -> bool:
    """BSD `e` (`ps axe`, `ps eww`) prints every process's environment after its command:
    unsandboxed, that is ketch's own, API key included. `-e` (every process) is harmless."""
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if not word.literal:
            return False
        v = word.value
        if v.startswith("--"):
            skip = "=" not in v and v[2:] in _PS_VALUE_LONG
        elif v.startswith("-"):  # `-eo FORMAT`: the first letter that takes a value takes the rest, or the next word
            taker = next((k for k, ch in enumerate(v[1:], 1) if ch in _PS_VALUE_SHORT), None)
            skip = taker == len(v) - 1
        elif "e" in v:
            return False
        else:
            skip = v[-1:] in _PS_VALUE_BSD
    return True


def _sed(words: list[Word]) -> bool:
    return classify_sed(words).reads_only


_CHECKS: dict[str, Callable[[list[Word]], bool]] = {
    "printf": _printf, "file": _file, "hostname": _hostname, "date": _date, "test": _test, "[": _test,
    "env": _env, "command": _command, "sort": _sort, "uniq": _uniq, "tree": _tree, "find": _find,
    "rg": _rg, "sed": _sed, "git": git_read_only, "read": _read, "jq": _jq, "ps": _ps,
}
