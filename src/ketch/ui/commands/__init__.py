"""Slash commands of the REPL: `/help`, `/model`, `/resume`, ... and the person's own prompt files.

    registry.py   SlashCommand and Registry
    builtin.py    help, clear, model, cost, status, permissions, init, expand, exit
    session.py    the session and its context: compact, context, undo, resume, memory
    mcp.py        /mcp: the session's MCP servers; reconnect, disable, a server's tools
    agents.py     /agents: the subagent definitions and where each came from
    hooks.py      /hooks: the session's hooks and where each is set
    custom.py     prompt-file commands like Claude Code's (.ketch/commands/*.md), via ext.custom_commands
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketch.ui.commands.registry import Registry


def default_registry() -> Registry:
    """A registry holding every built-in command (custom ones are added by custom.register_custom)."""
    from ketch.ui.commands import agents, builtin, hooks, mcp, session
    from ketch.ui.commands.registry import Registry

    registry = Registry()
    for command in builtin.COMMANDS + session.COMMANDS + mcp.COMMANDS + agents.COMMANDS + hooks.COMMANDS:
        registry.register(command)
    return registry
