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
    provider = make_provider(provider_name, config)
    old = agent.provider
    agent.provider = provider
    agent.config.model = model
    agent.config.provider_name = provider_name
    agent.config.context_window = _context_window(info)
    agent.config.max_tokens = default_max_tokens(info)
    agent.cost_fn = lambda usage: cost_usd(info, usage)
    if agent.meter is not None:
        agent.meter.window = agent.config.context_window
    try:
        old.close()
    except Exception:  # a provider failing to close must not undo the switch
        pass
