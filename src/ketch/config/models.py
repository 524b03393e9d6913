"""The shipped model registry: which provider serves a model, its limits, and its prices.

Shipped as data (models.json) instead of fetched, so start-up never touches the network
(DESIGN.md §6); read on first use, not at import. Unknown models are normal (local
servers, new releases): every function here has a sensible answer for them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from ketch.conversation import Usage

PROVIDERS = ("anthropic", "openai")
UNKNOWN_MAX_TOKENS = 8192
MAX_TOKENS_CAP = 32000

_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")


# What may follow a known id and still mean that model: snapshot dates, `-latest`,
# Vertex's `@date`, Bedrock-style `-v1:0`. Anything else ("-6", "-mini") is another model,
# and a wrong price is worse than none.
@cache
def _snapshot_suffix() -> re.Pattern[str]:
    """Compiled at first use: an exact model id needs no suffix match."""
    return re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|latest|v\d+(?::\d+)?))+")


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the registry id the requested name resolved to
    provider: str
    context_window: int
    max_output_tokens: int
    input_per_mtok: float  # USD per million uncached input tokens
    output_per_mtok: float
    cache_write_per_mtok: float
    cache_read_per_mtok: float


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`anthropic:NAME` / `openai:NAME`, or a bare name whose family names its provider.

    Only families with one obvious home are guessed; a bare local model name is refused
    because it could be served by either dialect, and guessing wrong sends the prompt to
    the wrong place.
    """
    text = spec.strip()
    head, sep, rest = text.partition(":")
    if sep and head.lower() == "local":  # an embedded GGUF model: a registry name or a file path
        if not rest.strip():
            raise ValueError("model spec 'local:' names no model: write local:NAME (see `ketch models list`) "
                             "or local:/path/to/file.gguf")
        return "local", rest.strip()
    if sep and head.lower() in PROVIDERS:
        name = rest.strip()
        if not name:
            raise ValueError(f"model spec {spec!r} names no model: write {head.lower()}:NAME")
        return head.lower(), name
    if not text:
        raise ValueError("no model given: write anthropic:NAME or openai:NAME")
    lower = text.lower()
    if lower.startswith("claude-"):
        return "anthropic", text
    if lower.startswith(_OPENAI_PREFIXES):
        return "openai", text
    raise ValueError(
        f"cannot tell which provider serves model {text!r}: write openai:{text} for an "
        f"OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter...) or anthropic:{text}"
    )


def model_info(provider: str, name: str) -> ModelInfo | None:
    """The registry entry for `name` as served by `provider`, or None if unknown.

    Resolves dated snapshots and `-latest` aliases to the longest known id they extend.
    """
    models = _registry().get(provider, {})
    wanted = name.strip().lower()
    if wanted in models:
        return models[wanted]
    best: ModelInfo | None = None
    for known, info in models.items():
        if (wanted.startswith(known) and _snapshot_suffix().fullmatch(wanted[len(known):])
                and (best is None or len(known) > len(best.name))):
            best = info
    return best


def cost_usd(info: ModelInfo | None, usage: Usage) -> float:
    """What `usage` cost; 0.0 when the price is unknown (local models are free, mostly)."""
    if info is None:
        return 0.0
    total = (
        usage.input_tokens * info.input_per_mtok
        + usage.output_tokens * info.output_per_mtok
        + usage.cache_creation_input_tokens * info.cache_write_per_mtok
        + usage.cache_read_input_tokens * info.cache_read_per_mtok
    )
    return total / 1_000_000


def default_max_tokens(info: ModelInfo | None) -> int:
    """Output budget per request: capped, since some APIs reserve (and rate-limit) the
    whole `max_tokens` up front; conservative for unknown models, whose servers may
    reject anything above their own limit."""
    if info is None:
        return UNKNOWN_MAX_TOKENS
    return min(info.max_output_tokens, MAX_TOKENS_CAP)


def known_models(provider: str | None = None) -> list[ModelInfo]:
    """All registry entries, optionally for one provider (for `--help` and completion)."""
    return [
        info for by_name in _registry().values() for info in by_name.values()
        if provider is None or info.provider == provider
    ]


@lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, ModelInfo]]:
    from importlib import resources

    raw = json.loads(resources.files("ketch.config").joinpath("models.json").read_text("utf-8"))
    registry: dict[str, dict[str, ModelInfo]] = {}
    for name, entry in raw["models"].items():
        info = ModelInfo(
            name=name.lower(),
            provider=entry["provider"],
            context_window=int(entry["context_window"]),
            max_output_tokens=int(entry["max_output_tokens"]),
            input_per_mtok=float(entry["input"]),
            output_per_mtok=float(entry["output"]),
            cache_write_per_mtok=float(entry["cache_write"]),
            cache_read_per_mtok=float(entry["cache_read"]),
        )
        registry.setdefault(info.provider, {})[info.name] = info
    return registry
