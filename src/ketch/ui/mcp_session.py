"""MCP servers in the REPL: the session's McpManager, its notices, elicitation, and approvals at start.

The manager is built (and its servers started) by the composition root before the REPL has a
screen; `attach` points its `notify` and `handlers.elicit` here. Both are called from background
threads: a notice is printed above the prompt while one is shown (prompt_toolkit's patch_stdout)
and otherwise held until the main thread is about to show the next one; an elicitation is asked
on the main thread during a turn (TurnRunner.call_on_main) and declined outside one, where no
tool call can be waiting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketch.ext.mcp.config import ServerConfig
    from ketch.ext.mcp.manager import McpManager


def find_manager(agent: Any) -> McpManager | None:
    """The agent's MCP servers, or None when it has none (nothing MCP is imported then)."""
    sources = getattr(agent, "sources", None)
    if not sources:
        return None
    from ketch.ext.mcp.manager import McpManager

    return next((s for s in sources if isinstance(s, McpManager)), None)


class NoticeLine:
    """`notify` for the manager: lines from any thread, shown through the renderer without tearing
    the prompt or a turn's output."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self.show = show
        self._lock = threading.Lock()
        self._held: list[str] = []
        self._live = False

    def __call__(self, line: str) -> None:
        with self._lock:
            if not self._live:
                self._held.append(line)
                return
            self.show(line)  # stdout is prompt_toolkit's proxy now: printed above the prompt

    def flush(self) -> None:
        """Show what was held (main thread, between a turn and the next prompt)."""
        with self._lock:
            lines, self._held = self._held, []
        for line in lines:
            self.show(line)

    @contextmanager
    def live(self, enabled: bool) -> Iterator[None]:
        """Around reading the prompt: notices print at once, above it (only on a terminal)."""
        self.flush()
        if not enabled:
            yield
            return
        from prompt_toolkit.patch_stdout import patch_stdout

        with patch_stdout(raw=True):
            with self._lock:
                self._live = True
            try:
                yield
            finally:
                with self._lock:
                    self._live = False


class McpSession:
    """What the REPL does with MCP: one per REPL, re-attached to each Agent the wiring builds."""

    def __init__(self, repl: Any) -> None:
        from ketch.ui.mcp_prompts import PromptCommands
        from ketch.ui.mcp_resources import ResourceIndex

        self.repl = repl
        self.notices = NoticeLine(lambda line: repl.r.warn(line))
        self.prompts = PromptCommands(repl.commands)
        self.resources = ResourceIndex(lambda: self.manager)
        self.declined: list[ServerConfig] = []  # not started this session; asked again next time

    @property
    def manager(self) -> McpManager | None:
        return find_manager(self.repl.agent)

    def attach(self) -> None:
        manager = self.manager
        if manager is not None:
            manager.notify = self.notices
            manager.handlers.elicit = self.elicit

    def elicit(self, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        """A server's elicitation/create (a background thread): asked on the main thread during a turn."""
        from ketch.ui.mcp_elicit import ask_form

        runner = getattr(self.repl, "runner", None)
        if runner is None or not runner.running:
            return {"action": "decline"}
        return runner.call_on_main(lambda: ask_form(self.repl.r, self.repl.ask_line, message, schema),  # type: ignore[no-any-return]
                                   {"action": "cancel"})

    def before_prompt(self) -> None:
        """Main thread, before the prompt: held notices, newly connected servers' prompts; the
        servers are started once the first prompt has been drawn (never delaying it)."""
        self.notices.flush()
        manager = self.manager
        if manager is not None and not manager.started:
            self._start_after_drawing(manager)
        if manager is not None:
            self.prompts.sync(manager)
            self.resources.mentions()  # starts listing what completion will offer

    def start_now(self) -> None:
        """A turn is about to begin (the prompt may never have been drawn): its tools must be coming."""
        manager = self.manager
        if manager is not None:
            manager.start()

    def _start_after_drawing(self, manager: McpManager) -> None:
        app = getattr(getattr(getattr(self.repl, "input", None), "session", None), "app", None)
        if app is None or not self.repl.fancy:
            manager.start()
            return

        def started(_: object) -> None:
            app.after_render -= started
            manager.start()

        app.after_render += started

    def before_command(self) -> None:
        """A slash command is about to run: the prompts of servers connected by now are commands."""
        manager = self.manager
        if manager is not None:
            self.prompts.sync(manager, wait=True)

    def attach_resources(self, message: str) -> str:
        from ketch.ui.mcp_resources import attach_resources

        manager = self.manager
        if manager is None:
            return message
        message, attached, problems = attach_resources(message, manager)
        for problem in problems:
            self.repl.r.warn(problem)
        if attached:
            self.repl.r.info("attached " + ", ".join(attached))
        return message

    # -- a project's servers, asked about once per session ----------------------------------

    def ask_pending(self) -> None:
        """Each of the project's `.mcp.json` servers not approved yet: show what it runs, ask, start."""
        manager = self.manager
        if manager is None:
            return
        for config in list(manager.pending):
            if self._approve(manager, config):
                manager.add_and_start(config)
            else:
                manager.pending.remove(config)
                self.declined.append(config)

    def _approve(self, manager: McpManager, config: ServerConfig) -> bool:
        import json

        from ketch.ext.mcp.config import approve_server
        from ketch.terminal_text import printable as clean
        from ketch.ui.permission_prompt import reveal

        r = self.repl.r
        try:
            entry = json.dumps(json.loads(config.raw), indent=2, ensure_ascii=False)
        except ValueError:
            entry = config.raw
        r.line(f"? This project's .mcp.json has an MCP server {reveal(clean(config.name))!r} you have not approved.",
               "bold yellow")
        r.line(f"    it runs: {reveal(clean(config.describe()))}", "bold")
        for line in entry.splitlines()[:40]:
            r.line(f"    {reveal(clean(line))}")
        if config.transport == "stdio":
            r.info("    in the sandbox: no network but the hosts it names, no credentials but its env" if
                   manager.sandbox_args is not None else "    NOT sandboxed (--sandbox off): with your full user rights")
        if not self.repl.confirm(f"approve and start {clean(config.name)}?"):
            r.info("  not started; ketch asks again next time")
            return False
        try:
            where = approve_server(manager.workspace, config)
            r.info(f"  approved (kept in {clean(str(where))}); starting {clean(config.name)}")
        except (OSError, ValueError) as exc:
            r.error(f"  could not record the approval ({clean(str(exc))}); starting it for this session only")
        return True
