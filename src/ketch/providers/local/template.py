"""What a model's own chat template accepts, found by rendering probes once per loaded model.

Templates differ in ways that matter to the prompt ketch builds: some have no system role at
all (Gemma's raises "System role not supported"; others silently drop the message). ketch does
not keep a list of model families: it renders a tiny conversation with the template and looks
at what came out. Pure: `render` is the loaded template (llama_cpp's Jinja2ChatFormatter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Render = Callable[..., Any]  # Jinja2ChatFormatter: render(messages=[...]) -> object with .prompt
_MARK = "ketch-system-probe-7f3a"


def supports_system_role(render: Render) -> bool:
    """True if a system message renders and its text reaches the prompt; False if the template
    raises on it or drops it (then the system prompt is folded into the first user turn)."""
    probe = [{"role": "system", "content": _MARK}, {"role": "user", "content": "hi"}]
    try:
        rendered = render(messages=probe)
    except Exception:  # noqa: BLE001 - jinja2's errors and the template's own raise_exception (a ValueError)
        return False
    prompt = getattr(rendered, "prompt", rendered)
    return isinstance(prompt, str) and _MARK in prompt
