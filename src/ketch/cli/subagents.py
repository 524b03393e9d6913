"""The composition root's half of subagents: the factory that makes a Task call's child agent.

ext/subagents/task.py runs children but never builds one (ext never imports cli). Here a child
is the parent's Agent narrowed: the same gate instance (rules, mode, the answers given this
session), the same sandbox runner, redactor, approver (headless: refuse_all) and cancel flag;
its own provider connection (children stream at once), conversation and tool state; the
definition's system prompt and model; the parent's remaining budget; and no undo snapshots of
its own (the parent's turn takes one that covers the Task call, see TaskTool.changes_files).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ketch.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from ketch.agent.loop import Agent
    from ketch.ext.subagents.definitions import AgentDefinition
    from ketch.ext.subagents.task import TaskTool
    from ketch.providers.base import ProviderConfig

ANTHROPIC_ALIASES = {"sonnet": "claude-sonnet-4-5", "opus": "claude-opus-4-1", "haiku": "claude-haiku-4-5"}


def plug_subagents(agent: Agent, agents_json: list[str], home: Path | None = None) -> None:
    """Offer the Task tool with every definition found (built-ins, user, project, --agents),
    unless a deny rule names Task outright. Bad definition files become warnings."""
    if any(rule.tool == "Task" and rule.spec is None for rule in agent.config.gate.deny):
        return
    from ketch.config.settings import ketch_home
    from ketch.ext.subagents.definitions import load_definitions

    definitions = load_definitions(agent.config.workspace, ketch_home(), agents_json, agent.config.warnings.append,
                                   home=home)
    tool = task_tool(agent, definitions, depth=0)
    agent.tools.append(tool)
    agent.dispatch.by_name[tool.name] = tool


def task_tool(agent: Agent, definitions: dict[str, AgentDefinition], depth: int) -> TaskTool:
    from ketch.ext.subagents.task import TaskTool

    return TaskTool(definitions, ChildMaker(agent, definitions), agent, depth,
                    [t.name for t in agent.tools] + ["Task"])


@dataclasses.dataclass
class ChildMaker:
    """TaskTool's factory for children of `parent`."""

    parent: Agent
    definitions: dict[str, AgentDefinition]

    def __call__(self, definition: AgentDefinition, depth: int) -> Agent:
        from ketch.agent.loop import Agent
        from ketch.config.models import cost_usd, default_max_tokens, model_info
        from ketch.ext.subagents.task import child_tools
        from ketch.ids import uuid4
        from ketch.providers import make_provider

        parent = self.parent
        provider_name, model = self.model_of(definition)
        same = (provider_name, model) == (parent.config.provider_name, parent.config.model)
        info = None if same else model_info(provider_name, model)
        try:
            provider = make_provider(provider_name, _provider_config(provider_name))
        except ConfigError as exc:
            raise ToolError(f"cannot start agent {definition.name} on {provider_name}:{model}: {exc}") from None
        config = dataclasses.replace(
            parent.config, model=model, provider_name=provider_name, notices=[], warnings=[], model_note="",
            system_prompt=f"{definition.prompt}\nThe working folder is {parent.config.workspace}.\n",
            max_budget_usd=parent.config.max_budget_usd,  # against the session's running spend (ledger)
            context_window=parent.config.context_window if same or info is None else info.context_window,
            max_tokens=parent.config.max_tokens if same else default_max_tokens(info),
        )
        names = set(child_tools(definition, [t.name for t in parent.tools], depth))
        child = Agent(
            provider=provider, tools=[t for t in parent.tools if t.name in names and t.name != "Task"], config=config,
            session_id=uuid4(), approver=parent.approver,
            cost_fn=parent.cost_fn if same else (lambda usage: cost_usd(info, usage)), redact=parent.redact,
            runner=parent.runner, checkpoints=None, sources=list(parent.sources) if definition.tools is None else [],
            state=parent.state.fresh(), cancel=parent.cancel,
        )
        child.ledger = parent.ledger  # one running spend for the session's budget, however many children run
        for_child = getattr(parent.hooks, "for_child", None)
        if callable(for_child):  # the parent's hooks watch the child's calls too (ext/hooks/bridge.py)
            child.hooks = for_child(child, definition.name)
        if "Task" in names:
            grandchildren = task_tool(child, self.definitions, depth)
            child.tools.append(grandchildren)
            child.dispatch.by_name["Task"] = grandchildren
        return child

    def model_of(self, definition: AgentDefinition) -> tuple[str, str]:
        """(provider, model): inherit; an alias (Anthropic's models, else the parent's); a name on the
        parent's provider; or (user and --agents definitions only) a full model spec."""
        from ketch.config.models import parse_model_spec

        provider, model, spec = self.parent.config.provider_name, self.parent.config.model, definition.model
        if spec == "inherit" or (spec in ANTHROPIC_ALIASES and provider != "anthropic"):
            return provider, model
        if spec in ANTHROPIC_ALIASES:
            return provider, ANTHROPIC_ALIASES[spec]
        if ":" in spec or "/" in spec:
            try:
                return parse_model_spec(spec)
            except ValueError as exc:
                raise ToolError(f"agent {definition.name}: {exc}") from None
        return provider, spec


def _provider_config(provider: str) -> ProviderConfig:
    from ketch.cli.wiring import provider_config

    return provider_config(provider)
