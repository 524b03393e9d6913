"""The REPL's view of the event stream: inline, append-only, compact.

Nothing already printed is redrawn (no full-screen app, no live region): text streams
through `TextStream`, each tool call is one line plus a folded outcome, edits are diffs.
Every piece of model or tool text is passed through `clean` before it reaches the
terminal, so a hostile file cannot send escape sequences to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ketch.agent import events as ev
from ketch.terminal_text import printable as clean
from ketch.tools.todo import TodosChanged
from ketch.ui.diffs import edit_diff, fold
from ketch.ui.textstream import TextStream

EDIT_TOOLS = ("Edit", "MultiEdit", "Write")
DIFF_LINES = 24
KEY_ARGS = {"Bash": "command", "Read": "file_path", "Write": "file_path", "Edit": "file_path",
            "MultiEdit": "file_path", "Glob": "pattern", "Grep": "pattern", "WebFetch": "url"}


def human(n: float) -> str:
    """1234 -> 1.2k: status lines must fit 80 columns."""
    if n < 1000:
        return str(int(n))
    if n < 1_000_000:
        return f"{n / 1000:.1f}".removesuffix(".0") + "k"
    return f"{n / 1_000_000:.1f}".removesuffix(".0") + "M"


class Renderer:
    def __init__(self, console: Any, workspace: Path, fancy: bool) -> None:
        self.console = console
        self.workspace = workspace
        self.fancy = fancy
        self.bullet = "●" if fancy else "*"
        self.elbow = "⎿" if fancy else "->"
        self._calls: dict[str, ev.ToolCall] = {}
        self._notices: set[str] = set()
        self._thinking = False
        self.last_folded = ""  # the whole of the last folded output, for /expand
        self.previewed: set[str] = set()  # tool calls whose change the permission question showed
        self._ticker_shown = False
        self._text = self._new_stream()
        self._wrap: Any = None  # the RowWrap of the prose line being streamed

    # -- primitives -------------------------------------------------------------------------

    def _new_stream(self) -> TextStream:
        return TextStream(self)

    def _raw(self, text: str) -> None:
        self._clear_ticker()
        self.console.file.write(text)
        self.console.file.flush()

    def _print(self, renderable: Any, soft_wrap: bool = True) -> None:
        self._clear_ticker()
        self.console.print(renderable, soft_wrap=soft_wrap)

    # -- the elapsed-time ticker ------------------------------------------------------------

    def tick(self, elapsed_s: float) -> None:
        """While nothing else moves (the model thinks, a command runs): `… 12s · Esc interrupts`.

        It lives on the empty row below the output and is erased before anything else is
        written there, so nothing already printed is touched; it is never shown inside a
        half-written line, nor in plain mode.
        """
        from rich.text import Text

        if not self.fancy or self._text.mid_line:
            return
        self._clear_ticker()
        self.console.print(Text(f"  … {elapsed_s:.0f}s · Esc interrupts", style="dim"), end="", soft_wrap=True)
        self.console.file.flush()
        self._ticker_shown = True

    def _clear_ticker(self) -> None:
        if self._ticker_shown:
            self._ticker_shown = False
            self.console.file.write("\r\x1b[K")

    def line(self, text: str, style: str = "") -> None:
        """A line of ketch's own; it ends any streamed text first so the two never share a row."""
        from rich.text import Text

        self.end_text()
        self._print(Text(clean(text), style=style if self.fancy else ""))

    def info(self, text: str) -> None:
        self.line(text, "dim")

    def warn(self, text: str) -> None:
        self.line(text, "yellow")

    def error(self, text: str) -> None:
        self.line(text, "bold red")

    def end_text(self) -> None:
        text, self._text = self._text, self._new_stream()
        text.finish()

    # -- the TextSink the stream writes to --------------------------------------------------

    def prose(self, text: str) -> None:
        """Part of a prose line, broken into rows at spaces (in a terminal) as it arrives."""
        if not self.fancy:
            self._raw(text)
            return
        if self._wrap is None:
            from ketch.ui.wordwrap import RowWrap

            self._wrap = RowWrap(self.console.width)
        shown = self._wrap.feed(text)
        if shown:
            self._raw(shown)

    def prose_line_end(self, line: str) -> None:
        """The line is whole: draw it again with its markdown styled, when that is safe.

        Only this line is redrawn (up to its first row, erase below, print styled and
        word-wrapped by rich), so the cost per line stays the same however long the answer
        grows. The row count is the word wrapper's own; rows that scrolled off the top
        cannot be reached again.
        """
        from ketch.ui.markdown_line import style_line

        wrap, self._wrap = self._wrap, None
        if wrap is not None:
            rest = wrap.end()
            if rest:
                self._raw(rest)
        rows = wrap.rows if wrap is not None and wrap.certain and line else None
        if rows is None or rows > self.console.height - 2 or (styled := style_line(line, self.console.width)) is None:
            self._raw("\n")
            return
        self._raw("\r" + (f"\x1b[{rows - 1}A" if rows > 1 else "") + "\x1b[J")
        self._print(styled, soft_wrap=False)

    def heading(self, text: str) -> None:
        from rich.text import Text

        self._print(Text(text, style="bold" if self.fancy else ""), soft_wrap=not self.fancy)

    def table(self, lines: list[str]) -> None:
        from ketch.ui.markdown_line import table

        grid = table(lines) if self.fancy else None
        if grid is None:
            for text in lines:
                self._raw(text + "\n")
        else:
            self._print(grid, soft_wrap=False)

    def code(self, code: str, language: str) -> None:
        if not self.fancy or self.console.no_color:
            for text in code.split("\n"):
                self._raw("    " + text + "\n")
            return
        from rich.syntax import Syntax

        self._print(Syntax(code, language or "text", theme="ansi_dark", background_color="default",
                                  word_wrap=True, padding=(0, 0, 0, 2)), soft_wrap=False)

    # -- events -----------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.TextDelta):
            if self._thinking:
                self._thinking = False
            self._text.feed(event.text)
        elif isinstance(event, ev.ThinkingDelta):
            if not self._thinking:
                self._thinking = True
                self.info("✻ thinking…" if self.fancy else "(thinking...)")
        elif isinstance(event, ev.AssistantMessage):
            self.end_text()
        elif isinstance(event, ev.ToolCall):
            self.end_text()
            self._calls[event.tool_use_id] = event
            self.tool_line(event)
        elif isinstance(event, ev.ToolFinished):
            self._tool_result(event)
        elif isinstance(event, TodosChanged):
            for todo in event.todos:
                mark = {"completed": "[x]", "in_progress": "[>]"}.get(todo.get("status", ""), "[ ]")
                self.info(f"  {mark} {todo.get('content', '')}")
        elif isinstance(event, ev.Retry):
            self.warn(f"{event.reason}; retrying in {event.delay_s:.1f}s (attempt {event.attempt})")
        elif isinstance(event, ev.Error):
            self.end_text()
            self.error(f"error: {event.message}")
        elif isinstance(event, ev.Notice):
            if event.message not in self._notices:
                self._notices.add(event.message)
                self.warn(f"note: {event.message}")
        elif isinstance(event, ev.Compacting):
            self.info(f"compacting the conversation (~{human(event.tokens_before)} tokens)…")
        elif isinstance(event, ev.Compacted):
            self.info(f"context compacted: ~{human(event.tokens_before)} → ~{human(event.tokens_after)} tokens")
        elif isinstance(event, ev.ChildEvent):
            from ketch.ui.child_progress import child_line

            line = child_line(event, self._key_arg)
            if line:
                self.end_text()
                self.info(line)
        elif isinstance(event, ev.RunFinished):
            self.end_text()
            if event.subtype == "interrupted":
                self.warn(f"  {self.elbow} interrupted")
            elif event.subtype in ("error_max_turns", "error_max_budget_usd"):
                self.warn(event.result)

    def _key_arg(self, call: ev.ToolCall) -> str:
        key = KEY_ARGS.get(call.name)
        value = call.input.get(key) if key else next((v for v in call.input.values() if isinstance(v, str)), "")
        text = str(value or "")
        if key == "file_path" and text:
            try:
                text = os.path.relpath(text, self.workspace) if os.path.isabs(text) else text
            except ValueError:
                pass
        first, _, rest = text.partition("\n")
        return first[:160] + ("…" if rest or len(first) > 160 else "")

    def tool_line(self, call: ev.ToolCall) -> None:
        """A tool call as one line: `● Name(key argument)`, the argument cut to one line and escaped."""
        from rich.text import Text

        line = Text()
        line.append(f"{self.bullet} ", style="green" if self.fancy else "")
        line.append(clean(call.name), style="bold" if self.fancy else "")
        arg = self._key_arg(call)
        if arg:
            line.append(f"({clean(arg)})")
        self._print(line)

    def _tool_result(self, result: ev.ToolFinished) -> None:
        call = self._calls.pop(result.tool_use_id, None)
        lines, _ = fold(clean(result.content))
        if result.is_error:
            self.line(f"  {self.elbow} {lines[0] if lines else 'error'}", "red")
            return
        if call is not None and call.name in EDIT_TOOLS:
            if result.tool_use_id not in self.previewed:  # else the person saw it in the question
                self._diff(edit_diff(call.name, call.input))
            self.previewed.discard(result.tool_use_id)
            summary = lines[0].replace(f"{self.workspace}{os.sep}", "") if lines else "done"
            self.info(f"  {self.elbow} {summary}")
            return
        if call is not None and call.name == "Read":
            self.info(f"  {self.elbow} read {len(result.content.splitlines())} lines")
            return
        self.output(result.content)

    def output(self, content: str) -> None:
        """A command's output, folded to its first lines and cropped to the window."""
        lines, more = fold(clean(content))
        if not lines:
            self.info(f"  {self.elbow} (no output)")
            return
        cropped = False
        for i, text in enumerate(lines):
            shown = self._crop(f"  {self.elbow if i == 0 else ' '} {text}")
            cropped = cropped or shown.endswith("…")
            self.info(shown)
        if more or cropped:
            self.last_folded = clean(content)
            self.info(f"    … {more} more lines (/expand shows them)" if more else "    (/expand shows it whole)")

    def _crop(self, text: str) -> str:
        """One row of the window at most: a tool's long lines would wrap into a wall of text."""
        from rich.text import Text

        line = Text(text)
        line.truncate(max(10, self.console.width), overflow="ellipsis")
        return line.plain

    def _diff(self, diff: list[str]) -> None:
        shown, more = diff[:DIFF_LINES], max(0, len(diff) - DIFF_LINES)
        self.diff_lines(shown)
        if more:
            self.last_folded = "\n".join(diff)
            self.info(f"    … {more} more diff lines (/expand shows them)")

    def diff_lines(self, diff: list[str]) -> None:
        """Diff lines, escaped and coloured, whole: a long line wraps rather than hide its end."""
        from rich.text import Text

        self.end_text()
        for text in diff:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(text[:1], "dim") if self.fancy else ""
            self._print(Text("    " + clean(text), style=style))

    # -- after a turn -----------------------------------------------------------------------

    def status(self, agent: Any, finished: ev.RunFinished | None, elapsed_s: float) -> None:
        """One dim line: model, context used of the window, tokens, cost, the turn's time."""
        from ketch.ui.context_view import context_used

        used, window = context_used(agent)
        usage = agent.total_usage()  # subagents' included
        tokens_in = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        pct = f" ({100 * used / window:.0f}%)" if window else ""
        cost = agent.spent_usd()
        self.info(f"{agent.config.model} · context {human(used)}/{human(window)}{pct} · "
                  f"{human(tokens_in)} in / {human(usage.output_tokens)} out · ${cost:.4f} · {elapsed_s:.1f}s")
