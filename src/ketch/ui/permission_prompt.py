"""The inline permission question: what exactly would run, and the person's answer.

Answers: allow once; allow for this session (an in-memory rule on the gate); always for this
project (also remembered in ketch's own per-project store under $KETCH_HOME, so it lasts
without trusting the folder, see config/project_store.py; never offered for commands that
run arbitrary code); deny, optionally with a note the model reads. Esc denies and interrupts.
The rule to remember is `rule_offer`'s (a folder, a command prefix, a host) and is shown
exactly as it will be stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ketch.agent import events as ev
from ketch.agent.loop import Approval
from ketch.agent.permissions.offer import may_offer_always, rule_for
from ketch.config.project_store import remember_rule
from ketch.terminal_text import printable as clean

PREVIEW_FOLD = 40  # diff lines shown before "… N more lines"
# Bidirectional overrides and invisible characters: a diff line could read as other code than it is.
_DECEPTIVE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def reveal(text: str) -> str:
    """Invisible and direction-changing characters as \\uXXXX, where a person decides from the text."""
    return _DECEPTIVE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shown_input(request: ev.PermissionRequest) -> str:
    """The command or path, escaped: control characters are made visible, nothing is hidden."""
    data = request.input
    if request.tool_name == "Bash":
        return clean(str(data.get("command", "")))
    if isinstance(data.get("file_path"), str):
        return clean(data["file_path"])
    return clean(json.dumps(data, ensure_ascii=False)[:400])


class PermissionPrompt:
    """The Agent's approver for the REPL; `read_key` and `read_line` come from the front end."""

    def __init__(self, agent: Any, renderer: Any, read_key: Callable[[], str],
                 read_line: Callable[[str], str], interrupt: Callable[[], None]) -> None:
        self.agent = agent
        self.renderer = renderer
        self.read_key = read_key
        self.read_line = read_line
        self.interrupt = interrupt
        self.session_rules: list[Any] = []

    def __call__(self, request: ev.PermissionRequest) -> Approval:
        r = self.renderer
        r.end_text()
        config = self.agent.config
        rule = rule_for(request.tool_name, request.input, config.workspace, config.gate.home)
        always = rule is not None and may_offer_always(request.tool_name, request.input, rule)
        r.line(f"? {request.tool_name} wants permission: {clean(request.reason)}", "bold yellow")
        label = "command" if request.tool_name == "Bash" else "input"
        for text in shown_input(request).split("\n"):
            r.line(f"    {label}: {text}" if label else f"    {text}", "bold")
            label = ""
        folded = self._show_preview(request)
        shown = clean(str(rule)) if rule is not None else ""
        r.line("  [y] allow once", "")
        if rule is not None:  # the exact rule, so the person sees how far "remember" reaches
            r.line(f"  [s] allow {shown} for this session", "")
        if always:
            r.line(f"  [a] always allow {shown} in this project", "")
        r.line("  [n] deny (and tell the model why)   [Esc] deny and stop the turn", "")
        if folded:
            r.line("  [d] show the whole change", "")
        while True:
            key = self.read_key()
            if key == "d" and folded:
                r.diff_lines([reveal(line) for line in folded])
                if request.preview is not None and request.preview.more:
                    r.info(f"    … {request.preview.more} more lines not shown")
                folded = []
                continue
            if key in ("y", "1"):
                r.info("  allowed once")
                return Approval(True)
            if key in ("s", "2") and rule is not None:
                self._add_session_rule(rule)
                r.info(f"  allowed {shown} for this session")
                return Approval(True)
            if key in ("a", "3") and always and rule is not None:
                self._add_session_rule(rule)
                try:
                    path = remember_rule(self.agent.config.workspace, str(rule))
                    r.info(f"  allowed {shown} in this project (kept in {clean(str(path))})")
                except (OSError, ValueError) as exc:
                    r.error(f"  could not save the rule ({exc}); allowed for this session only")
                return Approval(True)
            if key in ("n", "4"):
                note = self.read_line("  note for the model (Enter to skip): ").strip()
                r.info("  denied" + (f": {note}" if note else ""))
                return Approval(False, note)
            if key in ("esc", "ctrl-c", "ctrl-d", ""):
                r.info("  denied; stopping the turn")
                self.interrupt()
                return Approval(False, "the user stopped this turn")

    def _show_preview(self, request: ev.PermissionRequest) -> list[str]:
        """The change the call would make, folded; returns the folded-away lines ([d] shows them)."""
        preview = request.preview
        if preview is None:
            return []
        r = self.renderer
        r.info(f"    {preview.summary}")
        head, rest = preview.lines[:PREVIEW_FOLD], preview.lines[PREVIEW_FOLD:]
        r.diff_lines([reveal(line) for line in head])
        if rest or preview.more:
            r.info(f"    … {len(rest) + preview.more} more lines")
        if preview.lines:
            r.previewed.add(request.tool_use_id)
        return rest

    def _add_session_rule(self, rule: Any) -> None:
        self.session_rules.append(rule)
        self.agent.config.gate.allow.append(rule)
