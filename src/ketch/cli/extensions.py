"""Extensions the composition root plugs into an Agent: MCP servers, hooks, subagents, skills."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketch.agent.loop import Agent
    from ketch.cli.wiring import RunOptions
    from ketch.tools.base import Tool


@dataclass
class SkillsPlug:
    """What the installed skills add to a run: a system prompt section, the Skill tool, and the
    user-level skill folders the model may Read without a question (their bundled files)."""

    sections: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    readable: list[Path] = field(default_factory=list)


def load_skills(workspace: Path, ketch_home: Path, notices: list[str]) -> SkillsPlug:
    """The skills of this run; empty (and ext.skills not imported) when none are installed."""
    home = Path.home()
    if not any(os.path.isdir(f) for f in skill_folders(workspace, ketch_home, home)):
        return SkillsPlug()
    from ketch.ext.skills.loader import load_skills as find
    from ketch.ext.skills.tool import SkillTool, prompt_section

    skills = find(workspace, ketch_home, home, lambda line: notices.append(f"skills: {line}"))
    if not skills:
        return SkillsPlug()
    readable = [Path(os.path.realpath(s.folder)) for s in skills if s.source == "user"]
    return SkillsPlug([prompt_section(skills)], [SkillTool(skills, home)],
                      [folder for folder in readable if _may_read_all(folder, home)])


def skill_folders(workspace: Path, ketch_home: Path, home: Path) -> tuple[Path, ...]:
    """ext.skills.loader's folders (a test holds them equal): four stats instead of an import."""
    return (workspace / ".ketch" / "skills", workspace / ".claude" / "skills",
            ketch_home / "skills", home / ".claude" / "skills")


def _may_read_all(folder: Path, home: Path) -> bool:
    """A folder whose every file the model may Read unasked: not the home itself, nor a folder
    holding a credential store (a skill folder linked to `~` must not open `~/.ssh`)."""
    from ketch.security.protected import HOME_SECRETS

    home, folder = Path(os.path.realpath(home)), Path(os.path.realpath(folder))
    if folder in (Path("/"), home) or home.is_relative_to(folder):
        return False
    return not any(Path(os.path.realpath(home / rel)).is_relative_to(folder) for rel in HOME_SECRETS)


def start_mcp(options: RunOptions, agent: Agent, trusted: bool, sandbox: dict[str, Any] | None) -> None:
    """Start the configured MCP servers in the background and hand them to the agent as a tool source.

    Project servers not yet approved are not started. Headless, they become notices; in the
    REPL (`options.interactive`) they wait on `manager.pending` for the REPL to ask about, and
    the servers are told ketch answers elicitation (the REPL sets `manager.handlers.elicit`,
    and `manager.notify`, once it has the agent).
    """
    workspace = agent.config.workspace
    if not _may_have_servers(options, workspace):
        return
    from ketch.ext.mcp.config import load_servers

    found = load_servers(workspace, trusted=trusted, cli_configs=list(options.mcp_configs),
                         strict=options.strict_mcp_config)
    agent.config.notices += found.notices
    interactive = options.interactive
    if not interactive:
        agent.config.notices += [f"project MCP server {s.name!r} ({s.describe()}) has not been approved: "
                                 "start ketch in this folder and approve it to use it" for s in found.pending]
    if not found.servers and not (interactive and found.pending):
        return
    from ketch.ext.mcp.client import Handlers
    from ketch.ext.mcp.manager import McpManager

    handlers = Handlers(roots=[workspace], elicit=_decline if interactive else None)
    manager = McpManager(found.servers, workspace=workspace, sandbox_args=sandbox, handlers=handlers,
                         context_window=agent.config.context_window, notify=_tell)
    if interactive:
        # Started by the REPL once its prompt is drawn: starting servers costs ketch's own Python
        # work (the sandbox's mounts, imports), which would otherwise slow the prompt by ~0.2 s.
        manager.pending = list(found.pending)
    else:
        manager.start()
    agent.sources.append(manager)


def start_subagents(options: RunOptions, agent: Agent) -> None:
    """Offer the Task tool: the built-in agents, the user's and the project's definitions, --agents."""
    from ketch.cli.subagents import plug_subagents

    plug_subagents(agent, list(options.agents))


def _may_have_servers(options: RunOptions, workspace: Path) -> bool:
    """A few stats and reads instead of importing the MCP config (~4 ms) on runs that have none."""
    if options.mcp_configs or os.path.lexists(workspace / ".mcp.json"):
        return True
    from ketch.config.project_store import remembered_path
    from ketch.config.settings import user_settings_path

    return _any_says(b"mcpServers", (user_settings_path(), remembered_path(workspace)))


def _decline(message: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Until the REPL takes over elicitation (it does as soon as it has the agent)."""
    return {"action": "decline"}


def _tell(line: str) -> None:
    from ketch.terminal_text import printable

    sys.stderr.write(f"ketch: {printable(line)}\n")  # it quotes what a server printed


# -- hooks ----------------------------------------------------------------------------------

HOOK_FILES = (".ketch/settings.json", ".ketch/settings.local.json", ".claude/settings.json",
              ".claude/settings.local.json")


def attach_hooks(options: RunOptions, agent: Agent, trusted: bool) -> None:
    """Plug Claude Code's hooks into the agent (`agent.hooks`) when any settings layer has some.

    A project's set not yet approved does not run: headless, a notice says so; in the REPL it
    waits on `agent.hooks.hooks.pending` for the REPL to ask about (ui/hooks_approval.py).
    """
    workspace = agent.config.workspace
    if not _may_have_hooks(workspace):
        return
    from ketch.ext.hooks.bridge import HookBridge
    from ketch.ext.hooks.config import load_hooks

    found = load_hooks(workspace, trusted=trusted)
    agent.config.notices += found.notices
    if found.pending and not options.interactive:
        agent.config.notices.append(
            f"the project's {len(found.pending)} hook(s) have not been approved: start ketch in this folder "
            "and approve them to run them")
    if found.active or (found.pending and options.interactive):
        agent.hooks = HookBridge(found, agent)


def _may_have_hooks(workspace: Path) -> bool:
    """A few reads instead of importing ext/hooks on runs whose settings have no hooks."""
    from ketch.config.project_store import remembered_path
    from ketch.config.settings import managed_settings_path, user_settings_path

    return _any_says(b'"hooks"', (managed_settings_path(), user_settings_path(), remembered_path(workspace),
                                  *(workspace / name for name in HOOK_FILES)))


def _any_says(word: bytes, paths: tuple[Path, ...]) -> bool:
    """Whether any of the settings files holds `word`; one that cannot be read answers yes, so the
    real loader reads it and says what is wrong (never a blocking read: a project's file may be a pipe)."""
    from ketch.config.settings import read_settings_bytes
    from ketch.errors import ConfigError

    for path in paths:
        try:
            data = read_settings_bytes(path)
        except ConfigError:
            return True
        if data is not None and word in data:
            return True
    return False
