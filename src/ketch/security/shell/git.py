"""Which git invocations only read, and which run programs (DESIGN.md §5.9).

`git status` is the most common command an agent runs and must not nag; `git -c
core.pager=sh log`, `git diff --ext-diff` or `git log --output=f` must never slip through as
"read-only". Global options that point git at another repository or configuration
(`-C`, `--git-dir`, `--work-tree`, `--bare`) are not read-only either: a repository the
model planted can run anything through its config (`core.fsmonitor`, `diff.external`).
"""

from __future__ import annotations

import re

from ketch.security.shell.getopt import long_option_used, short_cluster_has
from ketch.security.shell.types import Word

# Global options that take a separate value word.
_GLOBAL_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path",
                                "--config-env", "--super-prefix", "--attr-source", "--list-cmds"})
_GLOBAL_HARMLESS = frozenset({"-P", "--no-pager", "--no-replace-objects", "--literal-pathspecs",
                              "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs",
                              "--no-optional-locks", "--no-advice"})
_GLOBAL_RUNS_CODE = ("-c", "--config-env", "--exec-path")

_READ_SUBCOMMANDS = frozenset({"status", "diff", "log", "show", "rev-parse", "ls-files", "ls-tree",
                               "blame", "shortlog", "describe", "cat-file", "grep", "rev-list",
                               "show-ref", "merge-base", "for-each-ref", "name-rev", "count-objects",
                               "check-ignore", "whatchanged", "version", "branch", "tag", "remote",
                               "config", "reflog", "stash", "worktree"})
_WRITING_LONG = ("--output", "--ext-diff", "--open-files-in-pager")

_BRANCH_FLAGS = frozenset({"-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "-l", "--list",
                           "--show-current", "--no-color", "--color", "--no-column", "--column", "-i",
                           "--ignore-case", "--no-abbrev", "--abbrev", "--omit-empty"})
_BRANCH_FILTERS = ("--contains", "--no-contains", "--merged", "--no-merged", "--points-at",
                   "--sort", "--format", "--abbrev", "--color", "--column")
_TAG_FLAGS = frozenset({"-l", "--list", "-n", "-i", "--ignore-case", "--no-column", "--column",
                        "--color", "--omit-empty"})
_TAG_FILTERS = ("--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort",
                "--format", "-n", "--column", "--color")
_CONFIG_READ = frozenset({"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l",
                          "get", "list", "--get-color", "--get-colorbool"})
# Not `--includes`: with `--file=` or `--blob=` it makes git read the files a config's
# `include.path` names (`../.pypirc`), which no path check sees; without them it is the default.
_CONFIG_MODIFIERS = frozenset({"--global", "--system", "--local", "--worktree", "--show-origin",
                               "--show-scope", "--name-only", "-z", "--null", "--no-includes",
                               "--bool", "--int", "--bool-or-int", "--path", "--expiry-date",
                               "--all", "--regexp", "--url"})


def _global_options(words: list[Word]) -> tuple[int, bool, bool] | None:
    """(index of the subcommand, read-only so far, runs code) or None if unreadable."""
    i, read_only, runs = 1, True, False
    while i < len(words):
        word = words[i]
        if not word.literal:
            return None
        v = word.value
        if not v.startswith("-"):
            return i, read_only, runs
        name = v.split("=", 1)[0]
        if name in _GLOBAL_RUNS_CODE and (name != "--exec-path" or "=" in v) or re.match(r"-c.", v):
            runs = True
        if name in _GLOBAL_WITH_VALUE:
            if name not in ("--list-cmds", "--attr-source", "--namespace"):
                read_only = False
            i += 1 if ("=" in v or name == "--exec-path") else 2
            continue
        if name not in _GLOBAL_HARMLESS:
            read_only = False  # -p/--paginate, --bare, --help, unknown
        i += 1
    return None


