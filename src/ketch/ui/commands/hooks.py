"""`/hooks`: the session's hooks, by event, and the settings file each came from."""

from __future__ import annotations

from typing import Any

from ketch.ui.commands.registry import SlashCommand


def _hooks(repl: Any, arg: str) -> None:
    from ketch.ui.hooks_view import hook_lines

    for line in hook_lines(repl.agent):
        repl.r.line(line)


COMMANDS = [SlashCommand("hooks", "the hooks that run in this session, and where each is set", _hooks)]
