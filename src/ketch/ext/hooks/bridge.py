"""The loop's `LoopHooks`, answered by running Claude Code hooks (config → runner → outcome).

Each call builds the JSON Claude Code sends for that event, runs the matching hooks in
parallel, and turns what they said into one `HookAnswer` plus the events a front end shows
(`HookRan` per process; a `Notice` per error, timeout or `systemMessage`, escaped for the terminal).
The front ends call `session_start`, `session_end` and `notify` through the same object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ketch.agent import events as ev
from ketch.agent.hooks_seam import HookAnswer, HookRan
from ketch.conversation import ToolResultBlock, ToolUseBlock
from ketch.ext.hooks.config import MATCHED, HookSet
from ketch.ext.hooks.outcome import Parsed, merge, parse
from ketch.ext.hooks.runner import Finished, hook_env, run_all


class HookBridge:
    """Bound to one Agent (its session id, transcript and mode are read at each event)."""

    def __init__(self, hooks: HookSet, agent: Any) -> None:
        self.hooks = hooks
        self.agent = agent
        self.workspace = Path(agent.config.workspace)
        self._env: dict[str, str] | None = None
        self.pending_context: list[str] = []  # SessionStart's, given with the next prompt
        self.subagent: str | None = None  # set on a Task child's bridge: its Stop is SubagentStop

    def for_child(self, child: Any, name: str) -> HookBridge:
        """The same hooks for a Task call's child agent: its tool calls meet PreToolUse and the rest
        as the parent's do (a Task call must not be a way around a hook that refuses something),
        in the parent's session, as Claude Code reports them; its end fires SubagentStop, and it
        submits no prompts (the Task prompt is the parent model's, not the person's)."""
        bridge = HookBridge(self.hooks, self.agent)
        bridge.subagent = name
        return bridge

    # -- the loop's seam --------------------------------------------------------------------

    def pre_tool(self, call: ToolUseBlock, /) -> HookAnswer:
        return self._fire("PreToolUse", call.name, tool_name=call.name, tool_input=call.input, tool_use_id=call.id)

    def post_tool(self, call: ToolUseBlock, result: ToolResultBlock, /) -> HookAnswer:
        response: dict[str, Any] = {"content": result.content, "is_error": result.is_error,
                                    "success": not result.is_error}
        if isinstance(call.input.get("file_path"), str):
            response["filePath"] = call.input["file_path"]
        return self._fire("PostToolUse", call.name, tool_name=call.name, tool_input=call.input,
                          tool_response=response, tool_use_id=call.id)

    def permission_request(self, call: ToolUseBlock, reason: str, /) -> HookAnswer:
        return self._fire("PermissionRequest", call.name, tool_name=call.name, tool_input=call.input,
                          tool_use_id=call.id, reason=reason)

    def notify(self, message: str, kind: str, /) -> HookAnswer:
        return self._fire("Notification", kind, message=message, notification_type=kind)

    def prompt_submit(self, prompt: str, /) -> HookAnswer:
        if self.subagent is not None:
            return HookAnswer()  # the parent model's Task prompt, not the person's
        answer = self._fire("UserPromptSubmit", None, prompt=prompt)
        if self.pending_context and not answer.block:
            answer.context = "\n".join([*self.pending_context, answer.context]).strip()
            self.pending_context = []
        return answer

    def stop(self, stop_hook_active: bool, last_message: str, /) -> HookAnswer:
        if self.subagent is not None:
            return self._fire("SubagentStop", None, stop_hook_active=stop_hook_active,
                              last_assistant_message=last_message, agent_type=self.subagent)
        return self._fire("Stop", None, stop_hook_active=stop_hook_active, last_assistant_message=last_message)

    def pre_compact(self, trigger: str, instructions: str, /) -> HookAnswer:
        return self._fire("PreCompact", trigger, trigger=trigger, custom_instructions=instructions)

    # -- the front ends' -----------------------------------------------------------------------

    def session_start(self, source: str) -> list[Any]:
        """SessionStart ("startup", "resume", "clear", "compact"): its context waits for the next prompt."""
        answer = self._fire("SessionStart", source, source=source, model=self.agent.config.model)
        if answer.context:
            self.pending_context.append(answer.context)
        return answer.events

    def session_end(self, reason: str) -> list[Any]:
        return self._fire("SessionEnd", reason, reason=reason).events

    # -- running ----------------------------------------------------------------------------

    def _fire(self, event: str, subject: str | None, **fields: Any) -> HookAnswer:
        matched = self.hooks.matching(event, subject if event in MATCHED else None)
        if not matched:
            return HookAnswer()
        config = self.agent.config
        payload = {"session_id": self.agent.session_id, "transcript_path": config.transcript_path,
                   "cwd": str(self.workspace), "permission_mode": config.gate.mode, "hook_event_name": event,
                   **fields}
        if self._env is None:
            self._env = hook_env(self.workspace)
        done = run_all(matched, json.dumps(payload, ensure_ascii=False).encode("utf-8"), self.workspace, self._env)
        parsed = [parse(event, d) for d in done]
        answer = merge(parsed)
        name = f"{event}:{subject}" if subject else event
        for d, p in zip(done, parsed):
            answer.events += _events(event, name, d, p)
        if answer.stop is not None:
            answer.events.append(ev.Notice(f"a {event} hook ended the run: {_shown(answer.stop)}"))
        return answer


def _events(event: str, name: str, done: Finished, p: Parsed) -> list[Any]:
    from ketch.ids import uuid4

    out: list[Any] = [HookRan(hook_id=uuid4(), event=event, name=name, command=done.hook.command,
                              source=done.hook.source, outcome=p.outcome, exit_code=done.exit_code,
                              stdout="" if p.suppress else done.stdout, stderr=done.stderr,
                              duration_ms=done.duration_ms)]
    if p.error:
        out.append(ev.Notice(f"{event} hook `{_shown(done.hook.command, 120)}` ({done.hook.source}): "
                             f"{_shown(p.error)}"))
    if p.system_message:
        out.append(ev.Notice(f"{event} hook: {_shown(p.system_message)}"))
    if event == "UserPromptSubmit" and p.block:
        out.append(ev.Notice(f"prompt blocked by a UserPromptSubmit hook: {_shown(p.reason)}"))
    return out


def _shown(text: str, limit: int = 500) -> str:
    """A hook's words as the person sees them: one escaped line, cut short."""
    from ketch.terminal_text import printable

    line = " ".join(text.split())
    return printable(line if len(line) <= limit else line[:limit] + "…")
