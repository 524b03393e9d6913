"""The shipped model registry: spec parsing, id resolution, prices and output budgets."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from ketch.config.models import (
    ModelInfo,
    cost_usd,
    default_max_tokens,
    known_models,
    model_info,
    parse_model_spec,
)
from ketch.conversation import Usage

ANTHROPIC_PRICES = {  # input, output per million tokens
    "claude-opus-4-5": (5, 25), "claude-opus-4-1": (15, 75), "claude-opus-4": (15, 75),
    "claude-sonnet-4-5": (3, 15), "claude-sonnet-4": (3, 15), "claude-haiku-4-5": (1, 5),
    "claude-3-5-haiku": (0.8, 4), "claude-3-7-sonnet": (3, 15),
}
OPENAI_PRICES = {  # input, output, cached input
    "gpt-5": (1.25, 10, 0.125), "gpt-5-mini": (0.25, 2, 0.025), "gpt-5-nano": (0.05, 0.4, None),
    "gpt-4.1": (2, 8, 0.5), "gpt-4.1-mini": (0.4, 1.6, 0.1), "gpt-4o": (2.5, 10, 1.25),
    "gpt-4o-mini": (0.15, 0.6, 0.075), "o3": (2, 8, 0.5), "o4-mini": (1.1, 4.4, 0.275),
}


@pytest.mark.parametrize("spec, expected", [
    ("anthropic:claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
    ("openai:gpt-4o", ("openai", "gpt-4o")),
    ("openai:qwen2.5-coder:7b", ("openai", "qwen2.5-coder:7b")),
    ("anthropic:my-proxy-model", ("anthropic", "my-proxy-model")),
    ("OpenAI:llama3.1", ("openai", "llama3.1")),
    ("claude-opus-4-5-20251101", ("anthropic", "claude-opus-4-5-20251101")),
    ("gpt-5-mini", ("openai", "gpt-5-mini")),
    ("o1-preview", ("openai", "o1-preview")),
    ("o3", ("openai", "o3")),
    ("o4-mini", ("openai", "o4-mini")),
    ("chatgpt-4o-latest", ("openai", "chatgpt-4o-latest")),
    ("  claude-haiku-4-5 ", ("anthropic", "claude-haiku-4-5")),
])
def test_parse_model_spec(spec: str, expected: tuple[str, str]) -> None:
    assert parse_model_spec(spec) == expected


@pytest.mark.parametrize("spec", ["llama3.1", "qwen2.5-coder:7b", "ollama:llama3", "gemini-2.5-pro"])
def test_ambiguous_spec_tells_how_to_write_it(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_model_spec(spec)
    message = str(info.value)
    assert f"openai:{spec}" in message and "anthropic:" in message and "\n" not in message


@pytest.mark.parametrize("spec", ["", "openai:", "anthropic:  "])
def test_empty_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_model_spec(spec)


@pytest.mark.parametrize("name, inp, out", [(k, *v) for k, v in ANTHROPIC_PRICES.items()])
def test_anthropic_prices(name: str, inp: float, out: float) -> None:
    info = model_info("anthropic", name)
    assert info is not None and info.provider == "anthropic" and info.context_window >= 200_000
    assert (info.input_per_mtok, info.output_per_mtok) == (inp, out)
    assert info.cache_write_per_mtok == pytest.approx(1.25 * inp)
    assert info.cache_read_per_mtok == pytest.approx(0.1 * inp)


@pytest.mark.parametrize("name, inp, out, cached", [(k, *v) for k, v in OPENAI_PRICES.items()])
def test_openai_prices(name: str, inp: float, out: float, cached: float | None) -> None:
    info = model_info("openai", name)
    assert info is not None and info.provider == "openai"
    assert (info.input_per_mtok, info.output_per_mtok) == (inp, out)
    if cached is not None:
        assert info.cache_read_per_mtok == cached
    assert info.cache_write_per_mtok == inp  # OpenAI caches automatically at no surcharge


@pytest.mark.parametrize("provider, name, resolved", [
    ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("anthropic", "claude-opus-4-20250514", "claude-opus-4"),
    ("anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ("anthropic", "claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
    ("anthropic", "claude-opus-4-1@20250805", "claude-opus-4-1"),
    ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
    ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("openai", "gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("openai", "gpt-4.1-2025-04-14", "gpt-4.1"),
    ("openai", "o4-mini-2025-04-16", "o4-mini"),
    ("openai", "GPT-4o", "gpt-4o"),
])
def test_dated_and_latest_ids_resolve_to_the_longest_known_prefix(provider: str, name: str, resolved: str) -> None:
    info = model_info(provider, name)
    assert info is not None and info.name == resolved


@pytest.mark.parametrize("provider, name", [
    ("anthropic", "claude-opus-4-7"),        # a newer minor version is another model
    ("openai", "o1-mini"),                   # a different, cheaper model than o1
    ("openai", "gpt-4o-mini-tts"),
    ("openai", "llama3.1:8b"),
    ("openai", "claude-sonnet-4-5"),         # served by a proxy: its price is not ours to guess
    ("anthropic", "gpt-4o"),
])
def test_unknown_models(provider: str, name: str) -> None:
    assert model_info(provider, name) is None


def test_cost() -> None:
    info = model_info("anthropic", "claude-sonnet-4-5")
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_creation_input_tokens=200_000,
                  cache_read_input_tokens=2_000_000)
    assert cost_usd(info, usage) == pytest.approx(3 + 1.5 + 0.75 + 0.6)
    gpt = model_info("openai", "gpt-4o-mini")
    assert cost_usd(gpt, Usage(input_tokens=20_000, output_tokens=1_000, cache_read_input_tokens=80_000)) == \
        pytest.approx((20_000 * 0.15 + 1_000 * 0.6 + 80_000 * 0.075) / 1e6)
    assert cost_usd(None, usage) == 0.0
    assert cost_usd(info, Usage()) == 0.0


def test_default_max_tokens() -> None:
    assert default_max_tokens(model_info("anthropic", "claude-sonnet-4-5")) == 32000
    assert default_max_tokens(model_info("anthropic", "claude-3-5-haiku")) == 8192
    assert default_max_tokens(model_info("openai", "gpt-4o")) == 16384
    assert default_max_tokens(None) == 8192


def test_shipped_data_is_well_formed() -> None:
    raw = json.loads(resources.files("ketch.config").joinpath("models.json").read_text("utf-8"))
    infos = known_models()
    assert len(infos) == len(raw["models"]) >= 17
    for info in infos:
        assert isinstance(info, ModelInfo) and info.provider in ("anthropic", "openai")
        assert info.max_output_tokens <= info.context_window
        assert 0 < info.cache_read_per_mtok <= info.input_per_mtok <= info.cache_write_per_mtok < info.output_per_mtok
        assert info.name == info.name.lower()
    assert {i.name for i in known_models("anthropic")} >= set(ANTHROPIC_PRICES)
    assert {i.name for i in known_models("openai")} >= set(OPENAI_PRICES)
