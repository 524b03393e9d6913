"""The agent loop: ask the model, run the tools it calls, repeat until it answers.

The message list is the trajectory. `Agent.run` is a generator of events; it never
prints. Everything a tool call may do is decided by the permission gate first, and
the person (or headless policy) behind the `Approver` answers what the gate cannot.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ketch.agent import events as ev
from ketch.agent.permissions import PermissionGate
from ketch.conversation import (
    Message, ModelRequest, TextBlock, ToolResultBlock, ToolUseBlock, Usage,
)
from ketch.providers.base import Completed, Provider, ProviderError, Retrying
from ketch.providers.base import TextDelta as PTextDelta
from ketch.providers.base import ThinkingDelta as PThinkingDelta
from ketch.tools.base import SessionState, Tool, ToolContext, ToolError
from ketch.tools.paths import resolve as resolve_path
from ketch.tools.validate import validate as validate_input

Approver = Callable[[ev.PermissionRequest], bool]
CostFn = Callable[[Usage], float]

MAX_PARALLEL_READS = 8


def _no_runner(argv: list[str], **kwargs: Any) -> Any:
    """Fail closed: an Agent built without a runner never starts processes unsandboxed."""
    from ketch.security.sandbox import SandboxUnavailable

    raise SandboxUnavailable("no sandbox was configured for this session; commands cannot run")


def refuse_all(request: ev.PermissionRequest) -> bool:
    """Headless policy: whatever would need a person is refused."""
    return False


@dataclass
class AgentConfig:
    model: str
    provider_name: str
    system_prompt: str
    workspace: Path
    gate: PermissionGate
    max_turns: int | None = None
    max_tokens: int = 8192
    sandbox: str = "bubblewrap"  # or "off": the user's explicit opt-out, recorded in the transcript
    notices: list[str] = field(default_factory=list)  # settings that were not applied, and why


@dataclass
class _Planned:
    """One tool call after validation and the permission decision, before it runs."""

    call: ToolUseBlock
    tool: Tool | None
    error: str | None = None


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
    messages: list[Message] = field(default_factory=list)
    state: SessionState = field(default_factory=SessionState)
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for t in self.tools}
        self.usage = Usage()
        self.denials: list[ev.Denial] = []
        self._emitted: list[Any] = []  # events tools emit while running (TodoWrite)

    def started_event(self) -> ev.SessionStarted:
        return ev.SessionStarted(
            session_id=self.session_id, model=self.config.model, provider=self.config.provider_name,
            cwd=str(self.config.workspace), tools=[t.name for t in self.tools],
            permission_mode=self.config.gate.mode, sandbox=self.config.sandbox,
            notices=list(self.config.notices),
        )

    # -- the loop ---------------------------------------------------------------------------

    def run(self, prompt: str) -> Iterator[ev.Event]:
        started = time.monotonic()
        api_s = 0.0
        turns = 0
        self.messages.append(Message("user", [TextBlock(prompt)]))
        yield ev.UserPrompt(prompt)
        request_tools = [t.definition() for t in self.tools]

        def finish(subtype: ev.Subtype, result: str) -> ev.RunFinished:
            return ev.RunFinished(
                subtype=subtype, result=result, session_id=self.session_id, num_turns=turns,
                duration_ms=int((time.monotonic() - started) * 1000), duration_api_ms=int(api_s * 1000),
                cost_usd=self.cost_fn(self.usage), usage=self.usage, permission_denials=list(self.denials),
            )

        while True:
            request = ModelRequest(
                model=self.config.model, system=self.config.system_prompt, messages=self.messages,
                tools=request_tools, max_tokens=self.config.max_tokens,
            )
            t0 = time.monotonic()
            completed: Completed | None = None
            try:
                for item in self.provider.stream(request):
                    if isinstance(item, PTextDelta):
                        yield ev.TextDelta(item.text)
                    elif isinstance(item, PThinkingDelta):
                        yield ev.ThinkingDelta(item.text)
                    elif isinstance(item, Retrying):
                        yield ev.Retry(item.attempt, item.delay_s, item.reason)
                    elif isinstance(item, Completed):
                        completed = item
                    if self.cancel.is_set():
                        break
            except ProviderError as exc:
                api_s += time.monotonic() - t0
                yield ev.Error(str(exc), kind=exc.kind)
                yield finish("error_during_execution", str(exc))
                return
            api_s += time.monotonic() - t0
            if self.cancel.is_set():
                yield finish("interrupted", "interrupted")
                return
            if completed is None:
                message = "the model's stream ended without a complete reply"
                yield ev.Error(message, kind="malformed")
                yield finish("error_during_execution", message)
                return

            turns += 1
            self.messages.append(completed.message)
            self.usage.add(completed.usage)
            yield ev.AssistantMessage(completed.message, completed.message_id, completed.model or self.config.model,
                                      completed.stop_reason, completed.usage)
            yield ev.UsageUpdate(completed.usage, self.usage, self.cost_fn(self.usage))

            calls = completed.message.tool_uses()
            if not calls:
                yield finish("success", completed.message.text())
                return
            if self.config.max_turns is not None and turns >= self.config.max_turns:
                note = f"not run: the run reached its limit of {self.config.max_turns} turns"
                blocks = [ToolResultBlock(c.id, note, is_error=True) for c in calls]
                self.messages.append(Message("user", list(blocks)))
                yield ev.ToolResults(self.messages[-1])
                yield finish("error_max_turns", f"reached the maximum of {self.config.max_turns} turns")
                return

            results: list[ToolResultBlock] = []
            yield from self._run_tools(calls, results)
            self.messages.append(Message("user", list(results)))
            yield ev.ToolResults(self.messages[-1])
            if self.cancel.is_set():
                yield finish("interrupted", "interrupted")
                return

    # -- tools ------------------------------------------------------------------------------

    def _plan(self, call: ToolUseBlock) -> Iterator[ev.Event | _Planned]:
        yield ev.ToolCall(call.id, call.name, call.input)
        tool = self._by_name.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._by_name))
            yield _Planned(call, None, f"unknown tool {call.name!r}; available tools: {known}")
            return
        if call.input_error:
            yield _Planned(call, None, f"invalid arguments for {call.name}: {call.input_error}. Send a JSON object matching the tool's schema.")
            return
        problem = validate_input(tool.definition().input_schema, call.input)
        if problem:
            yield _Planned(call, None, f"invalid arguments for {call.name}: {problem}")
            return
        try:
            paths = self._target_paths(tool, call.input)
        except (ToolError, OSError, ValueError) as exc:
            yield _Planned(call, None, str(exc))
            return
        decision = self.config.gate.decide(call.name, tool.kind, call.input, paths)
        allowed = decision.verdict == "allow"
        source = decision.source
        reason = decision.reason
        if decision.verdict == "ask":
            request = ev.PermissionRequest(call.id, call.name, call.input, decision.reason)
            yield request
            allowed = bool(self.approver(request))
            source = "headless" if self.approver is refuse_all else "user"
            reason = decision.reason if not allowed else "allowed by the user"
        yield ev.PermissionDecision(call.id, call.name, allowed, reason, source)
        if not allowed:
            self.denials.append(ev.Denial(call.name, call.id, call.input))
            yield _Planned(call, None, f"permission denied: {reason}. The user has not allowed this call; do not retry it another way.")
            return
        yield _Planned(call, tool)

    def _target_paths(self, tool: Tool, tool_input: dict[str, Any]) -> list[Path]:
        """The files a call touches, resolved exactly as the tool will resolve them."""
        if hasattr(tool, "paths"):
            return list(tool.paths(tool_input, self._context()))  # type: ignore[attr-defined]
        for key in ("file_path", "path"):
            if isinstance(tool_input.get(key), str) and tool_input[key]:
                return [resolve_path(tool_input[key], self.config.workspace)]
        return []

    def _context(self) -> ToolContext:
        return ToolContext(workspace=self.config.workspace, state=self.state,
                           runner=self.runner or _no_runner, cancel=self.cancel, emit=self._emitted.append)

    def _execute(self, planned: _Planned) -> tuple[ToolResultBlock, int]:
        t0 = time.monotonic()
        if planned.tool is None:
            return ToolResultBlock(planned.call.id, planned.error or "error", is_error=True), 0
        try:
            out = planned.tool.run(planned.call.input, self._context())
            content, is_error = out.content, out.is_error
        except ToolError as exc:
            content, is_error = str(exc), True
            if getattr(exc, "tell_user", False):
                self._emitted.append(ev.Notice(str(exc)))
        except Exception as exc:  # a tool bug must not kill the session; the model sees it
            content, is_error = f"internal error in {planned.call.name}: {type(exc).__name__}: {exc}", True
        return ToolResultBlock(planned.call.id, self.redact(content), is_error), int((time.monotonic() - t0) * 1000)

    def _run_tools(self, calls: list[ToolUseBlock], results: list[ToolResultBlock]) -> Iterator[ev.Event]:
        self._emitted = []
        plans: list[_Planned] = []
        for call in calls:
            for item in self._plan(call):
                if isinstance(item, _Planned):
                    plans.append(item)
                else:
                    yield item
        # Consecutive allowed read-only calls run together; everything else in order.
        i = 0
        while i < len(plans):
            if self.cancel.is_set():
                for p in plans[i:]:
                    results.append(ToolResultBlock(p.call.id, "not run: interrupted by the user", True))
                return
            j = i + 1
            if plans[i].tool is not None and plans[i].tool.kind == "read":
                while j < len(plans) and plans[j].tool is not None and plans[j].tool.kind == "read":
                    j += 1
            batch = plans[i:j]
            if len(batch) > 1:
                with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(batch))) as pool:
                    outcomes = list(pool.map(self._execute, batch))
            else:
                outcomes = [self._execute(batch[0])]
            for plan, (block, ms) in zip(batch, outcomes):
                results.append(block)
                yield from self._drain_emitted()
                yield ev.ToolResult(block.tool_use_id, plan.call.name, block.content, block.is_error, ms)
            i = j

    def _drain_emitted(self) -> Iterator[Any]:
        while self._emitted:
            yield self._emitted.pop(0)