def git_read_only(words: list[Word]) -> bool:
    parsed = _global_options(words)
    if parsed is None:
        return False
    index, read_only, runs = parsed
    if not read_only or runs:
        return False
    sub = words[index].value
    args = words[index + 1:]
    if sub not in _READ_SUBCOMMANDS:
        return False
    if any(not w.literal and w.could_be_option for w in args):
        return False
    if long_option_used(args, _WRITING_LONG, start=0):
        return False
    if sub == "grep" and short_cluster_has(args, "O", start=0):
        return False
    checker = _SUBCOMMAND_CHECKS.get(sub)
    return checker(args) if checker else True


def _positionals(args: list[Word], with_value: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for w in args:
        if skip:
            skip = False
            continue
        v = w.value
        if v.startswith("-"):
            if v in with_value:
                skip = v in ("--sort", "--format", "-n")  # the only ones that require a value
            continue
        out.append(v)
    return out


def _branch(args: list[Word]) -> bool:
    for w in args:
        v = w.value
        if v.startswith("-") and v.split("=", 1)[0] not in _BRANCH_FLAGS \
                and not v.startswith(_BRANCH_FILTERS) and not re.fullmatch(r"-[arvli]+", v):
            return False
    listing = any(w.value.startswith(("-l", "--list", "--contains", "--no-contains", "--merged",
                                      "--no-merged", "--points-at")) for w in args)
    return listing or not _positionals(args, _BRANCH_FILTERS)


def _tag(args: list[Word]) -> bool:
    for w in args:
        v = w.value
        if v.startswith("-") and v.split("=", 1)[0] not in _TAG_FLAGS and not v.startswith(_TAG_FILTERS):
            return False
    listing = any(w.value in ("-l", "--list") for w in args)
    return listing or not _positionals(args, _TAG_FILTERS)


def _remote(args: list[Word]) -> bool:
    values = [w.value for w in args]
    if all(v in ("-v", "--verbose") for v in values):
        return True
    return len(values) >= 2 and values[0] == "get-url" and all(
        v in ("--push", "--all") or not v.startswith("-") for v in values[1:])


def _config(args: list[Word]) -> bool:
    values = [w.value for w in args]
    if len(values) == 1 and not values[0].startswith("-") and values[0] not in ("set", "unset", "edit"):
        return True  # `git config user.name` prints the value
    if not any(v.split("=", 1)[0] in _CONFIG_READ for v in values[:2]):
        return False
    for v in values:
        if v.startswith("-") and v.split("=", 1)[0] not in _CONFIG_READ | _CONFIG_MODIFIERS \
                and not v.startswith(("--type", "--default", "--file=", "--blob=")):
            return False
    return True


def _reflog(args: list[Word]) -> bool:
    first = next((w.value for w in args if not w.value.startswith("-")), None)
    if first in (None, "show", "exists", "list"):
        return True
    return first == "HEAD" or any(ch in first for ch in "@/~^")


def _stash(args: list[Word]) -> bool:
    return bool(args) and args[0].value in ("list", "show")


def _worktree(args: list[Word]) -> bool:
    return bool(args) and args[0].value == "list"


_SUBCOMMAND_CHECKS = {"branch": _branch, "tag": _tag, "remote": _remote, "config": _config,
                      "reflog": _reflog, "stash": _stash, "worktree": _worktree}

_CODE_SUBCOMMANDS = frozenset({"difftool", "mergetool", "filter-branch", "filter-repo", "daemon",
                               "instaweb", "send-email", "web--browse", "credential", "askpass"})
_CODE_LONG = ("--upload-pack", "--receive-pack", "--exec", "--extcmd", "--tool")


def git_runs_code(words: list[Word]) -> bool:
    parsed = _global_options(words)
    if parsed is None:
        return True
    index, _, runs = parsed
    if runs:
        return True
    sub = words[index].value
    args = words[index + 1:]
    if sub in _CODE_SUBCOMMANDS:
        return True
    if long_option_used(args, _CODE_LONG, start=0):
        return True
    if sub in ("clone", "ls-remote", "archive", "fetch", "pull") and short_cluster_has(args, "u", start=0):
        return True
    if sub == "rebase" and short_cluster_has(args, "x", start=0):
        return True
    if sub == "submodule" and any(w.value == "foreach" for w in args):
        return True
    if sub == "bisect" and args and args[0].value == "run":
        return True
    return sub == "config" and any(w.value in ("-e", "--edit") for w in args)
