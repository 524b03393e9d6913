"""How ketch runs when the model is a small local one: fewer tools, a shorter prompt, early checks.

Small models process prompts at ~90 tok/s on a laptop, so every token of fixed overhead is
seconds of waiting, and a long tool list confuses them: they get six tools and a prompt of a
few hundred tokens (prompts/system_small.md); each tool offers only the fields they need
(small_tools.py).
"""

from __future__ import annotations

import importlib.util
import os
import re

from ketch.errors import ConfigError

SMALL_TOOLS = ("Read", "Write", "Edit", "Bash", "Glob", "Grep")
SYSTEM_TEMPLATE = "system_small.md"
DEFAULT_CONTEXT = 8192  # tokens, for a model file the registry does not describe
# A file this short is shown whole by the closed loop and written whole, not edited, by a small model.
WHOLE_FILE_LINES = 60
SMALL_MAX_TOKENS = 2048  # a reply's cap on a user's server, as the embedded model's (KETCH_LOCAL_MAX_TOKENS)
SMALL_PARAMS_B = 8.0  # models of at most this many billion parameters (by their name) get the profile
PROFILE_ENV = "KETCH_MODEL_PROFILE"
_PARAMS = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)b(?![a-z])", re.IGNORECASE)  # "1.5b", "7B", ":8b-instruct"


def wants_small_profile(provider: str, model: str, base_url: str) -> bool:
    """Whether this model gets the small-model profile: the embedded model always; a model behind
    an OpenAI-compatible server of the user's own (OPENAI_BASE_URL not OpenAI's) when its name
    says it has at most SMALL_PARAMS_B billion parameters ("qwen2.5-coder-1.5b", "llama3.1:8b").

    Why by name: such servers report no size, and a 1.5B model served by llama.cpp or Ollama
    stumbles over the full profile exactly as the embedded one does (its first request alone is a
    3,000-token system prompt and nine tools at ~30 tokens/s). KETCH_MODEL_PROFILE=small|full
    decides for a name that misleads.
    """
    choice = os.environ.get(PROFILE_ENV, "").strip().lower()
    if choice in ("small", "full"):
        return choice == "small"
    if choice:
        raise ConfigError(f"{PROFILE_ENV} must be small or full, not {choice!r}")
    if provider == "local":
        return True
    if provider != "openai" or not base_url or "api.openai.com" in base_url.lower():
        return False
    sizes = [float(n) for n in _PARAMS.findall(model)]
    return bool(sizes) and max(sizes) <= SMALL_PARAMS_B


def context_size(default: int) -> int:
    """The context window to run a local model with: KETCH_CONTEXT_WINDOW (≥ 1000) overrides."""
    raw = os.environ.get("KETCH_CONTEXT_WINDOW", "")
    return int(raw) if raw.isdigit() and int(raw) >= 1000 else default


def check_ready(model: str) -> int:
    """Fail before the run starts, in one line, if the model or llama-cpp-python is missing;
    return the context window to run it with."""
    from ketch.localmodels.cache import ModelFileError, resolve

    try:
        _path, entry = resolve(model)
    except ModelFileError as exc:
        raise ConfigError(str(exc)) from None
    if importlib.util.find_spec("llama_cpp") is None:
        from ketch.localmodels.install_hint import missing_llama_hint

        raise ConfigError(missing_llama_hint())
    return context_size(entry.context_window if entry is not None else DEFAULT_CONTEXT)


def default_local_model() -> str | None:
    """`local:NAME` of the best installed registry model, for runs with no provider configured."""
    from ketch.localmodels.cache import first_installed

    model = first_installed()
    return f"local:{model.name}" if model is not None else None
