"""The agent loop: ask the model, run the tools it calls, repeat until it answers.

The message list is the trajectory. `Agent.run` is a generator of events; it never
prints. Everything a tool call may do is decided by the permission gate first, and
the person (or headless policy) behind the `Approver` answers what the gate cannot.
"""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ketch.agent import events as ev
from ketch.agent.billing import AttemptTally
from ketch.agent.compaction import DEFAULT_THRESHOLD, DEFAULT_WINDOW, ContextMeter, compacted_history, summary_request
from ketch.agent.permissions import PermissionGate
from ketch.agent.prompt import nested_memory
from ketch.conversation import (
    Message, ModelRequest, TextBlock, ToolResultBlock, ToolUseBlock, Usage, valid_message, valid_text,
)
from ketch.providers.base import Completed, Provider, ProviderError, Retrying
from ketch.providers.base import TextDelta as PTextDelta
from ketch.providers.base import ThinkingDelta as PThinkingDelta
from ketch.tools.base import SessionState, Tool, ToolContext, ToolError
from ketch.tools.paths import resolve as resolve_path
from ketch.tools.validate import validate as validate_input

@dataclass
class Approval:
    """An approver's richer answer: allowed or not, plus what the person wants the model to know.

    Approvers may still return a plain bool; `bool(Approval)` is `allowed`.
    """

    allowed: bool
    note: str = ""

    def __bool__(self) -> bool:
        return self.allowed


Approver = Callable[[ev.PermissionRequest], "bool | Approval"]
CostFn = Callable[[Usage], float]

MAX_PARALLEL_READS = 8


