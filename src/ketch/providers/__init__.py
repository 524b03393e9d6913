"""Provider codecs behind one streaming contract (see `base`), chosen by name.

Codec modules are imported only inside `make_provider`: they pull in httpx, and commands
that never call a model (`ketch --version`) must not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ketch.config.providers import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, PROVIDERS

if TYPE_CHECKING:
    from ketch.providers.base import Provider, ProviderConfig

def _check(provider: str) -> None:
    if provider not in PROVIDERS:
        from ketch.providers.base import ProviderError

        raise ProviderError(
            f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}", kind="config"
        )


def default_base_url(provider: str) -> str:
    _check(provider)
    return DEFAULT_BASE_URL[provider]


def api_key_env(provider: str) -> str:
    _check(provider)
    return API_KEY_ENV[provider]


def base_url_env(provider: str) -> str:
    _check(provider)
    return BASE_URL_ENV[provider]


def config_from_env(provider: str, environ: Mapping[str, str] | None = None) -> ProviderConfig:
    """A config from the standard variables; empty values count as unset."""
    from ketch.providers.base import ProviderConfig

    env = os.environ if environ is None else environ
    key = env.get(api_key_env(provider)) or None
    base = (env.get(base_url_env(provider)) or "").strip() or default_base_url(provider)
    return ProviderConfig(api_key=key, base_url=base.rstrip("/"))


def make_provider(provider: str, config: ProviderConfig) -> Provider:
    """The codec for `provider` ("anthropic", "openai" or "local"), importing it on first use."""
    if provider == "local":  # an embedded GGUF model: no URL, no key (ketch.providers.local.provider)
        from ketch.providers.local.provider import LocalProvider

        return LocalProvider(config)
    _check(provider)
    if provider == "anthropic":
        from ketch.providers.anthropic import AnthropicProvider

        return AnthropicProvider(config)
    from ketch.providers.openai_chat import OpenAIChatProvider

    return OpenAIChatProvider(config)
