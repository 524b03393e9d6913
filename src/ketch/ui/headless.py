"""Headless printers: `--output-format text | json | stream-json` (Claude Code's shapes).

Each printer consumes the event stream and writes to stdout; diagnostics go to stderr,
so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable

from ketch.agent import events as ev
from ketch.conversation import block_to_dict


def result_object(event: ev.RunFinished) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": event.subtype if event.subtype != "interrupted" else "error_during_execution",
        "is_error": event.is_error,
        "result": event.result,
        "session_id": event.session_id,
        "num_turns": event.num_turns,
        "duration_ms": event.duration_ms,
        "duration_api_ms": event.duration_api_ms,
        "total_cost_usd": round(event.cost_usd, 6),
        "usage": event.usage.as_dict(),
        "permission_denials": [
            {"tool_name": d.tool_name, "tool_use_id": d.tool_use_id, "tool_input": d.tool_input}
            for d in event.permission_denials
        ],
    }


def _same(text: str) -> str:
    return text


def _dump(obj: dict[str, Any], out: IO[str], redact: Callable[[str], str]) -> None:
    out.write(redact(json.dumps(obj, ensure_ascii=False)) + "\n")
    out.flush()


@dataclass
class TextPrinter:
    """The final answer only; errors to stderr."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    redact: Callable[[str], str] = _same

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.Retry):
            self.err.write(f"ketch: {event.reason}; retrying in {event.delay_s:.1f}s (attempt {event.attempt})\n")
        elif isinstance(event, ev.RunFinished):
            if event.subtype == "success":
                self.out.write(self.redact(event.result.rstrip("\n")) + "\n")
                self.out.flush()
            elif event.subtype in ("error_max_turns", "error_max_budget_usd"):
                self.err.write(f"ketch: {event.result}\n")
        elif isinstance(event, ev.Error):
            self.err.write(self.redact(f"ketch: error: {event.message}") + "\n")


@dataclass
class JsonPrinter:
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    redact: Callable[[str], str] = _same

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.RunFinished):
            _dump(result_object(event), self.out, self.redact)


