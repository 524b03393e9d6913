"""The seam hooks plug into (Claude Code's hook protocol lives in ext/hooks; the loop never imports it).

The loop and dispatch ask an `Agent.hooks` object at fixed points and act on plain answers:
a verdict before a tool runs, extra context or a block after, a block or context for a prompt,
"go on" when the model would stop. Everything the hooks did that a front end may show or record
comes back as events (`HookRan`, `ev.Notice`) in `events`, which the loop yields in order.
What a hook may never do is decided here, not by the hook: its allow never beats the gate's
deny (a deny rule, a protected path, plan or dontAsk mode), and a rewritten input is validated
against the tool's schema again before the gate sees it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ketch.agent import events as ev
from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock, valid_text

if TYPE_CHECKING:
    from ketch.agent.loop import Agent

HookDecision = Literal["allow", "deny", "ask"]


@dataclass
class HookRan:
    """One hook process, finished: for stream-json (`--include-hook-events`) and the transcript.

    `outcome`: "success", "blocked" (exit 2 or a blocking decision), "error" (another exit
    code, a timeout, unreadable output) or "cancelled".
    """

    hook_id: str
    event: str  # Claude Code's event name, e.g. "PreToolUse"
    name: str  # "PreToolUse:Bash": the event and what it matched
    command: str
    source: str  # the settings file it came from
    outcome: str
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    duration_ms: int = 0


@dataclass
class HookAnswer:
    """What the hooks of one event said, merged.

    `decision`: PreToolUse / PermissionRequest only. `block`: the event's "no" (a prompt not
    sent, a tool result the model must reconsider, a stop that must go on); `reason` is what
    the model (or, for a blocked prompt, the person) is told. `context`: text for the model.
    `stop`: `continue: false` — the run ends, this said to the person.
    """

    decision: HookDecision | None = None
    reason: str = ""
    updated_input: dict[str, Any] | None = None
    block: bool = False
    context: str = ""
    stop: str | None = None
    events: list[Any] = field(default_factory=list)


class LoopHooks(Protocol):
    """What the loop asks of the hooks; each call runs the matching hooks and merges their answers."""

    def pre_tool(self, call: ToolUseBlock, /) -> HookAnswer: ...

    def post_tool(self, call: ToolUseBlock, result: ToolResultBlock, /) -> HookAnswer: ...

    def permission_request(self, call: ToolUseBlock, reason: str, /) -> HookAnswer: ...

    def notify(self, message: str, kind: str, /) -> HookAnswer: ...

    def prompt_submit(self, prompt: str, /) -> HookAnswer: ...

    def stop(self, stop_hook_active: bool, last_message: str, /) -> HookAnswer: ...

    def pre_compact(self, trigger: str, instructions: str, /) -> HookAnswer: ...

    # Called by the front ends, not the loop: they return the events to show and record.
    def session_start(self, source: str, /) -> list[Any]: ...

    def session_end(self, reason: str, /) -> list[Any]: ...


# Consecutive continuations a Stop hook may force in one run: past this the model's stop stands
# (Claude Code leaves this to the hook's `stop_hook_active` check; a broken hook must not spend forever).
MAX_STOP_CONTINUATIONS = 16


def prompt_hooks(agent: Agent, hooks: LoopHooks) -> Generator[Any, None, str | None]:
    """UserPromptSubmit, once the prompt is in the history: a blocked prompt is taken back unsent
    (returned: why, for the run's result); context the hooks add joins the prompt's message."""
    prompt = agent.instructions[-1]
    answer = hooks.prompt_submit(prompt)
    yield from answer.events
    if answer.block or answer.stop is not None:
        last = agent.messages[-1]
        last.content = [b for b in last.content if not (isinstance(b, TextBlock) and b.text == prompt)]
        if not last.content:
            agent.messages.pop()
        agent.instructions.pop()
        return f"prompt blocked by a UserPromptSubmit hook: {answer.reason if answer.block else answer.stop}"
    if answer.context:
        text = valid_text(agent.redact(answer.context))
        agent.messages[-1].content.append(TextBlock(f"<user-prompt-submit-hook>\n{text}\n</user-prompt-submit-hook>"))
    return None


def stop_hooks(agent: Agent, hooks: LoopHooks, reply: Message, run: Any) -> Generator[Any, None, bool]:
    """Stop, when the model answered without tool calls: True when a hook blocked the stop; its
    reason goes to the model as the next user message (`run.stop_continues` counts them)."""
    answer = hooks.stop(run.stop_continues > 0, reply.text())
    yield from answer.events
    if not answer.block or answer.stop is not None:
        return False
    if run.stop_continues >= MAX_STOP_CONTINUATIONS:
        yield ev.Notice(f"a Stop hook asked to go on {run.stop_continues} times in a row; the run stops here")
        return False
    run.stop_continues += 1
    text = valid_text(agent.redact(answer.reason or "a Stop hook asked you to continue"))
    prompt = f"<stop-hook>\n{text}\n</stop-hook>"
    agent.messages.append(Message("user", [TextBlock(prompt)]))
    yield ev.UserPrompt(prompt)
    return True