def _no_runner(argv: list[str], **kwargs: Any) -> Any:
    """Fail closed: an Agent built without a runner never starts processes unsandboxed."""
    from ketch.errors import SandboxUnavailable

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
class _Planned:
    """One tool call after validation and the permission decision, before it runs."""

    call: ToolUseBlock
    tool: Tool | None
    error: str | None = None
    paths: list[Path] = field(default_factory=list)  # canonical, as the gate checked them


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
    messages: list[Message] = field(default_factory=list)
    state: SessionState = field(default_factory=SessionState)
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for t in self.tools}
        self.usage = Usage()
        self.denials: list[ev.Denial] = []
        self._emitted: list[Any] = []  # events tools emit while running (TodoWrite)
        self._compacted_len = 0
        self.instructions: list[str] = []  # every prompt the user gave; survives compaction verbatim
        self.meter = ContextMeter(self.config.context_window, self.config.autocompact_threshold) \
            if self.config.autocompact_threshold else None
        self._system_cache: tuple[str | None, str] = (None, "")
        self._memory_seen: set[Path] = {self.config.workspace}  # folders whose AGENTS.md the model has

    def started_event(self) -> ev.SessionStarted:
        return ev.SessionStarted(
            session_id=self.session_id, model=self.config.model, provider=self.config.provider_name,
            cwd=str(self.config.workspace), tools=[t.name for t in self.tools],
            permission_mode=self.config.gate.mode, sandbox=self.config.sandbox,
            notices=list(self.config.notices), api_key_source=self.config.api_key_source,
            context_window=self.config.context_window,
        )

    # -- the loop ---------------------------------------------------------------------------

    def run(self, prompt: str) -> Iterator[ev.Event]:
        started = time.monotonic()
        api_s = 0.0
        turns = 0
        prompt = valid_text(self.redact(prompt))  # every byte sent to a provider is redacted (DESIGN.md §5.7)
        if self.messages and self.messages[-1].role == "user":
            # A resumed session that ended on the user's side (an unanswered prompt, or results
            # of calls a crash cut short): join that turn, so roles alternate for strict servers.
            self.messages[-1] = Message("user", [*self.messages[-1].content, TextBlock(prompt)])
        else:
            self.messages.append(Message("user", [TextBlock(prompt)]))
        self.instructions.append(prompt)
        yield ev.UserPrompt(prompt)
        request_tools = [t.definition() for t in self.tools]

        def finish(subtype: ev.Subtype, result: str) -> ev.RunFinished:
            return ev.RunFinished(
                subtype=subtype, result=result, session_id=self.session_id, num_turns=turns,
                duration_ms=int((time.monotonic() - started) * 1000), duration_api_ms=int(api_s * 1000),
                cost_usd=self.cost_fn(self.usage), usage=self.usage, permission_denials=list(self.denials),
            )

        overflow_retried = False
        while True:
            if self.meter is not None and len(self.messages) > max(2, self._compacted_len) and self.meter.over_threshold(
                    self.config.system_prompt, self.messages, request_tools):
                yield from self.compact(reason="threshold")
            budget = self.config.max_budget_usd
            if budget is not None and turns and self.cost_fn(self.usage) >= budget:
                yield finish("error_max_budget_usd",
                             f"stopped: spent ${self.cost_fn(self.usage):.4f} of the ${budget:.4f} budget")
                return
            request = ModelRequest(
                model=self.config.model, system=self._system(), messages=self.messages,
                tools=request_tools, max_tokens=self.config.max_tokens, cache_key=self.session_id,
            )
            t0 = time.monotonic()
            completed: Completed | None = None
            partial: list[str] = []  # streamed text, kept if the user interrupts mid-reply
            tally = AttemptTally()  # what an attempt that never completes was billed
            try:
                for item in self.provider.stream(request):
                    tally.observe(item)
                    if isinstance(item, PTextDelta):
                        partial.append(valid_text(item.text))
                        yield ev.TextDelta(partial[-1])
                    elif isinstance(item, PThinkingDelta):
                        yield ev.ThinkingDelta(valid_text(item.text))
                    elif isinstance(item, Retrying):
                        if self.cancel.is_set():
                            break  # the resend is the front end's abort: keep what was streamed
                        yield from self._bill_unfinished(tally, request)
                        partial.clear()
                        yield ev.Retry(item.attempt, item.delay_s, item.reason)
                    elif isinstance(item, Completed):
                        completed = item
                        tally.reset()
                    if self.cancel.is_set():
                        break
            except ProviderError as exc:
                api_s += time.monotonic() - t0
                yield from self._bill_unfinished(tally, request)
                if self.cancel.is_set():  # the front end closed the stream to interrupt it
                    yield from self._keep_partial(partial)
                    yield finish("interrupted", "interrupted")
                    return
                if exc.kind == "context_length" and self.meter is not None and not overflow_retried \
                        and len(self.messages) > 2:
                    overflow_retried = True  # the window is smaller than we thought: compact once, resend
                    yield from self.compact(reason="the provider said the context is too long")
                    continue
                yield ev.Error(str(exc), kind=exc.kind)
                yield finish("error_during_execution", str(exc))
                return
            api_s += time.monotonic() - t0
            if self.cancel.is_set():
                if completed is None:
                    yield from self._bill_unfinished(tally, request)
                    yield from self._keep_partial(partial)
                yield finish("interrupted", "interrupted")
                return
            if completed is None:
                message = "the model's stream ended without a complete reply"
                yield ev.Error(message, kind="malformed")
                yield finish("error_during_execution", message)
                return

            turns += 1
            if self.meter is not None:
                self.meter.observe(request, completed.usage)
            completed.message = valid_message(completed.message)
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

    def _system(self) -> str:
        """The system prompt as sent: redacted, since memory files and --append-system-prompt
        are text ketch did not write (computed once per prompt text)."""
        if self._system_cache[0] != self.config.system_prompt:
            self._system_cache = (self.config.system_prompt, self.redact(self.config.system_prompt))
        return self._system_cache[1]

    def _bill_unfinished(self, tally: AttemptTally, request: ModelRequest) -> Iterator[ev.Event]:
        """Count an attempt that ended without a whole reply: the provider billed it all the same."""
        meter = self.meter or ContextMeter()
        usage = tally.settle(lambda: meter.estimate(request.system, request.messages, request.tools))
        if usage == Usage():
            return
        self.usage.add(usage)
        yield ev.UsageUpdate(usage, self.usage, self.cost_fn(self.usage))

    def _keep_partial(self, partial: list[str]) -> Iterator[ev.Event]:
        """An interrupted reply's text stays in the conversation (and transcript), marked as cut."""
        text = "".join(partial)
        if not text.strip():
            return
        message = Message("assistant", [TextBlock(text + "\n\n[interrupted by the user]")])
        self.messages.append(message)
        yield ev.AssistantMessage(message, "", self.config.model, "interrupted", Usage())

    # -- context ----------------------------------------------------------------------------

    def compact(self, focus: str | None = None, reason: str = "requested") -> Iterator[ev.Event]:
        """Replace old turns with a model-written summary (one visible request, its cost counted)."""
        assert self.meter is not None
        tools = [t.definition() for t in self.tools]
        before = self.meter.estimate(self.config.system_prompt, self.messages, tools)
        yield ev.Compacting(tokens_before=before, reason=reason)
        request = summary_request(self.config.model, self._system(), self.messages,
                                  self.config.max_tokens, focus)
        summary = ""
        tally = AttemptTally()
        try:
            for item in self.provider.stream(request):
                tally.observe(item)
                if isinstance(item, Retrying):
                    yield from self._bill_unfinished(tally, request)
                    yield ev.Retry(item.attempt, item.delay_s, item.reason)
                elif isinstance(item, Completed):
                    summary = item.message.text()
                    self.usage.add(item.usage)
                    tally.reset()
        except ProviderError as exc:
            yield from self._bill_unfinished(tally, request)
            yield ev.Error(f"compaction failed, the conversation is unchanged: {exc}", kind="compaction")
            return
        if not summary.strip():
            yield ev.Error("compaction failed: the model wrote an empty summary", kind="compaction")
            return
        self.messages[:] = compacted_history(
            self.messages, summary, instructions=self.instructions, todos=list(self.state.todos),
            files=sorted(self.state.read_files), transcript=self.config.transcript_path,
        )
        self._compacted_len = len(self.messages)  # not again until the history has grown
        after = self.meter.estimate(self.config.system_prompt, self.messages, tools)
        yield ev.Compacted(summary=summary, tokens_before=before, tokens_after=after, messages=list(self.messages))

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
        decision = self.config.gate.decide(call.name, tool.kind, call.input, paths, cwd=self.state.bash_cwd)
        allowed = decision.verdict == "allow"
        source = decision.source
        reason = decision.reason
        if decision.verdict == "ask":
            request = ev.PermissionRequest(call.id, call.name, call.input, decision.reason)
            if self.approver is not refuse_all:  # a person will read it: show the change itself
                from ketch.agent.permissions.change_preview import preview_change

                request.preview = preview_change(call.name, call.input, paths)
            yield request
            answer = self.approver(request)
            allowed = bool(answer)
            note = str(getattr(answer, "note", "") or "").strip()
            source = "headless" if self.approver is refuse_all else "user"
            reason = decision.reason if not allowed else "allowed by the user"
            if note and not allowed:
                reason += f". The user's note: {note}"
        yield ev.PermissionDecision(call.id, call.name, allowed, reason, source)
        if not allowed:
            self.denials.append(ev.Denial(call.name, call.id, call.input))
            yield _Planned(call, None, f"permission denied: {reason}. The user has not allowed this call; do not retry it another way.")
            return
        yield _Planned(call, tool, paths=paths)

    def _target_paths(self, tool: Tool, tool_input: dict[str, Any]) -> list[Path]:
        """The files a call touches, resolved exactly as the tool will resolve them."""
        if hasattr(tool, "paths"):
            return list(tool.paths(tool_input, self._context()))  # type: ignore[attr-defined]
        for key in ("file_path", "path"):
            if isinstance(tool_input.get(key), str) and tool_input[key]:
                return [resolve_path(tool_input[key], self.config.workspace)]
        return []

    def _context(self, planned: _Planned | None = None) -> ToolContext:
        ctx = ToolContext(workspace=self.config.workspace, state=self.state,
                          runner=self.runner or _no_runner, cancel=self.cancel, emit=self._emitted.append)
        if planned is not None:
            ctx.check_opened = self._opened_checker(planned)
        return ctx

    def _opened_checker(self, planned: _Planned) -> Callable[[str, Path], None]:
        """The gate's verdict, held to at execution time: a tool may open only a path that was
        checked for this call, and the hard path policy runs again on what it opened."""
        approved = set(planned.paths)
        gate = self.config.gate

        def check(kind: str, path: Path) -> None:
            if path not in approved:
                raise ToolError(f"{path} is not the path that was checked for this call "
                                f"({', '.join(map(str, approved)) or 'none'}): it changed (a symlink or rename) "
                                "between the permission check and the open. Nothing was done.")
            hard = gate.path_policy(kind, [path])
            if hard is not None and hard.verdict == "deny":
                raise ToolError(f"permission denied: {hard.reason}")

        return check

    def _execute(self, planned: _Planned) -> tuple[ToolResultBlock, int]:
        t0 = time.monotonic()
        if planned.tool is None:
            return ToolResultBlock(planned.call.id, planned.error or "error", is_error=True), 0
        try:
            out = planned.tool.run(planned.call.input, self._context(planned))
            content, is_error = out.content, out.is_error
        except ToolError as exc:
            content, is_error = str(exc), True
            if getattr(exc, "tell_user", False):
                self._emitted.append(ev.Notice(str(exc)))
        except Exception as exc:  # a tool bug must not kill the session; the model sees it
            content, is_error = f"internal error in {planned.call.name}: {type(exc).__name__}: {exc}", True
        if not is_error:
            content += self._nested_memory(planned)
        content = self._trim(planned.call.id, valid_text(self.redact(content)))
        return ToolResultBlock(planned.call.id, content, is_error), int((time.monotonic() - t0) * 1000)

    def _trim(self, tool_use_id: str, content: str) -> str:
        """Head and tail of a long result; the whole of it goes to a file the model can Read."""
        limit = self.config.tool_result_chars
        if len(content) <= limit:
            return content
        where = "it was not kept"
        if self.config.outputs_dir is not None:
            try:
                self.config.outputs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                path = self.config.outputs_dir / f"{re.sub(r'[^A-Za-z0-9_-]', '_', tool_use_id)}.txt"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(content)
                where = f"the full output is in {path} (Read it with offset and limit)"
            except OSError as exc:
                where = f"it could not be kept: {exc.strerror or exc}"
        head, tail = limit * 2 // 5, limit * 3 // 5
        cut = content[head : len(content) - tail]
        note = f"\n\n[... {len(cut)} characters ({cut.count(chr(10))} lines) cut from the middle; {where} ...]\n\n"
        return content[:head] + note + content[len(content) - tail :]

    def _nested_memory(self, planned: _Planned) -> str:
        """Instructions of subfolders the call touched (the paths the gate checked), once per folder."""
        notes = []
        for path in planned.paths:
            for source, text in nested_memory(path, self.config.workspace, self._memory_seen):
                rel = source.relative_to(self.config.workspace)
                notes.append(f"\n\n<project-instructions source=\"{rel}\">\n{text}\n</project-instructions>")
        return "".join(notes)

    def _run_tools(self, calls: list[ToolUseBlock], results: list[ToolResultBlock]) -> Iterator[ev.Event]:
        """Decide and run the calls in order, each decided after the one before it ran: a
        symlink or checkout made by an earlier call is on disk when the next path is checked.
        Consecutive read-only calls change nothing, so they are decided together and run in
        parallel."""
        self._emitted = []
        pending: Any = None
        mark = None
        i = 0
        try:
            while i < len(calls):
                if self.cancel.is_set():
                    results += [ToolResultBlock(c.id, "not run: interrupted by the user", True) for c in calls[i:]]
                    return
                batch: list[_Planned] = []
                while i < len(calls) and (not batch or self._is_read(calls[i])):
                    yield from self._plan_into(calls[i], batch)
                    i += 1
                    if not self._is_read(batch[-1].call) or batch[-1].tool is None:
                        break
                if pending is None and any(p.tool is not None and p.tool.kind in ("edit", "execute") for p in batch):
                    pending = self._begin_checkpoint(calls[i - len(batch):])
                    if isinstance(pending, ev.Notice):
                        yield pending
                        pending = False  # undo is off: do not try again this turn
                yield from self._run_batch(batch, results)
        finally:  # also on Ctrl-C: what an interrupted turn changed can still be undone
            if pending:
                mark = self.checkpoints.finish(pending)
        if mark is not None:
            yield mark

    def _is_read(self, call: ToolUseBlock) -> bool:
        tool = self._by_name.get(call.name)
        return tool is not None and tool.kind == "read"

    def _plan_into(self, call: ToolUseBlock, batch: list[_Planned]) -> Iterator[ev.Event]:
        for item in self._plan(call):
            if isinstance(item, _Planned):
                batch.append(item)
            else:
                yield item

    def _run_batch(self, batch: list[_Planned], results: list[ToolResultBlock]) -> Iterator[ev.Event]:
        if len(batch) > 1:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(batch))) as pool:
                outcomes = list(pool.map(self._execute, batch))
        else:
            outcomes = [self._execute(batch[0])]
        for plan, (block, ms) in zip(batch, outcomes):
            results.append(block)
            yield from self._drain_emitted()
            yield ev.ToolResult(block.tool_use_id, plan.call.name, block.content, block.is_error, ms)

    def _begin_checkpoint(self, rest: list[ToolUseBlock]) -> Any:
        """Snapshot for undo before the turn's first call that may change files; the snapshot
        names every call from there on that has a tool (some may yet be denied)."""
        if self.checkpoints is None:
            return None
        turn = sum(1 for m in self.messages if m.role == "assistant")
        return self.checkpoints.begin(self.session_id, turn, len(self.messages) - 1,
                                      [(c.name, c.input) for c in rest if c.name in self._by_name])

    def _drain_emitted(self) -> Iterator[Any]:
        while self._emitted:
            yield self._emitted.pop(0)
