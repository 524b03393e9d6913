"""Which rule the permission question offers to remember (for the session or the project).

Allowing one call must not quietly allow a whole class of calls the person never saw, so
the offer is the narrowest rule that still saves them from being asked again for the same
kind of work, like Claude Code's:

- a file tool (anything with a `file_path`): the file's folder, `Edit(src/ketch/**)`;
  outside the project a folder too (`Read(~/notes/**)`), but never `/`, the home folder or
  a folder above the project, which would cover everything — then just that file;
- Bash: `Bash(npm test:*)`, `Bash(git commit:*)`, `Bash(pytest:*)` when the line is one
  plain simple command the gate can match word by word; otherwise the exact line;
- WebFetch: the URL's exact host, `WebFetch(domain:docs.python.org)`.

Every offer is checked against the gate's own matchers before it is offered (a rule that
would not match the call it was made from is useless, and one we cannot write back and
read again would change meaning on disk). A remembered rule never outranks the gate's hard
path policy: protected and credential paths stay refused whatever is allowed (DESIGN.md §5.4).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ketch.agent.permissions.rules import Rule

# Programs whose second word picks what they do (`git commit`, `cargo test`): the offer keeps
# that word, so allowing `git commit` does not allow `git push`.
SUBCOMMAND_PROGRAMS = frozenset({
    "git", "npm", "pnpm", "yarn", "bun", "deno", "cargo", "go", "rustup", "pip", "pip3", "uv", "poetry",
    "pipenv", "pdm", "hatch", "conda", "mamba", "gh", "glab", "docker", "podman", "kubectl", "helm",
    "terraform", "dotnet", "mvn", "gradle", "mix", "bundle", "gem", "composer", "swift", "flutter",
    "dart", "ng", "nx", "turbo", "ruff", "pre-commit", "alembic", "brew", "apt", "apt-get", "systemctl",
    "aws", "gcloud", "az", "heroku", "vercel", "firebase", "rails", "django-admin", "jj", "hg",
})
# ...and whose `run` takes a script name that matters as much (`npm run lint` is not `npm run deploy`).
_RUN_SCRIPT = frozenset({"npm", "pnpm", "yarn", "bun"})
# Programs whose arguments ARE the risk (what to delete, move, fetch, kill): a prefix rule
# would hand over every target, so only the exact command is offered.
EXACT_ONLY = frozenset({
    "rm", "rmdir", "mv", "cp", "ln", "dd", "shred", "truncate", "chmod", "chown", "chgrp", "chattr",
    "kill", "pkill", "killall", "curl", "wget", "rsync", "tee", "install", "mount", "umount", "mkfs",
    "nc", "ncat", "socat", "telnet", "ftp",
})
_PROGRAM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_SUBCOMMAND = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]*")
_GLOB_SPECIAL = re.compile(r"([*?\[\]{}\\])")


def rule_for(tool: str, tool_input: dict[str, Any], workspace: Path | None = None,
             home: Path | None = None) -> Rule | None:
    """The rule to offer for remembering this call, or None when no safe one exists.

    `workspace` and `home` must be the gate's (the REPL passes them); they default to the
    current folder and the user's home only for callers that ask about Bash.
    """
    if tool == "Bash":
        return bash_rule(str(tool_input.get("command", "")))
    target = _target(tool_input)
    if target is not None:
        return path_rule(tool, target, workspace or Path(os.getcwd()), home or Path.home())
    url = tool_input.get("url")
    if isinstance(url, str) and url:
        return _domain_rule(tool, url)
    return Rule(tool)  # a tool with no path, command or URL: the tool is all there is to name


def may_offer_always(tool: str, tool_input: dict[str, Any], rule: Rule | None = None) -> bool:
    """Never a standing project rule for a command that can run code the model writes."""
    from ketch.agent.permissions.rules import RuleSyntaxError, parse_rules

    rule = rule if rule is not None else rule_for(tool, tool_input)
    if rule is None:
        return False
    try:
        if parse_rules([str(rule)]) != [rule]:
            return False  # it would not read back as the same rule (e.g. unbalanced parentheses)
    except RuleSyntaxError:
        return False
    if tool != "Bash":
        return True
    from ketch.security.shell import analyze, runs_arbitrary_code

    analysis = analyze(str(tool_input.get("command", "")))
    if not analysis.auto_allowable or not analysis.commands:
        return False
    if any(runs_arbitrary_code(cmd) for cmd in analysis.commands):
        return False
    if rule.spec is not None and rule.spec.endswith(":*"):
        words = analyze(rule.spec[:-2]).commands
        return bool(words) and not runs_arbitrary_code(words[0])
    return True


# -- Bash ------------------------------------------------------------------------------------


def bash_rule(command: str) -> Rule | None:
    """`Bash(prog sub:*)` for one plain simple command, else the exact line (None if empty)."""
    text = command.strip()
    if not text:
        return None
    prefix = _bash_prefix(text)
    if prefix is not None:
        return Rule("Bash", prefix + ":*")
    if text.endswith(":*"):
        return None  # as a rule this exact text would read as a prefix rule: it would mean more
    return Rule("Bash", text)


def _bash_prefix(text: str) -> str | None:
    """The words a prefix rule should keep, or None when only the exact line is safe to offer.

    Only for a line the gate can auto-allow at all (no substitutions, no parse doubts), made
    of ONE simple command that does not run arbitrary code: the gate then matches the rule
    against each simple command word by word, so `pytest; curl x` or `pytest $(...)` is
    never covered by `pytest:*`.
    """
    from ketch.security.shell import analyze, assignment_is_harmless, prefix_matches, runs_arbitrary_code

    analysis = analyze(text)
    if not analysis.auto_allowable or len(analysis.commands) != 1:
        return None
    cmd = analysis.commands[0]
    if runs_arbitrary_code(cmd):
        return None  # `python:*` would be every program: only this exact line may be remembered
    if not all(assignment_is_harmless(a) for a in cmd.assignments):
        return None  # the gate asks about `LD_PRELOAD=...` whatever the rule: only the exact line helps
    words = cmd.word_list()
    if not words or not words[0].literal or not _PROGRAM.fullmatch(words[0].value):
        return None  # `./script`, `$TOOL`: no program name to generalise from
    program = words[0].value
    if program in EXACT_ONLY:
        return None
    need = 1
    if program in SUBCOMMAND_PROGRAMS:  # `git` alone, `git -C x commit`: no clean subcommand, exact only
        need = 3 if program in _RUN_SCRIPT and len(words) > 2 and words[1].value in ("run", "run-script") else 2
    kept = words[:need]
    if len(kept) < need or not all(w.literal and _SUBCOMMAND.fullmatch(w.value) for w in kept[1:]):
        return None
    prefix = " ".join(w.value for w in kept)
    if not prefix_matches(prefix, cmd):
        return None  # the gate would not match it: offering it would only mislead
    return prefix


# -- paths -----------------------------------------------------------------------------------


def _target(tool_input: dict[str, Any]) -> tuple[str, str] | None:
    """("file", path) for a file the call names, ("dir", path) for a folder it searches."""
    for key in ("file_path", "notebook_path"):
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return "file", value
    value = tool_input.get("path")
    if isinstance(value, str) and value.strip():
        return "dir", value
    return None


def path_rule(tool: str, target: tuple[str, str], workspace: Path, home: Path) -> Rule | None:
    """The folder of the file (or the searched folder itself), as the gate's path syntax."""
    from ketch.agent.permissions.rules import path_rule_matches
    from ketch.tools.base import ToolError
    from ketch.tools.paths import is_inside, resolve

    kind, raw = target
    try:
        path = resolve(raw, workspace)  # exactly as the tool and the gate resolve it
    except ToolError:
        return None
    ws = Path(os.path.realpath(workspace))
    folder = path.parent if kind == "file" else path
    if is_inside(folder, ws):
        rel = folder.relative_to(ws).as_posix()
        if kind == "dir":  # a folder rule names the folder and covers what is below it
            spec = "./" + _escape(rel)
        else:
            spec = "./**" if rel == "." else _relative(_escape(rel)) + "/**"
    else:
        # Never `//**`, `~/**` or a folder holding the project: that would be everything.
        too_wide = folder == Path(folder.anchor) or is_inside(home, folder) or is_inside(ws, folder)
        if too_wide and kind == "dir":
            return None  # a search of `~` or `/`: no folder narrower than everything to offer
        where = path if too_wide else folder
        spec = _absolute_spec(where, home) + ("/**" if kind == "file" and not too_wide else "")
    rule = Rule(tool, spec)
    if not path_rule_matches(spec, path, workspace, home):
        return None
    return rule


def _absolute_spec(path: Path, home: Path) -> str:
    real_home = Path(os.path.realpath(home))
    for base in (Path(os.path.abspath(home)), real_home):
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        if rel.parts:
            return "~/" + _escape(rel.as_posix())
    return "//" + _escape(path.as_posix().lstrip("/"))


def _escape(name: str) -> str:
    """Glob characters in real names are literal."""
    return _GLOB_SPECIAL.sub(r"\\\1", name)


def _relative(spec: str) -> str:
    """`src/ketch` reads as the project's own folder; `~x` would read as the home folder."""
    return "./" + spec if spec.startswith("~") else spec


def _domain_rule(tool: str, url: str) -> Rule | None:
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if not host or not re.fullmatch(r"[a-z0-9.\-\[\]:]+", host):
        return None
    from ketch.agent.permissions.rules import web_rule_matches

    spec = f"domain:{host}"
    return Rule(tool, spec) if web_rule_matches(spec, url) else None
