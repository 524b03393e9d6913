"""Assemble an Agent from the command line and settings: model, provider, tools, gate, prompt.

Shared by every front end (cli/run.py hands the Agent to the REPL or the headless run), so each one only decides how
to render events and how to answer permission requests. Problems the user must fix are
raised as ConfigError with one line that says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.cli.tool_wiring import build_gate, build_runner, load_run_policy, sandbox_args
from ketch.config.policy import EffectivePolicy
from ketch.config.settings import ketch_home
from ketch.errors import ConfigError
from ketch.ids import uuid4

if TYPE_CHECKING:
    from collections.abc import Callable

    from ketch.agent.dispatch import Approver
    from ketch.agent.loop import Agent
    from ketch.agent.undo.checkpoints import TurnCheckpoints
    from ketch.config.models import ModelInfo
    from ketch.providers.base import ProviderConfig

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"
DEFAULT_OPENAI_MODEL = "gpt-5"


@dataclass
class RunOptions:
    workspace: Path
    model: str | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    disallowed_tools: list[str] = field(default_factory=list)
    permission_mode: str | None = None
    add_dirs: list[str] = field(default_factory=list)
    sandbox: str = "on"  # "off" only by the user's explicit, loud opt-out
    trust: bool = False  # --trust: read the project's settings as trusted, record it once they loaded
    mcp_configs: list[str] = field(default_factory=list)  # --mcp-config FILE|JSON, in order (ext/mcp/config.py)
    strict_mcp_config: bool = False  # --strict-mcp-config: only those servers
    interactive: bool = False  # the REPL: it asks about a project's unapproved MCP servers (headless: notices)
    agents: list[str] = field(default_factory=list)  # --agents JSON, in order (ext/subagents/definitions.py)


def choose_model(cli_model: str | None, policy: EffectivePolicy) -> str:
    """--model (or a managed model), then KETCH_MODEL, then settings, then whichever key exists,
    then an installed local model."""
    from ketch.security.credentials import get_stored_key

    if policy.model and policy.model_layer in ("managed", "cli"):
        return policy.model
    for candidate in (cli_model, os.environ.get("KETCH_MODEL"), policy.model):
        if candidate:
            return candidate
    if os.environ.get("ANTHROPIC_API_KEY") or get_stored_key("anthropic"):
        return DEFAULT_ANTHROPIC_MODEL
    if os.environ.get("OPENAI_API_KEY") or get_stored_key("openai"):
        return DEFAULT_OPENAI_MODEL
    from ketch.localmodels.profile import default_local_model

    local = default_local_model()  # an installed local model beats refusing to run
    if local:
        return local
    from ketch.localmodels.install_hint import install_command

    raise ConfigError(
        "no model configured: pass --model (e.g. claude-sonnet-4-5, openai:llama3.1), set \"model\" in "
        f"{ketch_home() / 'settings.json'}, export ANTHROPIC_API_KEY or OPENAI_API_KEY, "
        f"or run offline: ketch models install qwen2.5-coder-1.5b (needs the local extra: {install_command()})"
    )


def provider_config(provider: str) -> ProviderConfig:
    """The provider's config: base URL only from the user's environment, key from env or store."""
    from ketch.providers import api_key_env, base_url_env, config_from_env
    from ketch.security.credentials import get_stored_key

    if provider == "local":  # in process: no URL, no key
        from ketch.providers.base import ProviderConfig

        return ProviderConfig(api_key=None, base_url="")
    config = config_from_env(provider)
    config.api_key = config.api_key or get_stored_key(provider)
    if not config.api_key and not (provider == "openai" and os.environ.get(base_url_env(provider))):
        hint = " or point OPENAI_BASE_URL at a compatible server" if provider == "openai" else ""
        raise ConfigError(f"{api_key_env(provider)} is not set: export it, or run `ketch auth login`{hint}")
    delay = os.environ.get("KETCH_RETRY_BASE_DELAY")
    if delay:
        try:
            config.retry_base_s = float(delay)
        except ValueError:
            raise ConfigError(f"KETCH_RETRY_BASE_DELAY must be a number of seconds, not {delay!r}") from None
    return config


def _context_window(info: ModelInfo | None) -> int:
    """KETCH_CONTEXT_WINDOW (for local models whose window the registry cannot know), else the registry."""
    from ketch.agent.compaction import DEFAULT_WINDOW

    raw = os.environ.get("KETCH_CONTEXT_WINDOW")
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"KETCH_CONTEXT_WINDOW must be a number of tokens, not {raw!r}") from None
        if value < 1000:
            raise ConfigError("KETCH_CONTEXT_WINDOW must be at least 1000 tokens")
        return value
    return info.context_window if info is not None else DEFAULT_WINDOW


def _autocompact_threshold() -> float | None:
    """KETCH_AUTOCOMPACT_PCT: compact when the estimate passes this % of the window; 0 or off: never."""
    from ketch.agent.compaction import DEFAULT_THRESHOLD

    raw = os.environ.get("KETCH_AUTOCOMPACT_PCT")
    if not raw:
        return DEFAULT_THRESHOLD
    if raw.strip().lower() in ("0", "off", "never"):
        return None
    try:
        pct = float(raw)
    except ValueError:
        pct = -1
    if not 1 <= pct <= 100:
        raise ConfigError(f"KETCH_AUTOCOMPACT_PCT must be a percentage from 1 to 100 (or off), not {raw!r}")
    return pct / 100


def build_agent(options: RunOptions, approver: Approver | None = None) -> Agent:
    """Return a ready Agent; nothing touches the network until its first request."""
    from ketch.agent.loop import Agent, AgentConfig, refuse_all
    from ketch.agent.prompt import build_system_prompt
    from ketch.config.models import cost_usd, default_max_tokens, model_info, parse_model_spec
    from ketch.providers import make_provider
    from ketch.security.credentials import known_secret_values
    from ketch.security.redact import Redactor

    if options.max_turns is not None and options.max_turns < 1:
        raise ConfigError("--max-turns must be at least 1")
    if options.max_budget_usd is not None and not options.max_budget_usd > 0:
        raise ConfigError("--max-budget-usd must be a positive amount of dollars, e.g. 0.50")
    run = load_run_policy(options)
    workspace, trusted, policy = run.workspace, run.trusted, run.policy
    try:
        provider_name, model = parse_model_spec(choose_model(options.model, policy))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    from ketch.localmodels.profile import (
        DEFAULT_CONTEXT,
        SMALL_MAX_TOKENS,
        SYSTEM_TEMPLATE,
        check_ready,
        wants_small_profile,
    )

    config = provider_config(provider_name)
    info = model_info(provider_name, model)
    small = wants_small_profile(provider_name, model, config.base_url)
    if small and provider_name == "openai":  # the embedded model's reply format, from the user's server
        config = replace(config, structured_replies=True)
    if provider_name == "local":
        window = check_ready(model)
    elif small and info is None and not os.environ.get("KETCH_CONTEXT_WINDOW"):
        window = DEFAULT_CONTEXT  # a small model on the user's own server: not the 128k of unknown API models
    else:
        window = _context_window(info)

    session_id = uuid4()
    outputs_dir = ketch_home() / "outputs" / session_id
    from ketch.cli.extensions import SkillsPlug, load_skills

    skills = SkillsPlug() if small else load_skills(workspace, ketch_home(), policy.ignored)  # small models: none
    gate, tools = build_gate(options, run, outputs_dir, extension_tools=skills.tools)
    gate.readable += skills.readable
    skill_sections = skills.sections if any(t in tools for t in skills.tools) else []  # none if denied outright
    if small:
        from ketch.localmodels.small_tools import small_tools

        tools = small_tools(tools)
    agent_config = AgentConfig(
        model=model,
        provider_name=provider_name,
        system_prompt=build_system_prompt(workspace, override=options.system_prompt,
                                          append=options.append_system_prompt, user_home=ketch_home(),
                                          template=SYSTEM_TEMPLATE if small else "system.md",
                                          notices=policy.ignored, extra_sections=skill_sections),
        workspace=workspace,
        gate=gate,
        max_turns=options.max_turns,
        max_budget_usd=options.max_budget_usd,
        context_window=window,
        outputs_dir=outputs_dir,
        autocompact_threshold=_autocompact_threshold(),
        max_tokens=SMALL_MAX_TOKENS if small and info is None else default_max_tokens(info),
        sandbox="off" if options.sandbox == "off" else "bubblewrap",
        notices=list(policy.ignored),
        api_key_source=_key_source(provider_name, config.api_key),
        warnings=list(policy.warnings),
    )
    if provider_name == "local" and not (options.model or os.environ.get("KETCH_MODEL") or policy.model):
        agent_config.model_note = f"no API key configured; using the local model {model}"
    agent = Agent(
        provider=make_provider(provider_name, config),
        tools=tools,
        config=agent_config,
        session_id=session_id,
        approver=approver or refuse_all,
        cost_fn=lambda usage: cost_usd(info, usage),
        redact=Redactor.from_environment([config.api_key, *known_secret_values()]),
        runner=build_runner(options, workspace, policy),
    )
    agent.state.edit_requires_read = not small  # see SessionState: the small-model profile
    agent.state.tests_are_evidence = small
    if small:  # small models never run the tests themselves: ketch does, and shows them what failed
        from ketch.agent.verify.closed_loop import ClosedLoop

        agent.checks = ClosedLoop()
    from ketch.cli.extensions import attach_hooks, start_mcp, start_subagents

    start_mcp(options, agent, trusted, sandbox_args(options, workspace, policy))
    attach_hooks(options, agent, trusted)
    if not small:  # small local models do better without a Task tool
        start_subagents(options, agent)
    # Undo snapshots go to $KETCH_HOME/shadow/; nothing is imported or created before the first edit turn.
    agent.checkpoints = LazyCheckpoints(workspace, ketch_home(), agent.redact)
    if options.trust:
        _record_trust(workspace)  # only now: a run that stopped on its settings records nothing
    return agent


def _key_source(provider: str, key: str | None) -> str:
    """Where the key in use came from, as Claude Code reports it: the variable's name, or none."""
    if not key or provider == "local":
        return "none"
    from ketch.providers import api_key_env

    name = api_key_env(provider)
    return name if os.environ.get(name) == key else "ketch auth"


