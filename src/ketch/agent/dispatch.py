"""One turn's tool calls: validate → gate → approver → checkpoint → run → results.

Each call is decided right after the one before it ran, so a symlink or checkout made by an
earlier call is on disk when the next path is checked; consecutive read-only calls change
nothing, so they are decided together and run in parallel. What the gate cannot decide goes
to the `Approver` (a person in the REPL, `refuse_all` headless). A tool may later open only
the paths the gate checked for its call (`ToolContext.check_opened`). Results are redacted,
get the instructions of subfolders the call touched, and are trimmed (`tool_output`).

The seam for tools that are not reads but may run beside them (the Task tool's child agents):
a tool with `parallel_safe = True` joins a batch of reads; while such a batch runs, the events
its tools emit reach the front end as they happen (`_run_live`), not after the batch. A tool with
`changes_files = True` takes the turn's undo snapshot as edits and commands do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ketch.agent import events as ev
from ketch.agent.approval import Approval, Approver, RefuseAll, refuse_all
from ketch.agent.permissions import Decision
from ketch.agent.prompt import nested_memory
from ketch.agent.tool_output import trim
from ketch.conversation import ToolResultBlock, ToolUseBlock, valid_text
from ketch.errors import SandboxUnavailable
from ketch.tools.base import RepairsInput, TargetsPaths, Tool, ToolContext, ToolError
from ketch.tools.paths import resolve as resolve_path
from ketch.tools.validate import validate as validate_input

if TYPE_CHECKING:
    from ketch.agent.hooks_seam import HookDecision
    from ketch.agent.loop import Agent

MAX_PARALLEL_READS = 8
__all__ = ["Approval", "Approver", "Dispatch", "RefuseAll", "refuse_all"]  # approvers live in approval.py


def _no_runner(argv: list[str], **kwargs: Any) -> Any:
    """Fail closed: an Agent built without a runner never starts processes unsandboxed."""
    raise SandboxUnavailable("no sandbox was configured for this session; commands cannot run")


@dataclass
class _Planned:
    """One tool call after validation and the permission decision, before it runs."""

    call: ToolUseBlock
    tool: Tool | None
    error: str | None = None
    paths: list[Path] = field(default_factory=list)  # canonical, as the gate checked them
    context: str = ""  # a PreToolUse hook's additionalContext, given with the result


@dataclass
class _Hooked:
    """PreToolUse's answer as `_plan` uses it: the call to decide and run, and the hooks' verdict."""

    call: ToolUseBlock
    decision: HookDecision | None
    reason: str
    context: str = ""


def _with_hook(decision: Decision, hook: HookDecision, reason: str, mode: str) -> tuple[Decision, Any]:
    """The gate's decision after a PreToolUse hook's: its allow only spares the question (a
    deny of any kind stands), its ask forces the question (a refusal where nobody may be asked)."""
    said = f": {reason}" if reason else ""
    if decision.verdict == "ask" and hook == "allow":
        return Decision("allow", f"allowed by a PreToolUse hook{said}"), "hook"
    if decision.verdict == "allow" and hook == "ask":
        if mode == "dontAsk":
            return Decision("deny", f"dontAsk mode: a PreToolUse hook asks for approval{said}"), "hook"
        return Decision("ask", f"a PreToolUse hook asks for approval{said}"), "hook"
    return decision, decision.source


class Dispatch:
    """The tool calls of an Agent's turns. It reads the agent's current fields each turn (the
    REPL resets the conversation, swaps the approver), and keeps what only calls need: the
    events tools emit while running, and the folders whose AGENTS.md the model has seen."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.by_name = {t.name: t for t in agent.tools}
        self.emitted: list[Any] = []  # events tools emit while running (TodoWrite)
        self.memory_seen: set[Path] = {agent.config.workspace}
        self.hook_stop: str | None = None  # a hook's `continue: false`: the loop ends the run after this turn

    def run(self, calls: list[ToolUseBlock]) -> Generator[Any, None, list[ToolResultBlock]]:
        """Decide and run the calls in order; return their results, in the order of the calls."""
        results: list[ToolResultBlock] = []
        self.emitted = []
        pending: Any = None
        mark = None
        i = 0
        try:
            while i < len(calls):
                if self.agent.cancel.is_set():
                    results += [ToolResultBlock(c.id, "not run: interrupted by the user", True) for c in calls[i:]]
                    return results
                batch: list[_Planned] = []
                while i < len(calls) and (not batch or self._is_read(calls[i])):
                    yield from self._plan_into(calls[i], batch)
                    i += 1
                    if not self._is_read(batch[-1].call) or batch[-1].tool is None:
                        break
                if pending is None and any(p.tool is not None and _changes_files(p.tool) for p in batch):
                    pending = self._begin_checkpoint(calls[i - len(batch):])
                    if isinstance(pending, ev.Notice):
                        yield pending
                        pending = False  # undo is off: do not try again this turn
                yield from self._run_batch(batch, results)
        finally:  # also on Ctrl-C: what an interrupted turn changed can still be undone
            if pending:
                mark = self.agent.checkpoints.finish(pending)
        if mark is not None:
            yield mark
        return results

    def call(self, call: ToolUseBlock, cancel: threading.Event) -> ToolResultBlock:
        """One call outside any turn (`ketch mcp serve`): the same validation, gate, approver,
        open-time checks, redaction and trimming as in a turn; `cancel` stops only this call.
        No undo snapshot is taken: there is no turn to undo."""
        batch: list[_Planned] = []
        for _ in self._plan_into(call, batch):
            pass  # the events are a turn's record; the caller gets the result alone
        planned = batch[0]
        ctx = self._context(planned)
        ctx.cancel, ctx.emit = cancel, lambda event: None
        return self._execute(planned, ctx)[0]

    # -- deciding ---------------------------------------------------------------------------

    def _plan(self, call: ToolUseBlock) -> Iterator[ev.Event | _Planned]:
        agent = self.agent
        yield ev.ToolCall(call.id, call.name, call.input)
        tool = agent.find_tool(call.name)
        if tool is None:
            known = ", ".join(sorted(d.name for d in agent.offered_definitions()))
            yield _Planned(call, None, f"unknown tool {call.name!r}; available tools: {known}")
            return
        if call.input_error:
            yield _Planned(call, None, f"invalid arguments for {call.name}: {call.input_error}. Send a JSON object matching the tool's schema.")
            return
        problem = validate_input(tool.definition().input_schema, call.input)
        if problem:
            yield _Planned(call, None, f"invalid arguments for {call.name}: {problem}")
            return
        if isinstance(tool, RepairsInput):  # a small model's slips undone before hooks, gate and preview judge it
            call = replace(call, input=tool.repair_input(call.input, self._context(), agent.config.gate.reads_freely))
        hook: _Hooked | None = None
        if agent.hooks is not None:  # PreToolUse: may refuse, rewrite the input, allow or force the question
            hooked = yield from self._pre_tool_hooks(call, tool)
            if isinstance(hooked, _Planned):
                yield hooked
                return
            hook, call = hooked, hooked.call
        try:
            paths = self._target_paths(tool, call.input)
        except (ToolError, OSError, ValueError) as exc:
            yield _Planned(call, None, str(exc))
            return
        try:
            decision = agent.config.gate.decide(call.name, tool.kind, call.input, paths, cwd=agent.state.bash_cwd)
        except Exception as exc:  # noqa: BLE001 - a check that breaks on some input refuses the call (fail closed)
            decision = Decision("deny", f"the permission check could not decide this call ({type(exc).__name__}); "
                                        "it was refused", "policy")
        allowed = decision.verdict == "allow"
        source: Literal["mode", "rule", "policy", "user", "headless", "hook"] = decision.source
        reason = decision.reason
        if hook is not None and hook.decision is not None:
            decision, source = _with_hook(decision, hook.decision, hook.reason, agent.config.gate.mode)
            allowed, reason = decision.verdict == "allow", decision.reason
        if decision.verdict == "ask" and agent.hooks is not None:  # PermissionRequest: hooks may answer for the person
            answered = agent.hooks.permission_request(call, decision.reason)
            yield from answered.events
            if answered.decision in ("allow", "deny"):
                allowed, source = answered.decision == "allow", "hook"
                reason = answered.reason or f"{answered.decision} by a PermissionRequest hook"
                decision = Decision(answered.decision, reason)
            elif not isinstance(agent.approver, RefuseAll):
                yield from agent.hooks.notify(f"ketch needs your permission to use {call.name}",
                                              "permission_prompt").events
        if decision.verdict == "ask":
            approver = agent.approver
            request = ev.PermissionRequest(call.id, call.name, call.input, decision.reason)
            if not isinstance(approver, RefuseAll):  # a person will read it: show the change itself
                from ketch.agent.permissions.change_preview import preview_change

                request.preview = preview_change(call.name, call.input, paths)
            yield request
            answer = approver(request)
            if not isinstance(answer, Approval):
                answer = Approval(bool(answer))
            allowed, source = answer.allowed, answer.source
            reason = decision.reason if not allowed else "allowed by the user"
            note = answer.note.strip()
            if note and not allowed:
                reason += f". The user's note: {note}"
        yield ev.PermissionDecision(call.id, call.name, allowed, reason, source)
        if not allowed:
            agent.denials.append(ev.Denial(call.name, call.id, call.input))
            who = "A hook" if source == "hook" else "The user"
            yield _Planned(call, None, f"permission denied: {reason}. {who} has not allowed this call; "
                                       "do not retry it another way.")
            return
        yield _Planned(call, tool, paths=paths, context=hook.context if hook is not None else "")

    def _pre_tool_hooks(self, call: ToolUseBlock, tool: Tool) -> Generator[ev.Event, None, _Hooked | _Planned]:
        """PreToolUse: the hooks' merged answer, with the call as the tool will get it (an
        `updatedInput` is checked against the schema again); a _Planned refusal when they deny."""
        assert self.agent.hooks is not None
        answer = self.agent.hooks.pre_tool(call)
        yield from answer.events
        if answer.stop is not None:
            self.hook_stop = answer.stop
        if answer.decision == "deny":
            reason = answer.reason or "a PreToolUse hook refused this call"
            yield ev.PermissionDecision(call.id, call.name, False, reason, "hook")
            self.agent.denials.append(ev.Denial(call.name, call.id, call.input))
            return _Planned(call, None, f"blocked by a PreToolUse hook: {reason}")
        if answer.updated_input is not None:
            problem = validate_input(tool.definition().input_schema, answer.updated_input)
            if problem:
                return _Planned(call, None, f"a PreToolUse hook rewrote the input of {call.name} into an invalid "
                                            f"one ({problem}); nothing was run")
            call = replace(call, input=answer.updated_input)  # the model's own message keeps what it sent
        return _Hooked(call, answer.decision, answer.reason, answer.context)

    def _target_paths(self, tool: Tool, tool_input: dict[str, Any]) -> list[Path]:
        """The files a call touches, resolved exactly as the tool will resolve them."""
        if isinstance(tool, TargetsPaths):
            return list(tool.paths(tool_input, self._context()))
        for key in ("file_path", "path"):
            if isinstance(tool_input.get(key), str) and tool_input[key]:
                return [resolve_path(tool_input[key], self.agent.config.workspace)]
        return []

    def _is_read(self, call: ToolUseBlock) -> bool:
        tool = self.agent.find_tool(call.name)
        return tool is not None and (tool.kind == "read" or getattr(tool, "parallel_safe", False))

    def _plan_into(self, call: ToolUseBlock, batch: list[_Planned]) -> Iterator[ev.Event]:
        for item in self._plan(call):
            if isinstance(item, _Planned):
                batch.append(item)
            else:
                yield item

    def _begin_checkpoint(self, rest: list[ToolUseBlock]) -> Any:
        """Snapshot for undo before the turn's first call that may change files; the snapshot
        names every call from there on that has a tool (some may yet be denied)."""
        agent = self.agent
        if agent.checkpoints is None:
            return None
        turn = sum(1 for m in agent.messages if m.role == "assistant")
        return agent.checkpoints.begin(agent.session_id, turn, len(agent.messages) - 1,
                                       [(c.name, c.input) for c in rest if agent.find_tool(c.name) is not None])

    # -- running ----------------------------------------------------------------------------

    def _context(self, planned: _Planned | None = None) -> ToolContext:
        agent = self.agent
        ctx = ToolContext(workspace=agent.config.workspace, state=agent.state,
                          runner=agent.runner or _no_runner, cancel=agent.cancel, emit=self.emitted.append)
        if planned is not None:
            ctx.check_opened = self._opened_checker(planned)
            ctx.call_id = planned.call.id
        return ctx

    def _opened_checker(self, planned: _Planned) -> Callable[[str, Path], None]:
        """The gate's verdict, held to at execution time: a tool may open only a path that was
        checked for this call, and the hard path policy runs again on what it opened."""
        approved = set(planned.paths)
        gate = self.agent.config.gate

        def check(kind: str, path: Path) -> None:
            if path not in approved:
                raise ToolError(f"{path} is not the path that was checked for this call "
                                f"({', '.join(map(str, approved)) or 'none'}): it changed (a symlink or rename) "
                                "between the permission check and the open. Nothing was done.")
            hard = gate.read_refusal(path) if kind == "read" else gate.path_policy(kind, [path])
            if hard is not None and hard.verdict == "deny":
                raise ToolError(f"permission denied: {hard.reason}")

        return check

    def _execute(self, planned: _Planned, ctx: ToolContext | None = None) -> tuple[ToolResultBlock, int]:
        t0 = time.monotonic()
        if planned.tool is None:  # a refusal may quote a hook's words: redacted like any result
            return ToolResultBlock(planned.call.id, valid_text(self.agent.redact(planned.error or "error")), True), 0
        ctx = ctx or self._context(planned)
        try:
            out = planned.tool.run(planned.call.input, ctx)
            content, is_error = out.content, out.is_error
        except ToolError as exc:
            content, is_error = str(exc), True
            if exc.tell_user:
                ctx.emit(ev.Notice(str(exc)))
        except Exception as exc:  # noqa: BLE001 - a tool bug must not kill the session; the model sees it
            content, is_error = f"internal error in {planned.call.name}: {type(exc).__name__}: {exc}", True
        if not is_error:
            content += self._nested_memory(planned)
        config = self.agent.config
        content = trim(valid_text(self.agent.redact(content)), planned.call.id, config.tool_result_chars,
                       config.outputs_dir)
        return ToolResultBlock(planned.call.id, content, is_error), int((time.monotonic() - t0) * 1000)

    def _nested_memory(self, planned: _Planned) -> str:
        """Instructions of subfolders the call touched (the paths the gate checked), once per folder."""
        workspace = self.agent.config.workspace
        notes = []
        for path in planned.paths:
            for source, text in nested_memory(path, workspace, self.memory_seen):
                rel = source.relative_to(workspace)
                notes.append(f"\n\n<project-instructions source=\"{rel}\">\n{text}\n</project-instructions>")
        return "".join(notes)

    def _run_batch(self, batch: list[_Planned], results: list[ToolResultBlock]) -> Iterator[Any]:
        if any(getattr(p.tool, "parallel_safe", False) for p in batch):
            outcomes = yield from self._run_live(batch)
        elif len(batch) > 1:
            from concurrent.futures import ThreadPoolExecutor  # only parallel reads need it (~1 ms to import)

            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(batch))) as pool:
                outcomes = list(pool.map(self._execute, batch))
        else:
            outcomes = [self._execute(batch[0])]
        for plan, (block, ms) in zip(batch, outcomes):
            if self.agent.hooks is not None and plan.tool is not None:
                block = yield from self._post_tool_hooks(plan.call, block, plan.context)
            results.append(block)
            yield from self._drain_emitted()
            yield ev.ToolFinished(block.tool_use_id, plan.call.name, block.content, block.is_error, ms)

    def _post_tool_hooks(self, call: ToolUseBlock, block: ToolResultBlock,
                         before: str) -> Generator[Any, None, ToolResultBlock]:
        """PostToolUse: what the hooks want the model to know about the result goes after it, with
        `before`, what PreToolUse's hooks added (their additionalContext)."""
        assert self.agent.hooks is not None
        answer = self.agent.hooks.post_tool(call, block)
        yield from answer.events
        if answer.stop is not None:
            self.hook_stop = answer.stop
        content = block.content
        for tag, notes in (("pre", [before]), ("post", [answer.reason if answer.block else "", answer.context])):
            if text := "\n".join(n for n in notes if n):
                content += f"\n\n<{tag}-tool-use-hook>\n{valid_text(self.agent.redact(text))}\n</{tag}-tool-use-hook>"
        return block if content == block.content else replace(block, content=content)

    def _drain_emitted(self) -> Iterator[Any]:
        while self.emitted:
            yield self.emitted.pop(0)

    def _run_live(self, batch: list[_Planned]) -> Generator[Any, None, list[tuple[ToolResultBlock, int]]]:
        """Run the batch in threads, passing on what its tools emit as it comes (a subagent's
        progress). On an interruption of this thread (Ctrl-C headless) the running tools are
        told to stop (`Agent.on_interrupt`) before the pool is waited for."""
        import queue
        from concurrent.futures import ThreadPoolExecutor

        live: queue.SimpleQueue[Any] = queue.SimpleQueue()
        done = object()

        def work(planned: _Planned) -> tuple[ToolResultBlock, int]:
            ctx = self._context(planned)
            ctx.emit = live.put
            try:
                return self._execute(planned, ctx)
            finally:
                live.put(done)

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(batch))) as pool:
            futures = [pool.submit(work, planned) for planned in batch]
            try:
                remaining = len(batch)
                while remaining:
                    item = live.get()
                    if item is done:
                        remaining -= 1
                    else:
                        yield item
            except BaseException:
                self.agent.cancel.set()
                for hook in list(self.agent.on_interrupt):
                    hook()
                raise
        return [f.result() for f in futures]


def _changes_files(tool: Tool) -> bool:
    return tool.kind in ("edit", "execute") or bool(getattr(tool, "changes_files", False))
