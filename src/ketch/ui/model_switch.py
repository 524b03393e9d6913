"""/model: point a live Agent at another model or provider, keeping the conversation.

The conversation model is provider-neutral, so switching is a new provider object plus the
new model's window, output limit and prices; the old provider's connections are closed.
"""

from __future__ import annotations

from typing import Any


def switch_model(agent: Any, spec: str) -> None:
    from ketch.config.models import cost_usd, default_max_tokens, model_info, parse_model_spec
    from ketch.providers import make_provider
    from ketch.cli.wiring import _context_window, provider_config

    provider_name, model = parse_model_spec(spec)
    config = provider_config(provider_name)  # ConfigError when its key is missing
    info = model_info(provider_name, model)
    agent.switch_model(make_provider(provider_name, config), model=model, provider_name=provider_name,
                       context_window=_context_window(info), max_tokens=default_max_tokens(info),
                       cost_fn=lambda usage: cost_usd(info, usage))
