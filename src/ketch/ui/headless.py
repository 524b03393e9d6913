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
from ketch.terminal_text import json_safe, printable
from ketch.ui import sdk_messages as sdk


def _same(text: str) -> str:
    return text


def _dump(obj: dict[str, Any], out: IO[str], redact: Callable[[str], str]) -> None:
    out.write(redact(json_safe(json.dumps(obj, ensure_ascii=False))) + "\n")
    out.flush()


@dataclass
class TextPrinter:
    """The final answer only; errors to stderr. Control characters are escaped.

    Even into a pipe: a script's pipe often ends in a terminal (`| tee`, `| less -R`); whoever
    needs the exact bytes asks for json, which carries them JSON-escaped.
    """

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    redact: Callable[[str], str] = _same

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.Retry):
            self.err.write(printable(f"ketch: {event.reason}; retrying in {event.delay_s:.1f}s (attempt {event.attempt})") + "\n")
        elif isinstance(event, ev.RunFinished):
            if event.subtype == "success":
                self.out.write(printable(self.redact(event.result.rstrip("\n"))) + "\n")
                self.out.flush()
            elif event.subtype in ("error_max_turns", "error_max_budget_usd"):
                self.err.write(printable(f"ketch: {event.result}") + "\n")
        elif isinstance(event, ev.Error):
            self.err.write(printable(self.redact(f"ketch: error: {event.message}")) + "\n")


@dataclass
class JsonPrinter:
    """One result object at the end (Claude Code's `--output-format json`)."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    redact: Callable[[str], str] = _same
    model: str = ""
    context_window: int = 0

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.SessionStarted):
            self.model, self.context_window = event.model, event.context_window
        elif isinstance(event, ev.RunFinished):
            _dump(sdk.result_message(event, self.model, self.context_window), self.out, self.redact)


@dataclass
class StreamJsonPrinter(JsonPrinter):
    """One JSON object per line as things happen: init, assistant, user, result (Claude Code's shapes)."""

    session_id: str = ""
    slash_commands: list[str] = field(default_factory=list)

    def on_event(self, event: object) -> None:
        message: dict[str, Any] | None = None
        if isinstance(event, ev.SessionStarted):
            self.session_id = event.session_id
            message = sdk.init_message(event, self.slash_commands)
        elif isinstance(event, ev.AssistantMessage):
            message = sdk.assistant_message(event, self.session_id)
        elif isinstance(event, ev.ToolResults):
            message = sdk.user_message(event, self.session_id)
        elif isinstance(event, ev.Compacted):
            message = sdk.compact_boundary(event, self.session_id)
        elif isinstance(event, ev.Retry):
            message = sdk.api_retry(event, self.session_id)
        if message is not None:
            _dump(message, self.out, self.redact)
        super().on_event(event)


def make_printer(output_format: str, redact: Callable[[str], str] = _same,
                 slash_commands: Callable[[], list[str]] = list) -> TextPrinter | JsonPrinter:
    if output_format == "json":
        return JsonPrinter(redact=redact)
    if output_format == "stream-json":
        return StreamJsonPrinter(redact=redact, slash_commands=slash_commands())
    return TextPrinter(redact=redact)


def run_headless(args: Any, prompt: str) -> int:
    """Run one prompt to completion; return the exit status (0 success, 1 failed run)."""
    from pathlib import Path

    from ketch.agent.sessions.resume import SessionError, open_session
    from ketch.config.settings import ConfigError, ketch_home
    from ketch.cli.wiring import RunOptions, build_agent

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
    piped = getattr(args, "piped_bytes", 0)
    if piped:
        from ketch.conversation import Usage
        from ketch.ui.piped_input import announce

        announce(piped, lambda tokens: agent.cost_fn(Usage(input_tokens=tokens)), agent.config.model,
                 sys.stderr.write)
    printer = make_printer(args.output_format, agent.redact,
                           lambda: _slash_commands(options.workspace, ketch_home()))
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
    restore_sigint = _say_interrupting(agent)
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
        restore_sigint()
        transcript.close()
        agent.provider.close()
        close_runner = getattr(agent.runner, "close", None)
        if callable(close_runner):
            close_runner()
    return 0 if finished is not None and not finished.is_error else 1


def _slash_commands(workspace: Any, home: Any) -> list[str]:
    """The custom commands a `-p "/name ..."` prompt can use, for stream-json's init message."""
    from ketch.ext.custom_commands import load_commands

    return sorted(load_commands(workspace, home, lambda message: None))


def _say_interrupting(agent: Any) -> Callable[[], None]:
    """First Ctrl-C: say so at once, flag the run cancelled, and unwind the main thread.

    The KeyboardInterrupt reaches whatever the main thread waits on (a model's stream, a
    sandboxed command, whose runner kills the whole tree on the way out); worker threads see
    `agent.cancel`. Returns the function that puts the previous handler back.
    """
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_sigint(signum: int, frame: object) -> None:
        os.write(2, "ketch: interrupting…\n".encode())  # not sys.stderr: a handler may run mid-write
        agent.cancel.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    return lambda: signal.signal(signal.SIGINT, previous)


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
