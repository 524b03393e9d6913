"""The permission gate's verdict on a parsed shell line, command by command.

Each simple command must pass on its own. What it reads is resolved like the file tools
resolve a path — canonical, from the folder the shell will be in (the session's current
folder, and any folder a `cd` earlier on the line may have moved to) — so a repository
symlink cannot turn `cat docs/.env` into a read of another project. What it writes by a
redirect or an output option is an edit, decided like Write and Edit: protected paths are
refused, outside the roots asks, inside asks unless the mode is acceptEdits. Built-in rules
let ordinary work run only within their program's option list (security.shell.builtin).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ketch.agent.permissions import Decision, _bash_allow_covers
from ketch.agent.permissions.rules import Rule
from ketch.security import shell
from ketch.security.shell import builtin as shell_builtin
from ketch.security.shell.paths import HARMLESS_DEVICES, MAX_CWDS, Finding, PathPolicy, cd_targets, glob_matches, worst

if TYPE_CHECKING:
    from ketch.agent.permissions import PermissionGate

_PRINTERS = (["echo"], ["printf"])  # they print their arguments; they open no files
_NET_REDIRECT = ("/dev/tcp/", "/dev/udp/")


class ShellDecider:
    def __init__(self, gate: PermissionGate, cwd: Path | None) -> None:
        self.gate = gate
        self.policy = PathPolicy(gate.roots, gate.home, gate.protected)
        start = cwd if cwd is not None and os.path.isdir(cwd) else gate.workspace
        self.cwds = [os.path.realpath(start)]
        self.edits: list[str] = []

    def decide(self, analysis: Any, command: str, user_rules: list[Rule]) -> Decision:
        uncovered = []
        leading = _leading_cd(command, analysis.commands)
        for cmd in analysis.commands:
            verdict, written = self._redirects(cmd)
            if verdict is not None:
                return verdict
            covered = any(r.spec is None or _bash_allow_covers(r.spec, command, cmd) for r in user_rules)
            if not covered:  # a person who allowed the command allowed where its output goes
                self.edits.extend(written)
            if self._harmless_cd(cmd, definite=cmd is leading) or self._venv_activation(cmd):
                continue
            bare = replace(cmd, redirects=[r for r in cmd.redirects if r.target.startswith(_NET_REDIRECT)])
            if shell.is_read_only(bare):
                verdict = self._read_only(cmd, covered)
                if verdict is not None:
                    return verdict
                continue
            if self.gate.mode == "plan":
                return Decision("deny", f"plan mode: `{cmd.text}` is not a read-only command")
            unsafe = [a for a in cmd.assignments if not shell.assignment_is_harmless(a)]
            if covered:
                if unsafe:
                    return _sets(cmd, unsafe)
                continue
            builtin = self._builtin(cmd)
            if builtin == "uncovered":
                uncovered.append(cmd)
                continue
            if unsafe:
                return _sets(cmd, unsafe)
            if builtin is not None:
                return builtin
        if uncovered:
            return Decision("ask", f"`{uncovered[0].text}` would run a command, and no rule allows it")
        if self.edits:
            return self._edit_decision()
        return Decision("allow", "read-only command" if not self.gate.allow else "allowed by rules or read-only")

    # -- paths -------------------------------------------------------------------------------

    def _finding_decision(self, cmd: Any, finding: Finding | None, what: str) -> Decision | None:
        if finding is None or finding.kind == "inside":
            return None
        if finding.kind == "secret":
            return Decision("deny", f"`{cmd.text}` {what} {finding.path or finding.word}, a credential store: "
                                    "tools may not read it", "policy")
        if finding.kind == "protected":
            return Decision("deny", f"`{cmd.text}` writes {finding.path}, which is protected: ketch never lets "
                                    "tools write its settings, hooks, git config, editor tasks or shell start-up files",
                            "policy")
        if finding.kind == "unknown":
            return Decision("ask", f"`{cmd.text}` {what} {finding.word}, which is only known when it runs")
        return Decision("ask", f"`{cmd.text}` {what} {finding.path or finding.word}, outside the working folder")

    def _redirects(self, cmd: Any) -> tuple[Decision | None, list[str]]:
        """A refusal or question for a redirect, else the files the redirects write."""
        written: list[str] = []
        for redirect in cmd.redirects:
            op, target = redirect.op, redirect.target
            if op.lstrip("0123456789").startswith("<<") or target.startswith("&"):
                continue  # heredocs, here-strings, descriptor copies
            writes = ">" in op
            target = self._tilde(target)
            if target.startswith("$"):  # an expansion: any file at all
                return Decision("ask", f"`{cmd.text}` {'writes to' if writes else 'reads'} {target}, which is "
                                       "only known when it runs"), []
            finding = self.policy.classify(target, self.cwds, write=writes)
            verdict = self._finding_decision(cmd, finding, "writes to" if writes else "reads")
            if verdict is not None:
                return verdict, []
            if writes and target not in HARMLESS_DEVICES:
                written.append(target)
        return None, written

    def _tilde(self, target: str) -> str:
        """`> ~/x` (marked `$~/x`, an expansion, by the analyser): bash's own tilde is the home."""
        raw = target[1:]
        if target.startswith("$~") and (raw == "~" or raw.startswith("~/")) and not any(c in raw for c in "$`*?[{"):
            return str(self.gate.home) + raw[1:]
        return target

    def _read_only(self, cmd: Any, covered: bool) -> Decision | None:
        if cmd.argv[:1] in _PRINTERS:
            return None
        if cmd.input_args:  # xargs: the file names come from its input
            finding: Finding | None = Finding("unknown", "the words xargs reads from its input")
        else:
            findings = [f for w in cmd.words[1:] if (f := self.policy.word_finding(w, self.cwds)) is not None]
            findings += [self.policy.classify(name, self.cwds) for name in shell.files_named_inside(cmd)]
            folders = [v for w in shell.folders_read_through_links(cmd) for v in self.policy.word_values(w, self.cwds) or []]
            if folders and (through_links := self.policy.links_below(folders, self.cwds)) is not None:
                findings.append(through_links)
            finding = worst(findings)
        verdict = self._finding_decision(cmd, finding, "reads")
        if verdict is None or verdict.verdict == "deny":
            return verdict
        if covered:
            return None  # the person allowed this command wherever it reads
        return verdict

    def _harmless_cd(self, cmd: Any, definite: bool = False) -> bool:
        """`cd sub`: moving within the roots only changes where the next commands run; from
        here on every folder it may have reached counts as a possible current folder (only
        the folder it reached, when it is `definite`: see `_leading_cd`)."""
        if cmd.argv[:1] != ["cd"] or cmd.redirects or len(cmd.words) != 2:
            return False
        word = cmd.words[1]
        if not word.literal or word.value.startswith("-"):
            return False
        targets = cd_targets(word.value, self.cwds)
        if not all(self.policy.inside(t) for t in targets):
            return False
        reached = [t for t in targets if os.path.isdir(t)]
        if definite and len(reached) == len(targets):
            self.cwds = list(dict.fromkeys(reached))
            return True
        cwds = list(dict.fromkeys(self.cwds + reached))
        if len(cwds) > MAX_CWDS:
            return False
        self.cwds = cwds
        return True

    def _venv_activation(self, cmd: Any) -> bool:
        """`source .venv/bin/activate` (or `.`): a virtual environment's own activate script
        inside the roots only sets PATH and VIRTUAL_ENV for the commands after it, which are
        decided on their own; in the sandbox it can reach nothing else. Unsandboxed, only a
        venv that was there when the session began counts: its activate script is protected,
        so no tool wrote it since, while a folder the model made look like a venv (`pyvenv.cfg`
        and a `bin/activate` of its own) would run whatever it wrote, on the host."""
        if cmd.argv[:1] not in (["source"], ["."]) or cmd.redirects or len(cmd.words) != 2:
            return False
        word = cmd.words[1]
        if not word.literal or word.value.startswith("-"):
            return False
        targets = [Path(os.path.realpath(os.path.join(cwd, word.value))) for cwd in self.cwds]
        protected = self.gate.protected
        if not self.gate.sandboxed and (protected is None or not all(protected.blocks_write(t) for t in targets)):
            return False
        return all(self.policy.inside(str(t)) and t.name == "activate" and t.parent.name == "bin"
                   and (t.parent.parent / "pyvenv.cfg").is_file() for t in targets)

    # -- built-in rules --------------------------------------------------------------------------

    def _builtin(self, cmd: Any) -> Decision | None | Literal["uncovered"]:
        """None: a built-in rule covers the command; a Decision: it would but must not;
        "uncovered": no built-in rule names it."""
        for rule in self.gate._builtin_allow:
            spec = rule.spec or ""
            if not spec.endswith(":*"):
                if shell.exact_matches(spec, cmd):
                    return None
                continue
            prefix = spec[:-2].strip()
            if not shell.prefix_matches(prefix, cmd):
                continue
            argv = self._expanded(cmd)
            if argv is None:
                return Decision("ask", f"`{cmd.text}` has words only known when it runs, which could be options")
            result = shell_builtin.check(prefix, argv)
            if result.problem:
                return Decision("ask", f"`{cmd.text}`: {result.problem}")
            for value in result.reads:
                verdict = self._finding_decision(cmd, self.policy.classify(value, self.cwds), "reads")
                if verdict is not None:
                    return verdict
            for value in result.writes + result.creates:
                verdict = self._finding_decision(cmd, self.policy.classify(value, self.cwds, write=True), "writes to")
                if verdict is not None:
                    return verdict
            self.edits.extend(result.writes)
            return None
        return "uncovered"

    def _expanded(self, cmd: Any) -> list[str] | None:
        """argv with globs expanded as bash would; None if a word cannot be known."""
        if cmd.input_args:
            return None
        out: list[str] = []
        for word in cmd.word_list():
            if word.literal:
                out.append(word.value)
                continue
            matches = glob_matches(word.value, self.cwds)
            if matches is None:
                return None
            out.extend(matches)
        return out

    def _edit_decision(self) -> Decision:
        target = self.edits[0]
        if self.gate.mode == "acceptEdits":
            return Decision("allow", "acceptEdits mode: the command writes files inside the working folder")
        if self.gate.mode == "plan":
            return Decision("deny", f"plan mode: the command writes {target}")
        return Decision("ask", f"the command writes {target}: an edit, and no rule or mode allows edits")


def _leading_cd(command: str, commands: list[Any]) -> Any | None:
    """The `cd` that opens the line and is followed by `&&`, `;` or a newline: every later
    command runs where it went (it cannot fail: its folder exists), not in a subshell."""
    first = commands[0] if commands else None
    if first is None or first.argv[:1] != ["cd"] or first.origin or first.redirects or first.wrappers:
        return None
    text = command.lstrip()
    if not first.text or not text.startswith(first.text):
        return None
    rest = text[len(first.text):].lstrip(" \t")
    return first if rest.startswith(("&&", ";", "\n")) and not rest.startswith(";;") else None


def _sets(cmd: Any, unsafe: list[str]) -> Decision:
    return Decision("ask", f"`{cmd.text}` sets {unsafe[0].split('=', 1)[0]}, which can change what the program "
                           "runs; no rule covers that")
