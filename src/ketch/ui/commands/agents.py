"""/agents: the subagent definitions the Task tool offers, and where each one came from."""

from __future__ import annotations

from typing import Any

from ketch.terminal_text import printable as clean
from ketch.ui.commands.registry import SlashCommand


def _agents(repl: Any, arg: str) -> None:
    task = repl.agent.dispatch.by_name.get("Task")
    definitions = getattr(task, "definitions", None)
    if not definitions:
        repl.r.info("no subagents: the Task tool is not offered in this session")
        return
    for definition in definitions.values():
        tools = ", ".join(task.tools_of(definition)) or "none"
        repl.r.line(f"  {clean(definition.name):<18} {clean(definition.description)[:70]}")
        repl.r.info(f"  {'':<18} tools: {clean(tools)} · model: {clean(definition.model)} · "
                    f"{clean(definition.where())}")
    repl.r.info("  define more in .ketch/agents/*.md, .claude/agents/*.md, $KETCH_HOME/agents/*.md "
                "or ~/.claude/agents/*.md (front matter: name, description, tools, model)")


COMMANDS = [SlashCommand("agents", "the subagents the Task tool can run, and where each is defined", _agents)]
