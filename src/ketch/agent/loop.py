"""The agent loop: ask the model, run the tools it calls, repeat until it answers.

The message list is the trajectory. `Agent.run` is a generator of events; it never
prints. Every way a run ends is one `raise Stop(...)`, turned into the one `RunFinished`
at the bottom of `run`. What happens to the tool calls of a turn is `dispatch`: the
permission gate decides first, and the person (or headless policy) behind the `Approver`
answers what the gate cannot. Compaction is `compaction.compact`; one request to the model is
`model_turn.ask_model`. An Agent may carry `checks` (run_state.RunChecks) that act at a run's
start, after each turn's tool results and when the model stops (the small-model profile runs the
tests there: agent/verify).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.agent import compaction
from ketch.agent import events as ev
from ketch.agent.billing import AttemptTally, SpendLedger
from ketch.agent.compaction import DEFAULT_THRESHOLD, DEFAULT_WINDOW, ContextMeter
from ketch.agent.dispatch import Approval, Approver, Dispatch, refuse_all
from ketch.agent.model_turn import ask_model
from ketch.agent.permissions import PermissionGate
from ketch.agent.run_state import RunChecks, RunState, Stop
from ketch.conversation import (
    Message,
    ModelRequest,
    TextBlock,
    ToolDef,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
    valid_message,
    valid_text,
)
from ketch.providers.base import Completed, Provider
from ketch.tools.base import SessionState, Tool, ToolSource

if TYPE_CHECKING:
    from ketch.agent.hooks_seam import LoopHooks

__all__ = ["Agent", "AgentConfig", "Approval", "Approver", "CostFn", "refuse_all"]

CostFn = Callable[[Usage], float]


@dataclass
class AgentConfig:
    model: str
    provider_name: str
    system_prompt: str
    workspace: Path
    gate: PermissionGate
    max_turns: int | None = None
    max_budget_usd: float | None = None  # stop cleanly before the next request once reached
    context_window: int = DEFAULT_WINDOW
    autocompact_threshold: float | None = DEFAULT_THRESHOLD  # fraction of the window; None: never
    transcript_path: str = ""  # named in the compaction summary, so nothing is out of reach
    tool_result_chars: int = 30_000  # what the model sees of one tool result at most
    outputs_dir: Path | None = None  # where whole long results are kept (readable by Read)
    max_tokens: int = 8192
    sandbox: str = "bubblewrap"  # or "off": the user's explicit opt-out, recorded in the transcript
    notices: list[str] = field(default_factory=list)  # settings that were not applied, and why
    warnings: list[str] = field(default_factory=list)  # settings keys and rules that mean nothing
    model_note: str = ""  # how the model was chosen when the user did not name one (shown once)
    api_key_source: str = "none"  # where the provider key came from (stream-json's apiKeySource)


@dataclass
class Agent:
    provider: Provider
    tools: list[Tool]
    config: AgentConfig
    session_id: str
    approver: Approver = refuse_all
    cost_fn: CostFn = lambda usage: 0.0
    redact: Callable[[str], str] = lambda text: text
    runner: Any = None
    checkpoints: Any = None  # agent.checkpoints.TurnCheckpoints, or None: no undo snapshots
    sources: list[ToolSource] = field(default_factory=list)  # tools that come and go (MCP servers)
    hooks: LoopHooks | None = None  # Claude Code's hooks (ext/hooks), plugged in by cli/extensions.py
    checks: RunChecks | None = None  # the small-model profile's test runs (agent/verify), set by the wiring
    messages: list[Message] = field(default_factory=list)
    state: SessionState = field(default_factory=SessionState)
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.usage = Usage()
        self.denials: list[ev.Denial] = []
        self.compacted_len = 0  # the history's length right after the last compaction
        self.instructions: list[str] = []  # every prompt the user gave; survives compaction verbatim
        self.meter = ContextMeter(self.config.context_window, self.config.autocompact_threshold) \
            if self.config.autocompact_threshold else None
        self._system_cache: tuple[str | None, str] = (None, "")
        self.dispatch = Dispatch(self)
        self.children_usage, self.children_usd = Usage(), 0.0  # subagents' spend, at their models' prices
        self.ledger = SpendLedger()  # the session's running spend, shared with subagents (the budget's)
        self.on_interrupt: list[Callable[[], object]] = []  # cuts subagents' streams when this one stops
        self._spend_lock = threading.Lock()

    def started_event(self) -> ev.SessionStarted:
        return ev.SessionStarted(
            session_id=self.session_id, model=self.config.model, provider=self.config.provider_name,
            cwd=str(self.config.workspace), tools=[t.name for t in self.tools],
            permission_mode=self.config.gate.mode, sandbox=self.config.sandbox,
            notices=list(self.config.notices), api_key_source=self.config.api_key_source,
            context_window=self.config.context_window,
            servers=[server for source in self.sources for server in source.server_states()],
        )

    # -- the loop ---------------------------------------------------------------------------

    def run(self, prompt: str) -> Iterator[ev.Event]:
        run = RunState(tools=self.offered_definitions())
        yield self._take_prompt(prompt)
        try:
            if self.hooks is not None:
                from ketch.agent.hooks_seam import prompt_hooks  # ~2 ms of dataclasses: only runs with hooks

                blocked = yield from prompt_hooks(self, self.hooks)
                if blocked:
                    raise Stop("error_during_execution", blocked)
            if self.checks is not None:
                yield from self.checks.begin(self, self.instructions[-1])
            while True:
                run.tools = self.offered_definitions() if self.sources else run.tools
                yield from self._compact_if_full(run)
                self._stop_if_over_budget(run)
                reply = yield from ask_model(self, run)
                if reply is None:  # compacted after the provider said the context is too long: ask again
                    continue
                yield from self._record(reply, run)
                calls = reply.message.tool_uses()
                if not calls:
                    if self.hooks is not None and (yield from self._stop_hooks(reply, run)):
                        continue
                    answer = reply.message.text() if self.checks is None else \
                        (yield from self.checks.at_stop(self, reply.message.text(), run))
                    if answer is None:  # the checks sent the model back to work
                        continue
                    raise Stop("success", answer)
                self._stop_if_out_of_turns(calls, run)
                results = yield from self.dispatch.run(calls)
                self.messages.append(Message("user", list(results)))
                yield ev.ToolResults(self.messages[-1])
                if self.dispatch.hook_stop is not None:
                    raise Stop("success", f"stopped by a hook: {self.dispatch.hook_stop}")
                if self.checks is not None and not self.cancel.is_set():
                    yield from self.checks.after_tools(self, calls, results)
                if self.cancel.is_set():
                    raise Stop("interrupted", "interrupted")
        except Stop as stop:
            yield from stop.events
            yield self._finished(stop, run)

    def _take_prompt(self, prompt: str) -> ev.UserPrompt:
        prompt = valid_text(self.redact(prompt))  # every byte sent to a provider is redacted (DESIGN.md §5.7)
        if self.messages and self.messages[-1].role == "user":
            # A resumed session that ended on the user's side (an unanswered prompt, or results
            # of calls a crash cut short): join that turn, so roles alternate for strict servers.
            self.messages[-1] = Message("user", [*self.messages[-1].content, TextBlock(prompt)])
        else:
            self.messages.append(Message("user", [TextBlock(prompt)]))
        self.instructions.append(prompt)
        self.state.start_request(prompt)  # what the tools decide from the request (tools.tests_rule)
        return ev.UserPrompt(prompt)

    def _stop_hooks(self, reply: Completed, run: RunState) -> Generator[ev.Event, None, bool]:
        from ketch.agent.hooks_seam import stop_hooks

        assert self.hooks is not None
        return (yield from stop_hooks(self, self.hooks, reply.message, run))

    def _compact_if_full(self, run: RunState) -> Iterator[ev.Event]:
        if self.meter is not None and len(self.messages) > max(2, self.compacted_len) and self.meter.over_threshold(
                self.config.system_prompt, self.messages, run.tools):
            yield from self.compact(reason="threshold")

    def _stop_if_over_budget(self, run: RunState) -> None:
        budget = self.config.max_budget_usd
        if budget is not None and run.turns and self.ledger.usd >= budget:
            raise Stop("error_max_budget_usd", f"stopped: spent ${self.spent_usd():.4f} of the ${budget:.4f} budget")

    def _record(self, reply: Completed, run: RunState) -> Iterator[ev.Event]:
        run.turns += 1
        reply.message = valid_message(reply.message)
        self.messages.append(reply.message)
        self.bill(reply.usage)
        yield ev.AssistantMessage(reply.message, reply.message_id, reply.model or self.config.model,
                                  reply.stop_reason, reply.usage)
        yield ev.UsageUpdate(reply.usage, self.total_usage(), self.spent_usd())

    def _stop_if_out_of_turns(self, calls: list[ToolUseBlock], run: RunState) -> None:
        """At the turn limit the calls are answered, not run: the history stays well formed."""
        limit = self.config.max_turns
        if limit is None or run.turns < limit:
            return
        note = f"not run: the run reached its limit of {limit} turns"
        self.messages.append(Message("user", [ToolResultBlock(c.id, note, is_error=True) for c in calls]))
        raise Stop("error_max_turns", f"reached the maximum of {limit} turns", ev.ToolResults(self.messages[-1]))

    def _finished(self, stop: Stop, run: RunState) -> ev.RunFinished:
        return ev.RunFinished(
            subtype=stop.subtype, result=stop.result, session_id=self.session_id, num_turns=run.turns,
            duration_ms=int((time.monotonic() - run.started) * 1000), duration_api_ms=int(run.api_s * 1000),
            cost_usd=self.spent_usd(), usage=self.total_usage(), permission_denials=list(self.denials),
        )

    # -- request and record helpers (compaction uses them too) ------------------------------

    def system_as_sent(self) -> str:
        """The system prompt as sent: redacted, since memory files and --append-system-prompt
        are text ketch did not write (computed once per prompt text). The tool sources' status
        lines (MCP servers still starting or failed) go at its end while there are any."""
        prompt = self.config.system_prompt
        status = [line for source in self.sources if (line := source.status())]
        if status:
            prompt = prompt.rstrip("\n") + "\n\n" + "\n".join(status) + "\n"
        if self._system_cache[0] != prompt:
            self._system_cache = (prompt, self.redact(prompt))
        return self._system_cache[1]

    def offered_definitions(self) -> list[ToolDef]:
        """The tools sent with the next request: the built-in ones, then what each source offers now."""
        defs = [t.definition() for t in self.tools]
        for source in self.sources:
            defs += [t.definition() for t in source.offered()]
        return defs

    def find_tool(self, name: str) -> Tool | None:
        """The tool a call names: built-in first, then the sources (which may hold tools not offered yet)."""
        tool = self.dispatch.by_name.get(name)
        for source in self.sources:
            if tool is not None:
                break
            tool = source.find(name)
        return tool

    def bill_unfinished(self, tally: AttemptTally, request: ModelRequest) -> Iterator[ev.Event]:
        """Count an attempt that ended without a whole reply: the provider billed it all the same."""
        meter = self.meter or ContextMeter()
        usage = tally.settle(lambda: meter.estimate(request.system, request.messages, request.tools))
        if usage == Usage():
            return
        self.bill(usage)
        yield ev.UsageUpdate(usage, self.total_usage(), self.spent_usd())

    def bill(self, usage: Usage) -> None:  # a request's tokens: this agent's, and the session's spend
        self.usage.add(usage)
        self.ledger.add(self.cost_fn(usage))

    def spent_usd(self) -> float:
        """The session's cost: this agent's requests at its model's prices, plus its subagents' at theirs."""
        return self.cost_fn(self.usage) + self.children_usd

    def total_usage(self) -> Usage:
        """Tokens of this agent's requests and of its subagents' (the same object when it had none)."""
        total = Usage(**self.usage.as_dict()) if self.children_usage != Usage() else self.usage
        if total is not self.usage:
            total.add(self.children_usage)
        return total

    def add_child_spend(self, usage: Usage, usd: float) -> None:
        """A subagent's tokens and cost roll up into this agent's (from the child's thread)."""
        with self._spend_lock:
            self.children_usage.add(usage)
            self.children_usd += usd

    # -- what front ends may ask of a live agent --------------------------------------------

    def compact(self, focus: str | None = None, reason: str = "requested") -> Iterator[ev.Event]:
        """Replace old turns with a model-written summary (/compact, or the loop when full)."""
        return compaction.compact(self, focus, reason)

    def reset(self) -> None:
        """A new conversation (/clear, /resume): new session id, empty history, totals and tool
        state; the provider, tools, settings and approver stay."""
        from ketch.ids import uuid4

        self.session_id = uuid4()
        self.messages = []
        self.instructions = []
        self.state = self.state.fresh()  # the profile's rules stay (the small model's), the rest goes
        self.usage = Usage()
        self.children_usage, self.children_usd = Usage(), 0.0
        self.ledger = SpendLedger()
        self.denials = []
        self.compacted_len = 0
        self.dispatch.memory_seen = {self.config.workspace}  # the new conversation has seen no subfolder's AGENTS.md

    def interrupt(self) -> bool:
        """Stop the run from another thread: the loop and tools see `cancel`, and the reply
        being streamed is cut now (a stalled model would otherwise hold the read until its
        timeout). False when the run was already interrupted."""
        if self.cancel.is_set():
            return False
        self.cancel.set()
        self.provider.abort()
        for hook in list(self.on_interrupt):
            hook()
        return True

    def close(self) -> None:
        """End what the session holds open: the provider's connections, the sandbox's folder,
        the tool sources' servers."""
        self.provider.close()
        for source in self.sources:
            source.close()
        close_runner = getattr(self.runner, "close", None)
        if callable(close_runner):
            close_runner()

    def set_approver(self, approver: Approver) -> None:
        """Who answers what the gate cannot decide from now on (the REPL's permission question)."""
        self.approver = approver

    def switch_model(self, provider: Provider, *, model: str, provider_name: str, context_window: int,
                     max_tokens: int, cost_fn: CostFn) -> None:
        """Go on with another model (/model), keeping the conversation: it is provider-neutral.
        The old provider's connections are closed."""
        old = self.provider
        self.provider = provider
        self.config.model = model
        self.config.provider_name = provider_name
        self.config.context_window = context_window
        self.config.max_tokens = max_tokens
        self.cost_fn = cost_fn
        if self.meter is not None:
            self.meter.window = context_window
        try:
            old.close()
        except Exception:  # noqa: BLE001, S110 - a provider failing to close must not undo the switch
            pass

    def rewind(self, message_index: int, prompts_dropped: int) -> list[Message]:
        """Go back to before an earlier prompt (/rewind): the history up to `message_index` stays,
        and the last `prompts_dropped` instructions go with the turns they started."""
        del self.instructions[max(0, len(self.instructions) - prompts_dropped):]
        self.messages[:] = self.messages[:message_index]
        return list(self.messages)

    def memory_folders(self) -> set[Path]:
        """The folders whose AGENTS.md (or CLAUDE.md) the model has been given so far."""
        return set(self.dispatch.memory_seen)
