"""Headless printers: `--output-format text | json | stream-json` (Claude Code's shapes).

Each printer consumes the event stream and writes to stdout; diagnostics go to stderr,
so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, cast

from ketch.agent import events as ev
from ketch.terminal_text import json_safe, printable
from ketch.ui import sdk_messages as sdk

if TYPE_CHECKING:
    from ketch.agent.hooks_seam import HookRan


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
    hook_events: bool = False  # --include-hook-events

    def on_event(self, event: object) -> None:
        message: dict[str, Any] | None = None
        if self.hook_events and type(event).__name__ == "HookRan":  # not imported: most runs have no hooks
            for line in sdk.hook_messages(cast("HookRan", event), self.session_id):
                _dump(line, self.out, self.redact)
            return
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
        elif isinstance(event, ev.ChildEvent):
            message = self._child_message(event)
        if message is not None:
            _dump(message, self.out, self.redact)
        super().on_event(event)


    def _child_message(self, event: ev.ChildEvent) -> dict[str, Any] | None:
        """A subagent's reply or results, marked with the Task call it runs under (Claude Code's shape)."""
        parent, inner = event.parent_call_id, event.event
        while isinstance(inner, ev.ChildEvent):
            parent, inner = inner.parent_call_id, inner.event
        message: dict[str, Any] | None = None
        if isinstance(inner, ev.AssistantMessage):
            message = sdk.assistant_message(inner, self.session_id)
        elif isinstance(inner, ev.ToolResults):
            message = sdk.user_message(inner, self.session_id)
        if message is not None:
            message["parent_tool_use_id"] = parent
        return message


def make_printer(output_format: str, redact: Callable[[str], str] = _same,
                 slash_commands: Callable[[], list[str]] = list,
                 hook_events: bool = False) -> TextPrinter | JsonPrinter:
    if output_format == "json":
        return JsonPrinter(redact=redact)
    if output_format == "stream-json":
        return StreamJsonPrinter(redact=redact, slash_commands=slash_commands(), hook_events=hook_events)
    return TextPrinter(redact=redact)


def echo_errors(event: object, redact: Callable[[str], str]) -> None:
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
