"""The permission gate: which tool calls run, which are refused, which need a person.

The model is the attacker (DESIGN.md §5): every decision here is made from the call's
real meaning — canonical paths, a parsed shell command — never from how it looks.
Order of precedence: deny rules, then the hard path policy (protected and credential
paths, special files), then ask rules, then the mode, then allow rules. A deny never
degrades to an ask; in `dontAsk` mode (CI) every ask becomes a refusal.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ketch.agent.permissions.rules import (
    Rule,
    RuleSyntaxError,
    names_tool,
    parse_rules,
    path_rule_matches,
    web_rule_matches,
)
from ketch.config.settings import MODES
from ketch.security.protected import LazyProtectedSet, ProtectedSet
from ketch.tools.paths import is_inside

__all__ = ["MODES", "Decision", "PermissionGate", "Rule", "RuleSyntaxError", "parse_rules"]


Verdict = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    source: Literal["mode", "rule", "policy"] = "mode"


@dataclass
class PermissionGate:
    mode: str
    allow: list[Rule]
    deny: list[Rule]
    workspace: Path
    ask: list[Rule] = field(default_factory=list)
    extra_roots: list[Path] = field(default_factory=list)
    protected: ProtectedSet | LazyProtectedSet | None = None
    home: Path = field(default_factory=Path.home)
    sandboxed: bool = False  # commands run in the OS sandbox: ordinary work needs no approval
    readable: list[Path] = field(default_factory=list)  # ketch's own files the model may Read (long outputs)

    def __post_init__(self) -> None:
        self._builtin_allow = sandboxed_allow_rules() if self.sandboxed else []

    @property
    def roots(self) -> list[Path]:
        return [self.workspace, *self.extra_roots]

    def decide(self, tool_name: str, kind: str, tool_input: dict[str, Any], paths: list[Path],
               cwd: Path | None = None) -> Decision:
        """`cwd`: where a Bash command starts (the shell's folder kept across calls)."""
        decision = self._decide(tool_name, kind, tool_input, paths, cwd)
        if decision.verdict == "ask" and self.mode == "dontAsk":
            return Decision("deny", f"dontAsk mode: {decision.reason}", decision.source)
        return decision

    # -- the general path -------------------------------------------------------------------

    def _decide(self, tool_name: str, kind: str, tool_input: dict[str, Any], paths: list[Path],
                cwd: Path | None = None) -> Decision:
        if tool_name == "Bash":
            return self._decide_bash(str(tool_input.get("command", "")), cwd)
        for rule in self.deny:
            if self._matches(rule, tool_name, tool_input, paths, for_deny=True):
                return Decision("deny", f"denied by rule {rule}", "rule")
        if self._ketch_output(kind, paths):
            return Decision("allow", "ketch's copy of an earlier tool output")
        hard = self._path_policy(kind, paths)
        if hard is not None:
            return hard
        for rule in self.ask:
            if self._matches(rule, tool_name, tool_input, paths, for_deny=True):
                return Decision("ask", f"rule {rule} asks for approval", "rule")
        if self.mode == "bypassPermissions":
            outside = [p for p in paths if not self._inside_roots(p)]
            if kind == "edit" and outside:
                return Decision("deny", f"{tool_name} targets {outside[0]}, outside the writable folders; "
                                        "bypassPermissions keeps the sandbox's boundary (add a folder with --add-dir)",
                                "policy")
            return Decision("allow", "bypassPermissions mode")
        if self.mode == "plan" and kind not in ("read", "other"):
            return Decision("deny", f"plan mode: {tool_name} would change files or run commands")
        for rule in self.allow:
            if self._matches(rule, tool_name, tool_input, paths, for_deny=False):
                return Decision("allow", f"allowed by rule {rule}", "rule")
        outside = [p for p in paths if not self._inside_roots(p)]
        if kind in ("read", "other"):
            if outside:
                return Decision("ask", f"{tool_name} reads {outside[0]}, outside the working folder")
            return Decision("allow", "read-only tool")
        if outside:
            return Decision("ask", f"{tool_name} targets {outside[0]}, outside the working folder")
        if self.mode == "acceptEdits" and kind == "edit" and paths:
            return Decision("allow", "acceptEdits mode: edit inside the working folder")
        what = "run a command" if kind == "execute" else "change files"
        return Decision("ask", f"{tool_name} would {what}, and no rule or mode allows it")

    def _matches(self, rule: Rule, tool_name: str, tool_input: dict[str, Any], paths: list[Path],
                 *, for_deny: bool) -> bool:
        if not names_tool(rule.tool, tool_name):
            return False
        if rule.spec is None:
            return True
        if rule.spec.startswith("domain:"):
            return web_rule_matches(rule.spec, str(tool_input.get("url", "")))
        if not paths:
            return False
        hits = [path_rule_matches(rule.spec, p, self.workspace, self.home) for p in paths]
        return any(hits) if for_deny else all(hits)

    def _inside_roots(self, path: Path) -> bool:
        return any(is_inside(path, root) for root in self.roots)

    def _ketch_output(self, kind: str, paths: list[Path]) -> bool:
        return kind == "read" and bool(paths) and all(any(is_inside(p, r) for r in self.readable) for p in paths)

    def path_policy(self, kind: str, paths: list[Path]) -> Decision | None:
        """The hard path policy alone, for the check a tool repeats on the file it opened."""
        return None if self._ketch_output(kind, paths) else self._path_policy(kind, paths)

    def reads_freely(self, path: Path) -> bool:
        """The model may Read `path` now without anyone being asked: what ketch may look at on the
        model's behalf before the gate has judged its call (a small model's repairs, tools.base.RepairsInput).
        `decide` weighs Read's deny rules and the hard path policy first, as `read_refusal` does."""
        return self.decide("Read", "read", {"file_path": str(path)}, [path]).verdict == "allow"

    def read_refusal(self, path: Path) -> Decision | None:
        """Why the model may not see `path` (a deny rule for Read, the hard path policy); None if it may.
        For what ketch shows of a file outside Read: an Edit of a file never read (its not-found region,
        its changed lines) and the closed loop's localization of a failure, which a test's output steers."""
        for rule in self.deny:
            if self._matches(rule, "Read", {"file_path": str(path)}, [path], for_deny=True):
                return Decision("deny", f"denied by rule {rule}: the file may not be read", "rule")
        hard = self.path_policy("read", [path])
        return hard if hard is not None and hard.verdict == "deny" else None

    def _path_policy(self, kind: str, paths: list[Path]) -> Decision | None:
        """What no rule and no mode can override: protected, secret and special files."""
        for path in paths:
            if self.protected is not None:
                if kind == "edit" and (hit := self.protected.blocks_write(path)):
                    return Decision("deny", f"{path} is protected ({hit.name}): ketch never lets tools "
                                            "write its settings, hooks, git config, editor tasks, shell start-up files, "
                                            "programs on PATH or the code ketch runs from",
                                    "policy")
                if hit := self.protected.blocks_read(path):
                    return Decision("deny", f"{path} is a credential store ({hit.name}): tools may not read it",
                                    "policy")
            try:
                mode = os.stat(path).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                return Decision("deny", f"{path} is a device, pipe or socket, not a regular file", "policy")
        return None

    # -- Bash -------------------------------------------------------------------------------

    def _decide_bash(self, command: str, cwd: Path | None = None) -> Decision:
        from ketch.security import shell

        analysis = shell.analyze(command)

        def bash_rules(rules: list[Rule]) -> list[Rule]:
            return [r for r in rules if r.tool == "Bash"]

        for rule in bash_rules(self.deny):
            if rule.spec is None or _bash_rule_hits(rule.spec, command, analysis.commands, deny=True) or (
                    "parse error" in analysis.problems and _raw_text_hits(rule.spec, command)):
                return Decision("deny", f"denied by rule {rule}", "rule")
        for rule in bash_rules(self.ask):
            if rule.spec is None or _bash_rule_hits(rule.spec, command, analysis.commands, deny=True) or (
                    "parse error" in analysis.problems and _raw_text_hits(rule.spec, command)):
                return Decision("ask", f"rule {rule} asks for approval", "rule")
        elevated = next((c for c in analysis.commands if {"sudo", "doas"} & set(c.wrappers + c.argv[:1])), None)
        if elevated is not None:
            return Decision("ask", f"`{elevated.text}` asks for elevated privileges")
        if self.mode == "bypassPermissions":
            return Decision("allow", "bypassPermissions mode")
        for rule in bash_rules(self.allow):
            # The exact line a person allowed; a `prefix:*` rule is never a line of its own
            # (as text, `pytest:*` is a glob in a command name).
            if rule.spec is not None and not rule.spec.endswith(":*") and command.strip() == rule.spec.strip():
                return Decision("allow", f"allowed by rule {rule}", "rule")
        if not analysis.auto_allowable:
            reason = f"the command cannot be auto-allowed ({', '.join(analysis.problems)})"
            return Decision("deny" if self.mode == "plan" else "ask", reason)
        from ketch.agent.permissions.shell_decision import ShellDecider

        return ShellDecider(self, cwd).decide(analysis, command, bash_rules(self.allow))

@lru_cache(maxsize=1)
def _sandboxed_allow_specs() -> tuple[str, ...]:
    from importlib import resources

    text = (resources.files("ketch.security") / "data" / "sandboxed_allow.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def sandboxed_allow_rules() -> list[Rule]:
    """Built-in allow rules for ordinary work, in force only while commands are sandboxed."""
    return [Rule("Bash", spec) for spec in _sandboxed_allow_specs()]


def _bash_rule_hits(spec: str, command: str, commands: list[Any], *, deny: bool = False) -> bool:
    """Does a Bash rule cover the whole line or one of its simple commands (word-wise)?

    For deny and ask rules (`deny=True`) an expanded word matches anything it could become.
    """
    from ketch.security import shell

    if command.strip() == spec.strip():
        return True
    for cmd in commands:
        if spec.endswith(":*"):
            if shell.prefix_matches(spec[:-2].rstrip(), cmd, deny=deny):
                return True
        elif "*" in spec:
            if shell.wildcard_matches(spec, cmd, deny=deny):
                return True
        elif shell.exact_matches(spec, cmd, deny=deny):
            return True
    return False


def _bash_allow_covers(spec: str, command: str, cmd: Any) -> bool:
    """An allow rule covers a command, except that a prefix or wildcard rule never stretches
    to a command that runs arbitrary code (`find -exec`, `git -c`, `xargs`...) unless the
    rule's own words already do (DESIGN.md §5.9)."""
    from ketch.security import shell

    if not _bash_rule_hits(spec, command, [cmd]):
        return False
    if (spec.endswith(":*") or "*" in spec) and shell.runs_arbitrary_code(cmd):
        return _rule_runs_code(spec)
    return True


@lru_cache(maxsize=256)
def _rule_runs_code(spec: str) -> bool:
    from ketch.security import shell

    words = spec[:-2] if spec.endswith(":*") else spec.replace("*", " ")
    commands = shell.analyze(words).commands
    return bool(commands) and shell.runs_arbitrary_code(commands[0])


def _raw_text_hits(spec: str, command: str) -> bool:
    """For lines the parser rejects: do the rule's words appear in a row anywhere in the text?"""
    words = [w for w in re.split(r"[\s;&|()`$<>'\"\\]+", command) if w]
    wanted = spec.removesuffix(":*").split()
    if not wanted or any("*" in w for w in wanted):
        wanted = [w for w in wanted if "*" not in w][:1]
    return bool(wanted) and any(words[i : i + len(wanted)] == wanted for i in range(len(words)))
