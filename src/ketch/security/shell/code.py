"""Which commands can run arbitrary code (DESIGN.md §5.9).

Used to refuse standing "always allow" rules for such programs: allowing `bash:*`,
`python -c:*` or `find:*` once would allow everything. This errs on the side of True;
the cost of a false True is one more prompt, the cost of a false False is a hole.
"""

from __future__ import annotations

import re

from ketch.security.shell.getopt import long_option_used, short_cluster_has
from ketch.security.shell.git import git_runs_code
from ketch.security.shell.readonly import program_name
from ketch.security.shell.sed import classify as classify_sed
from ketch.security.shell.types import SimpleCommand, Word

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh",
                     "tcsh", "busybox", "toybox", "rbash"})
_INTERPRETER = re.compile(r"(python|pypy|pythonw|node|nodejs|deno|bun|bunx|perl|ruby|irb|php|lua|luajit|"
                          r"osascript|pwsh|powershell|Rscript|R|julia|tclsh|wish|expect|racket|guile|"
                          r"jshell|groovy|scala|kotlin|elixir|erl|escript|swift|ts-node|tsx)[0-9.]*")
_ALWAYS = frozenset({
    "eval", "source", ".", "exec", "xargs", "trap", "enable", "alias", "let", "declare", "typeset",
    "local", "readonly", "export", "unset", "read", "mapfile", "readarray", "complete", "compgen",
    "bind", "fc", "hash", "shopt", "set", "builtin", "command_not_found_handle",
    "make", "gmake", "bmake", "npx", "pnpx", "uvx", "watch", "tmux", "screen", "ssh", "scp", "sftp",
    "vi", "vim", "nvim", "ex", "view", "gvim", "emacs", "emacsclient", "less", "more", "most",
    "su", "runuser", "pkexec", "chroot", "unshare", "nsenter", "systemd-run", "flatpak-spawn", "firejail",
    "bwrap", "fakeroot", "proot", "strace", "ltrace", "gdb", "lldb", "valgrind", "perf", "taskset",
    "chrt", "numactl", "flock", "parallel", "entr", "script", "at", "batch", "crontab", "awk", "gawk",
    "mawk", "nawk", "sqlite3", "psql", "mysql", "nix-shell", "sudo", "doas", "coproc",
})
# Wrappers left as the command name wrap nothing (the analyser looked through the others).
_BARE_WRAPPERS = frozenset({"env", "nice", "timeout", "nohup", "stdbuf", "setsid", "time", "command", "ionice"})
_RUN_SUBCOMMANDS = {
    "npm": {"exec", "x", "explore"}, "pnpm": {"dlx", "exec"}, "yarn": {"dlx", "exec"}, "bun": {"x"},
    "uv": {"run", "tool"}, "poetry": {"run"}, "pipenv": {"run"}, "pipx": {"run"}, "conda": {"run"},
    "nix": {"run", "shell", "develop"}, "docker": {"run", "exec", "build", "compose", "buildx", "create"},
    "podman": {"run", "exec", "build", "compose", "create"}, "kubectl": {"exec", "run", "debug", "attach"},
    "cargo": {"run", "script"}, "go": {"run", "generate"}, "cmake": {"-P", "--build", "-E"},
}
_VERSION_ONLY = frozenset({"--version", "-V", "-v", "--help", "-h", "-VV"})


def runs_arbitrary_code(cmd: SimpleCommand) -> bool:
    """Could a standing rule for this command let the model run anything it likes?"""
    if {"sudo", "doas", "xargs", "exec", "coproc"} & set(cmd.wrappers):
        return True
    words = cmd.word_list()
    if not words:
        return False
    if not words[0].literal:
        return True
    value = words[0].value
    name = program_name(value) or value.rsplit("/", 1)[-1]
    if "/" in value and program_name(value) is None:
        return True  # ./script, .venv/bin/tool: the model may have written or replaced it
    if name in SHELLS:
        return True
    if _INTERPRETER.fullmatch(name):
        return not (len(words) == 2 and words[1].value in _VERSION_ONLY)
    if name in _BARE_WRAPPERS:
        return name == "env" and (short_cluster_has(words, "S") or long_option_used(words, ("--split-string",)))
    if name in _ALWAYS:
        return True
    subcommands = _RUN_SUBCOMMANDS.get(name)
    if subcommands is not None:
        rest = [w.value for w in words[1:] if not w.value.startswith("-") or w.value in subcommands]
        if any(v in subcommands for v in rest[:3]):
            return True
        if name in ("npm", "pnpm", "yarn") and any(w.value in ("-c", "--call") for w in words):
            return True
    checker = _CHECKS.get(name)
    return bool(checker and checker(words))


def _find(words: list[Word]) -> bool:
    return any(w.value in ("-exec", "-execdir", "-ok", "-okdir") or (not w.literal and w.could_be_option)
               for w in words[1:])


def _sed(words: list[Word]) -> bool:
    return classify_sed(words).runs_code


def _rg(words: list[Word]) -> bool:
    return long_option_used(words, ("--pre", "--hostname-bin")) or \
        any(not w.literal and w.could_be_option for w in words[1:])


def _sort(words: list[Word]) -> bool:
    return long_option_used(words, ("--compress-program",))


def _tar(words: list[Word]) -> bool:
    return short_cluster_has(words, "IF") or long_option_used(
        words, ("--to-command", "--use-compress-program", "--checkpoint-action", "--info-script",
                "--new-volume-script", "--rsh-command", "--rmt-command")) or \
        any(w.value.startswith("--checkpoint-action") for w in words)


def _rsync(words: list[Word]) -> bool:
    return short_cluster_has(words, "e") or long_option_used(words, ("--rsh", "--rsync-path"))


def _zip(words: list[Word]) -> bool:
    return any(w.value in ("-TT", "--unzip-command") for w in words)


def _test(words: list[Word]) -> bool:
    return any(w.value in ("-v", "-R") or (not w.literal and w.could_be_option) for w in words[1:])


def _printf(words: list[Word]) -> bool:
    return any(w.value.startswith("-v") or (not w.literal and w.could_be_option) for w in words[1:2])


def _git(words: list[Word]) -> bool:
    return git_runs_code(words)


_CHECKS = {"find": _find, "sed": _sed, "rg": _rg, "sort": _sort, "tar": _tar, "rsync": _rsync,
           "zip": _zip, "test": _test, "[": _test, "[[": _test, "printf": _printf, "git": _git}