@dataclass
class StreamJsonPrinter:
    """One JSON object per line as things happen: init, assistant, user, result."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    redact: Callable[[str], str] = _same
    session_id: str = ""

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.SessionStarted):
            self.session_id = event.session_id
            _dump({"type": "system", "subtype": "init", "session_id": event.session_id, "cwd": event.cwd,
                   "model": event.model, "provider": event.provider, "tools": event.tools,
                   "permission_mode": event.permission_mode, "sandbox": event.sandbox}, self.out, self.redact)
        elif isinstance(event, ev.AssistantMessage):
            message = {"id": event.message_id, "type": "message", "role": "assistant", "model": event.model,
                       "content": [block_to_dict(b) for b in event.message.content],
                       "stop_reason": event.stop_reason, "usage": event.usage.as_dict()}
            _dump({"type": "assistant", "message": message, "parent_tool_use_id": None,
                   "session_id": self.session_id}, self.out, self.redact)
        elif isinstance(event, ev.ToolResults):
            message = {"role": "user", "content": [block_to_dict(b) for b in event.message.content]}
            _dump({"type": "user", "message": message, "parent_tool_use_id": None,
                   "session_id": self.session_id}, self.out, self.redact)
        elif isinstance(event, ev.Compacted):
            _dump({"type": "system", "subtype": "compact_boundary", "session_id": self.session_id,
                   "compact_metadata": {"pre_tokens": event.tokens_before, "post_tokens": event.tokens_after}},
                  self.out, self.redact)
        elif isinstance(event, ev.Retry):
            _dump({"type": "system", "subtype": "api_retry", "attempt": event.attempt,
                   "retry_delay_ms": int(event.delay_s * 1000), "error": event.reason,
                   "session_id": self.session_id}, self.out, self.redact)
        elif isinstance(event, ev.RunFinished):
            _dump(result_object(event), self.out, self.redact)


def make_printer(output_format: str, redact: Callable[[str], str] = _same) -> TextPrinter | JsonPrinter | StreamJsonPrinter:
    if output_format == "json":
        return JsonPrinter(redact=redact)
    if output_format == "stream-json":
        return StreamJsonPrinter(redact=redact)
    return TextPrinter(redact=redact)


def run_headless(args: Any, prompt: str) -> int:
    """Run one prompt to completion; return the exit status (0 success, 1 failed run)."""
    from pathlib import Path

    from ketch.agent.session_resume import SessionError, open_session
    from ketch.config.settings import ConfigError, ketch_home
    from ketch.wiring import RunOptions, build_agent

    options = RunOptions(
        workspace=Path.cwd(), model=args.model, max_turns=args.max_turns, max_budget_usd=args.max_budget_usd, system_prompt=args.system_prompt,
        append_system_prompt=args.append_system_prompt, allowed_tools=args.allowed_tools,
        disallowed_tools=args.disallowed_tools,
        permission_mode="bypassPermissions" if args.dangerously_skip_permissions else args.permission_mode,
        add_dirs=args.add_dir, sandbox=args.sandbox, trust=args.trust,
    )
    try:
        agent = build_agent(options)
    except ConfigError as exc:
        from ketch.cli import UsageError

        raise UsageError(str(exc)) from None
    for notice in agent.config.notices:
        sys.stderr.write(f"ketch: not applied: {notice}\n")
    for warning in agent.config.warnings:
        sys.stderr.write(f"ketch: warning: {warning}\n")
    if agent.config.model_note and args.output_format == "text":
        sys.stderr.write(f"ketch: {agent.config.model_note}\n")
    if agent.config.sandbox == "off":
        sys.stderr.write("ketch: WARNING: --sandbox off: commands the model runs have your full user rights, "
                         "network and files included\n")
    printer = make_printer(args.output_format, agent.redact)
    try:
        transcript, warning = open_session(agent, ketch_home(), continue_=getattr(args, "continue_session", False),
                                           resume=getattr(args, "resume", None),
                                           fork=getattr(args, "fork_session", False))
    except SessionError as exc:
        from ketch.cli import UsageError

        raise UsageError(str(exc)) from None
    if warning:
        sys.stderr.write(f"ketch: warning: {warning}\n")
    agent.config.transcript_path = str(getattr(transcript, "path", "") or "")
    if prompt.startswith("/"):
        from ketch.ext.custom_commands import expand_slash_prompt

        prompt = expand_slash_prompt(prompt, options.workspace, ketch_home(),
                                     lambda message: sys.stderr.write(f"ketch: warning: {message}\n"))
    consumers = [transcript.on_event, printer.on_event, NoticePrinter().on_event]
    if args.output_format != "text":
        consumers.append(lambda event: _echo_errors(event, agent.redact))
    finished: ev.RunFinished | None = None
    try:
        for event in _with_start(agent, prompt):
            for consume in consumers:
                consume(event)
            if isinstance(event, ev.RunFinished):
                finished = event
    except KeyboardInterrupt:
        agent.cancel.set()
        raise
    finally:
        transcript.close()
        agent.provider.close()
        close_runner = getattr(agent.runner, "close", None)
        if callable(close_runner):
            close_runner()
    return 0 if finished is not None and not finished.is_error else 1


def _with_start(agent: Any, prompt: str):  # type: ignore[no-untyped-def]
    yield agent.started_event()
    yield from agent.run(prompt)


def _echo_errors(event: object, redact: Callable[[str], str]) -> None:
    if isinstance(event, ev.Error):
        sys.stderr.write(redact(f"ketch: error: {event.message}") + "\n")


@dataclass
class NoticePrinter:
    """Notices go to stderr once each, whatever the output format."""

    seen: set[str] = field(default_factory=set)

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.Compacted):
            sys.stderr.write(f"ketch: context compacted: ~{event.tokens_before} → ~{event.tokens_after} tokens\n")
        if isinstance(event, ev.Notice) and event.message not in self.seen:
            self.seen.add(event.message)
            sys.stderr.write(f"ketch: {event.message}\n")
