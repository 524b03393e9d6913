"""Choosing a codec by name, the standard environment variables, and import laziness."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ketch.providers import (
    api_key_env,
    base_url_env,
    config_from_env,
    default_base_url,
    make_provider,
)
from ketch.providers.base import ProviderConfig, ProviderError


def test_defaults_and_variable_names() -> None:
    assert default_base_url("anthropic") == "https://api.anthropic.com"
    assert default_base_url("openai") == "https://api.openai.com/v1"
    assert (api_key_env("anthropic"), base_url_env("anthropic")) == ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    assert (api_key_env("openai"), base_url_env("openai")) == ("OPENAI_API_KEY", "OPENAI_BASE_URL")


def test_make_provider_picks_the_codec() -> None:
    config = ProviderConfig(api_key=None, base_url="http://127.0.0.1:1")
    anthropic = make_provider("anthropic", config)
    openai = make_provider("openai", config)
    assert type(anthropic).__name__ == "AnthropicProvider" and anthropic.name == "anthropic"
    assert type(openai).__name__ == "OpenAIChatProvider" and openai.name == "openai"
    anthropic.close()
    openai.close()


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ProviderError) as info:
        make_provider("gemini", ProviderConfig(api_key=None, base_url="x"))
    assert info.value.kind == "config" and "anthropic, openai" in str(info.value)
    with pytest.raises(ProviderError):
        default_base_url("bedrock")


def test_config_from_env() -> None:
    config = config_from_env("openai", {"OPENAI_BASE_URL": "http://localhost:11434/v1/", "OPENAI_API_KEY": ""})
    assert config.base_url == "http://localhost:11434/v1" and config.api_key is None
    config = config_from_env("anthropic", {"ANTHROPIC_API_KEY": "sk-ant-x", "ANTHROPIC_BASE_URL": ""})
    assert config.base_url == "https://api.anthropic.com" and config.api_key == "sk-ant-x"


def test_nothing_heavy_is_imported_until_a_request_is_made() -> None:
    code = (
        "import sys\n"
        "from ketch.providers import make_provider\n"
        "from ketch.providers.base import ProviderConfig\n"
        "from ketch.config import models\n"
        "p = make_provider('anthropic', ProviderConfig(api_key=None, base_url='http://127.0.0.1:1'))\n"
        "q = make_provider('openai', ProviderConfig(api_key=None, base_url='http://127.0.0.1:1'))\n"
        "assert models._registry.cache_info().currsize == 0, 'registry loaded at import'\n"
        "heavy = sorted(m for m in ('httpx', 'httpcore', 'anthropic', 'openai', 'ssl') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