def _record_trust(workspace: Path) -> None:
    from ketch.security.trust import is_trusted, trust

    if is_trusted(workspace):
        return
    try:
        trust(workspace)
    except OSError as exc:
        raise ConfigError(f"cannot record folder trust: {exc.strerror or exc}") from None


class LazyCheckpoints:
    """Undo's checkpoints, built at the first turn that edits or runs a command."""

    def __init__(self, workspace: Path, home: Path, redact: Callable[[str], str]) -> None:
        self._args = (workspace, home, redact)
        self._real: TurnCheckpoints | None = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            from ketch.agent.undo.checkpoints import make_checkpoints

            self._real = make_checkpoints(*self._args)
        return getattr(self._real, name)


def switch_model(agent: Agent, spec: str) -> None:
    """/model: point a live Agent at another model or provider, keeping the conversation.

    The conversation is provider-neutral, so switching is a new provider object plus the new
    model's window, output limit and prices (Agent.switch_model closes the old provider).
    """
    from ketch.config.models import cost_usd, default_max_tokens, model_info, parse_model_spec
    from ketch.providers import make_provider

    provider_name, model = parse_model_spec(spec)
    config = provider_config(provider_name)  # ConfigError when its key is missing
    info = model_info(provider_name, model)
    window = _context_window(info)  # checked before anything is switched
    agent.switch_model(make_provider(provider_name, config), model=model, provider_name=provider_name,
                       context_window=window, max_tokens=default_max_tokens(info),
                       cost_fn=lambda usage: cost_usd(info, usage))
