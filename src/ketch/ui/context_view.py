"""How much of the context window a conversation uses, in total and by part (/context).

Estimates with the agent's own ContextMeter (its characters-per-token ratio is calibrated by
the provider's usage reports), so the numbers match what triggers auto-compaction.
"""

from __future__ import annotations

import json
from typing import Any

from ketch.agent.compaction import DEFAULT_WINDOW
from ketch.conversation import block_to_dict


def _ratio(agent: Any) -> float:
    meter = getattr(agent, "meter", None)
    return meter.chars_per_token if meter is not None else 4.0


def context_used(agent: Any) -> tuple[int, int]:
    """(estimated tokens of the next request, the window)."""
    window = agent.config.context_window or DEFAULT_WINDOW
    return sum(tokens for _, tokens in context_parts(agent)), window


def context_parts(agent: Any) -> list[tuple[str, int]]:
    """system prompt (without memory), memory files, tool definitions, messages."""
    ratio = _ratio(agent)
    system = agent.config.system_prompt
    memory_chars = 0
    for marker in ("<project-instructions>", "<user-instructions>"):
        start = system.find(marker)
        if start >= 0:
            end = system.find(marker.replace("<", "</"), start)
            memory_chars += (end if end >= 0 else len(system)) - start
    tools_chars = sum(len(t.definition().description) + len(json.dumps(t.definition().input_schema))
                      for t in agent.tools)
    message_chars = sum(len(json.dumps(block_to_dict(b), ensure_ascii=False))
                        for m in agent.messages for b in m.content)
    return [("system prompt", int((len(system) - memory_chars) / ratio)), ("memory files", int(memory_chars / ratio)),
            ("tool definitions", int(tools_chars / ratio)), ("messages", int(message_chars / ratio))]
