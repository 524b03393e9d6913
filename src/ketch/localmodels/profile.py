"""How ketch runs when the model is a small local one: fewer tools, a shorter prompt, early checks.

Small models process prompts at ~90 tok/s on a laptop, so every token of fixed overhead is
seconds of waiting, and a long tool list confuses them: they get six tools and a prompt of a
few hundred tokens (prompts/system_small.md); each tool offers only the fields they need
(small_tools.py).
"""

from __future__ import annotations

import importlib.util
import os

from ketch.errors import ConfigError

SMALL_TOOLS = ("Read", "Write", "Edit", "Bash", "Glob", "Grep")
SYSTEM_TEMPLATE = "system_small.md"
DEFAULT_CONTEXT = 8192  # tokens, for a model file the registry does not describe


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
