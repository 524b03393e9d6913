"""Assemble an Agent from the command line and settings: model, provider, tools, gate, prompt.

Shared by every front end (headless today, the REPL next), so each one only decides how
to render events and how to answer permission requests. Problems the user must fix are
raised as ConfigError with one line that says what to do.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ketch.config.settings import ConfigError, Settings, ketch_home, load_settings

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"
DEFAULT_OPENAI_MODEL = "gpt-5"


@dataclass
class RunOptions:
    workspace: Path
    model: str | None = None
    max_turns: int | None = None
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    disallowed_tools: list[str] = field(default_factory=list)
    permission_mode: str | None = None


def choose_model(cli_model: str | None, settings: Settings) -> str:
    """--model, then KETCH_MODEL, then settings, then whichever provider has a key."""
    for candidate in (cli_model, os.environ.get("KETCH_MODEL"), settings.model):
        if candidate:
            return candidate
    if os.environ.get("ANTHROPIC_API_KEY"):
        return DEFAULT_ANTHROPIC_MODEL
    if os.environ.get("OPENAI_API_KEY"):
        return DEFAULT_OPENAI_MODEL
    raise ConfigError(
        "no model configured: pass --model (e.g. claude-sonnet-4-5, openai:llama3.1), set \"model\" in "
        f"{ketch_home() / 'settings.json'}, or export ANTHROPIC_API_KEY or OPENAI_API_KEY"
    )


def provider_config(provider: str):  # type: ignore[no-untyped-def]
    """The provider's config from the standard variables; a missing key is a ConfigError."""
    from ketch.providers import api_key_env, base_url_env, config_from_env

    config = config_from_env(provider)
    if not config.api_key and not (provider == "openai" and os.environ.get(base_url_env(provider))):
        hint = " or point OPENAI_BASE_URL at a compatible server" if provider == "openai" else ""
        raise ConfigError(f"{api_key_env(provider)} is not set: export it{hint}")
    delay = os.environ.get("KETCH_RETRY_BASE_DELAY")
    if delay:
        try:
            config.retry_base_s = float(delay)
        except ValueError:
            raise ConfigError(f"KETCH_RETRY_BASE_DELAY must be a number of seconds, not {delay!r}") from None
    return config


def build_agent(options: RunOptions, approver=None):  # type: ignore[no-untyped-def]
    """Return a ready Agent; nothing touches the network until its first request."""
    from ketch.agent.loop import Agent, AgentConfig, refuse_all
    from ketch.agent.permissions import MODES, PermissionGate, RuleSyntaxError, parse_rules
    from ketch.agent.prompt import build_system_prompt
    from ketch.config.models import cost_usd, default_max_tokens, model_info, parse_model_spec
    from ketch.providers import make_provider
    from ketch.security.redact import Redactor
    from ketch.tools.registry import default_tools

    settings = load_settings()
    try:
        provider_name, model = parse_model_spec(choose_model(options.model, settings))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = provider_config(provider_name)
    info = model_info(provider_name, model)

    mode = options.permission_mode or settings.default_mode or "default"
    if mode not in MODES:
        raise ConfigError(f"unknown permission mode {mode!r}: use one of {', '.join(MODES)}")
    try:
        allow = parse_rules(settings.allow + options.allowed_tools)
        deny = parse_rules(settings.deny + options.disallowed_tools)
    except RuleSyntaxError as exc:
        raise ConfigError(str(exc)) from None
    if options.max_turns is not None and options.max_turns < 1:
        raise ConfigError("--max-turns must be at least 1")

    workspace = Path(os.path.realpath(options.workspace))
    tools = default_tools()
    denied_outright = {r.tool for r in deny if r.spec is None}
    tools = [t for t in tools if t.name not in denied_outright]
    agent_config = AgentConfig(
        model=model,
        provider_name=provider_name,
        system_prompt=build_system_prompt(workspace, override=options.system_prompt,
                                          append=options.append_system_prompt),
        workspace=workspace,
        gate=PermissionGate(mode=mode, allow=allow, deny=deny, workspace=workspace),
        max_turns=options.max_turns,
        max_tokens=default_max_tokens(info),
    )
    return Agent(
        provider=make_provider(provider_name, config),
        tools=tools,
        config=agent_config,
        session_id=str(uuid.uuid4()),
        approver=approver or refuse_all,
        cost_fn=lambda usage: cost_usd(info, usage),
        redact=Redactor.from_environment([config.api_key]),
    )
