"""One request to the model: stream its reply, pass deltas and retries on, bill what was spent.

Kept apart from the loop (agent/loop.py), which only decides what happens with a reply; here is
what it takes to get one: retries that were billed, a context that overflowed (compact once,
ask again), a stream the user cut (its text kept, marked as cut), a stream that broke.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from ketch.agent import events as ev
from ketch.agent.billing import AttemptTally
from ketch.agent.run_state import RunState, Stop
from ketch.conversation import Message, ModelRequest, TextBlock, Usage, valid_text
from ketch.providers.base import Completed, ProviderError, Retrying, TextChunk, ThinkingChunk

if TYPE_CHECKING:
    from ketch.agent.loop import Agent


def ask_model(agent: Agent, run: RunState) -> Generator[ev.Event, None, Completed | None]:
    """Stream one reply; None when the context overflowed and was compacted (ask again).
    Stop on an error, a broken stream or an interruption."""
    config = agent.config
    request = ModelRequest(
        model=config.model, system=agent.system_as_sent(), messages=agent.messages,
        tools=run.tools, max_tokens=config.max_tokens, cache_key=agent.session_id,
        temperature=agent.state.temperature, tool_choice=agent.state.tool_choice,
        choice_paths=agent.state.choice_paths, file_blocks=agent.state.file_blocks,
    )
    t0 = time.monotonic()
    completed: Completed | None = None
    partial: list[str] = []  # streamed text, kept if the user interrupts mid-reply
    tally = AttemptTally()  # what an attempt that never completes was billed
    try:
        for item in agent.provider.stream(request):
            tally.observe(item)
            if isinstance(item, TextChunk):
                partial.append(valid_text(item.text))
                yield ev.TextDelta(partial[-1])
            elif isinstance(item, ThinkingChunk):
                yield ev.ThinkingDelta(valid_text(item.text))
            elif isinstance(item, Retrying):
                if agent.cancel.is_set():
                    break  # the resend is the front end's abort: keep what was streamed
                yield from agent.bill_unfinished(tally, request)
                partial.clear()
                yield ev.Retry(item.attempt, item.delay_s, item.reason)
            elif isinstance(item, Completed):
                completed = item
                tally.reset()
            if agent.cancel.is_set():
                break
    except ProviderError as exc:
        run.api_s += time.monotonic() - t0
        yield from agent.bill_unfinished(tally, request)
        if agent.cancel.is_set():  # the front end closed the stream to interrupt it
            yield from _keep_partial(agent, partial)
            raise Stop("interrupted", "interrupted") from None
        if exc.kind == "context_length" and agent.meter is not None and not run.overflow_retried \
                and len(agent.messages) > 2:
            run.overflow_retried = True  # the window is smaller than we thought: compact once, resend
            yield from agent.compact(reason="the provider said the context is too long")
            return None
        raise Stop("error_during_execution", str(exc), ev.Error(str(exc), kind=exc.kind)) from None
    run.api_s += time.monotonic() - t0
    if agent.cancel.is_set():
        if completed is None:
            yield from agent.bill_unfinished(tally, request)
            yield from _keep_partial(agent, partial)
        raise Stop("interrupted", "interrupted")
    if completed is None:
        message = "the model's stream ended without a complete reply"
        raise Stop("error_during_execution", message, ev.Error(message, kind="malformed"))
    if agent.meter is not None:
        agent.meter.observe(request, completed.usage)
    return completed


def _keep_partial(agent: Agent, partial: list[str]) -> Iterator[ev.Event]:
    """An interrupted reply's text stays in the conversation (and transcript), marked as cut."""
    text = "".join(partial)
    if not text.strip():
        return
    message = Message("assistant", [TextBlock(text + "\n\n[interrupted by the user]")])
    agent.messages.append(message)
    yield ev.AssistantMessage(message, "", agent.config.model, "interrupted", Usage())
