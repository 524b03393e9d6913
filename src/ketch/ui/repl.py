"""`ketch` without -p: the interactive session (issue 4).

Puts the pieces together: the Agent from the Wiring cli/run.py hands in, the transcript from `agent.sessions.resume`,
input (`input`), output (`render`), turns in a worker thread (`turn`), permission questions
(`permission_prompt`) and slash commands (`commands`). prompt_toolkit and rich are imported
here and only here, so headless runs never load them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ketch.agent import events as ev

if TYPE_CHECKING:
    from ketch.ui.input import PlainInput, TerminalInput

MODE_LABELS = {"acceptEdits": "accept edits", "plan": "plan", "bypassPermissions": "bypass permissions",
               "dontAsk": "don't ask"}


class Wiring(Protocol):
    """What the REPL gets from the composition root (cli/run.py): it never builds an Agent itself."""

    options: Any  # cli.wiring.RunOptions: `.trust` read, `.trust` set after a yes; `.interactive` set

    def build(self) -> Any: ...

    def switch_model(self, agent: Any, spec: str) -> None: ...


def run_repl(args: Any, wiring: Wiring) -> int:
    """Run the interactive session; 0 when the person leaves (Ctrl-D, Ctrl-C twice, /exit)."""
    from rich.console import Console

    from ketch.config.settings import ketch_home
    from ketch.errors import UsageError
    from ketch.ui.terminal import is_fancy

    fancy = is_fancy()
    workspace = wiring.options.workspace
    if fancy:  # an exported COLUMNS/LINES would pin rich's width and break wrapping after a resize
        environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        console = Console(highlight=False, soft_wrap=False, _environ=environ)
    else:
        console = Console(highlight=False, color_system=None, force_terminal=False, width=80)
    repl = Repl(console, workspace, ketch_home(), fancy)
    if args.continue_session or args.resume is not None or args.fork_session:
        from ketch.agent.sessions.resume import flags_problem

        problem = flags_problem(args.continue_session, "picker" if args.resume == "" else args.resume,
                                args.fork_session, headless=False)
        if problem:
            raise UsageError(problem)
    repl.wiring, repl.options = wiring, wiring.options
    repl.options.interactive = True  # a project's unapproved MCP servers are asked about (mcp_session.py)
    repl.agent = wiring.build()  # --trust is recorded once the settings loaded; ConfigError: exit 2
    repl.mcp.attach()
    if repl.ask_trust():
        repl.agent.close()
        repl.options.trust = True
        repl.agent = wiring.build()  # the project's settings apply; recorded only if they load
        repl.mcp.attach()
        repl.r.info("trusted")
    return repl.main(args)


class Repl:
    def __init__(self, console: Any, workspace: Path, home: Path, fancy: bool) -> None:
        from ketch.ui.commands import default_registry
        from ketch.ui.commands.custom import register_custom
        from ketch.ui.mcp_session import McpSession
        from ketch.ui.render import Renderer

        self.console = console
        self.workspace = workspace
        self.home = home
        self.fancy = fancy
        self.r = Renderer(console, workspace, fancy)
        self.commands = default_registry()
        register_custom(self.commands, workspace, home, self.r.warn)  # prompt files: ext.custom_commands
        self.agent: Any = None
        self.options: Any = None
        self.wiring: Any = None
        self.transcript: Any = None
        self.input: TerminalInput | PlainInput | None = None  # made once the session is open
        self.watcher: Any = None
        self._last_ctrl_c = 0.0
        self._start_mode: str | None = None
        self.pending_context: list[str] = []  # `!command` outputs waiting for the next message
        self.mcp = McpSession(self)  # the agent's MCP servers: /mcp, approvals, notices, @server:uri

    # -- start-up ---------------------------------------------------------------------------

    def ask_trust(self) -> bool:
        """On first use of an untrusted folder that ships project settings: trust it?

        True when the person said yes (the agent must be built again, as trusted, which
        records the trust once the project's settings have loaded).
        """
        from ketch.config.settings import project_settings_paths
        from ketch.ext.mcp.scopes import project_file_exists
        from ketch.security.trust import is_trusted

        if self.options.trust or is_trusted(self.workspace):
            return False
        settings = any(p.exists() for p in project_settings_paths(self.workspace).values())
        servers = project_file_exists(self.workspace)
        if not settings and not servers:
            return False
        if settings:
            self.r.warn(f"{self.workspace} has project settings (.ketch/ or .claude/) that can allow tools and change the model.")
        if servers:
            self.r.warn(f"{self.workspace} has MCP servers (.mcp.json); trusted, you are asked about each one.")
        self.r.warn("Only trust folders whose contents you trust; untrusted, only their deny/ask rules apply.")
        return self.confirm("trust this folder?")

    def _open(self, continue_: bool = False, resume: str | None = None, fork: bool = False,
              recap: bool = True) -> None:
        from ketch.agent.sessions.resume import open_session

        self.transcript, warning = open_session(self.agent, self.home, continue_=continue_, resume=resume, fork=fork)
        self.agent.config.transcript_path = str(getattr(self.transcript, "path", "") or "")
        self.transcript.on_event(self.agent.started_event())
        if warning:
            self.r.warn(f"warning: {warning}")
        if recap:
            self._recap()

    def _recap(self) -> None:
        """A resumed session's last exchanges, so the person sees where they left off."""
        if self.agent.messages:
            from ketch.ui.resume_recap import show_recap

            show_recap(self.r, self.agent.session_id, self.agent.messages)

    def _make_io(self) -> None:
        from ketch.ui.input import PlainInput, TerminalInput, history_path, make_completer
        from ketch.ui.mentions import ProjectFiles
        from ketch.ui.permission_prompt import PermissionPrompt
        from ketch.ui.terminal import KeyWatcher
        from ketch.ui.turn import TurnRunner

        if self.fancy:
            completer = make_completer(self.commands.names, ProjectFiles(self.workspace),
                                       lambda before: self.commands.complete_arguments(self, before),
                                       self.mcp.resources.mentions)
            self.input = TerminalInput(history_path(self.home, self.workspace), completer, self.cycle_mode)
            self.watcher = KeyWatcher(sys.stdin.fileno())
            read_key = self.watcher.read_key
        else:
            self.input = PlainInput()
            read_key = self.input.read_key
        self.permission = PermissionPrompt(self.agent, self.r, read_key, self.ask_line, lambda: self.runner.interrupt())
        self.runner = TurnRunner(self.agent, [lambda e: self.transcript.on_event(e), self.r.on_event],
                                 self.permission, self.watcher,
                                 on_interrupt=lambda: self.r.info("interrupting…"),
                                 on_queued=lambda line: self.r.info(f"  queued: {line}"),
                                 tick=self.r.tick if self.fancy else None)
        self.agent.set_approver(self.runner.approve)

    def main(self, args: Any) -> int:
        from ketch.ui.commands.builtin import Quit
        from ketch.ui.turn import QuitRequested

        try:
            # a SessionError is a UsageError: one line, exit status 2
            self._open(args.continue_session, None if args.resume == "" else args.resume, args.fork_session,
                       recap=False)
            self._make_io()
            self._banner()
            self.mcp.ask_pending()
            self._hooks_start()
            self._recap()
            if args.resume == "":
                self.commands.dispatch(self, "/resume")
            if args.prompt:
                self.run_prompt(args.prompt)
            while True:
                try:
                    text = self._next_message()
                except EOFError:
                    return 0
                except KeyboardInterrupt:
                    now = time.monotonic()
                    if now - max(self._last_ctrl_c, self.runner.last_ctrl_c) < 2.0:
                        return 0
                    self._last_ctrl_c = now
                    self.r.info("(Ctrl-C again or Ctrl-D to exit)")
                    continue
                self.handle(text)
        except (Quit, QuitRequested):
            return 0
        finally:
            self.close()

    def _next_message(self) -> str:
        """A line queued during the last turn (echoed as if typed now), else the prompt."""
        typed = self.runner.typeahead
        if typed.queued:
            text = typed.queued.pop(0)
            self.r.line(f"> {text}", "bold")
            return text
        assert self.input is not None, "the session is open"
        self.mcp.before_prompt()
        with self.mcp.notices.live(self.fancy and self.mcp.manager is not None):
            return self.input.read(self.prompt_text, default=typed.take_draft())

    def prompt_text(self) -> str:
        """`> `, or the permission mode in front of it when it is not the default one."""
        mode = self.agent.config.gate.mode
        return "> " if mode == "default" else f"{MODE_LABELS.get(mode, mode)} > "

    def cycle_mode(self) -> None:
        """Shift-Tab, as in Claude Code: default → accept edits → plan → (the start mode) → ..."""
        gate = self.agent.config.gate
        if self._start_mode is None:
            self._start_mode = gate.mode
        cycle = ["default", "acceptEdits", "plan"]
        if self._start_mode not in cycle:
            cycle.append(self._start_mode)  # bypass or dontAsk only if ketch was started in it
        gate.mode = cycle[(cycle.index(gate.mode) + 1) % len(cycle)] if gate.mode in cycle else "default"

    def handle(self, text: str) -> None:
        if not text.strip():
            return
        if text.startswith("!") and text[1:].strip():
            from ketch.ui.shell_escape import run_shell_escape

            self.pending_context.append(run_shell_escape(text[1:].strip(), self.workspace, self.r.output,
                                                         self.agent.redact))
            self.r.info("  (the output goes to the model with your next message)")
            return
        if text.startswith("/") and not text.startswith("//"):
            self.mcp.before_command()
            if not self.commands.dispatch(self, text.strip()):
                self.r.error(f"unknown command {text.split()[0]} (/help lists them)")
            return
        self.run_prompt(text)

    def _banner(self) -> None:
        from ketch import __version__

        a = self.agent
        home = Path.home()
        where = f"~/{self.workspace.relative_to(home)}" if self.workspace.is_relative_to(home) else str(self.workspace)
        self.r.line(f"ketch {__version__} · {a.config.provider_name}:{a.config.model} · {where}", "bold")
        self.r.info("/help for commands · Esc interrupts · Shift-Tab switches mode · Ctrl-D exits" if self.fancy
                    else "/help for commands · Ctrl-D exits")
        for notice in a.config.notices:
            self.r.warn(f"not applied: {notice}")
        for warning in a.config.warnings:
            self.r.warn(f"warning: {warning}")
        if a.config.sandbox == "off":
            self.r.error("WARNING: --sandbox off: commands the model runs have your full user rights")

    def _hooks_start(self) -> None:
        """A project's unapproved hooks are asked about, then SessionStart runs (its context joins the first prompt)."""
        if self.agent.hooks is None:
            return
        from ketch.ui.hooks_view import ask_pending_hooks

        ask_pending_hooks(self)
        for event in self.agent.hooks.session_start("startup"):
            self.transcript.on_event(event)
            self.r.on_event(event)

    def close(self) -> None:
        hooks = getattr(getattr(self, "agent", None), "hooks", None)
        if hooks is not None:
            try:
                for event in hooks.session_end("prompt_input_exit"):
                    self.r.on_event(event)
            except Exception:  # noqa: BLE001, S110 - a hook failing at exit must not turn it into a traceback
                pass
        for closer in (getattr(self.transcript, "close", None), getattr(self.agent, "close", None),
                       getattr(getattr(self, "runner", None), "close", None)):
            if callable(closer):
                try:
                    closer()
                except Exception:  # noqa: BLE001, S110 - closing must never turn a clean exit into a traceback
                    pass

    # -- turns ------------------------------------------------------------------------------

    def run_prompt(self, text: str, mentions: bool = True) -> None:
        """Send `text`; `mentions`: attach the files and MCP resources it mentions (a server's text: not)."""
        from ketch.ui.mentions import attach_mentions

        self.mcp.start_now()
        message, attached = attach_mentions(text, self.workspace, self.agent.state) if mentions else (text, [])
        if attached:
            self.r.info("attached " + ", ".join(attached))
        if mentions:
            message = self.mcp.attach_resources(message)
        if self.pending_context:  # `!command` output the person ran since their last message
            message = "\n\n".join(self.pending_context + [message])
            self.pending_context = []
        self.run_events(self.agent.run(message), status=True)

    def run_events(self, events: Iterable[object], status: bool = False) -> ev.RunFinished | None:
        started = time.monotonic()
        if self.watcher is not None:
            with self.watcher:
                finished = self.runner.run(events)
        else:
            finished = self.runner.run(events)
        self.r.end_text()
        if status:
            self.r.status(self.agent, finished, time.monotonic() - started)
        return finished

    # -- questions --------------------------------------------------------------------------

    def ask_line(self, message: str) -> str:
        if self.input is None:  # before the session is open (the trust question): plain input
            sys.stdout.write(message)
            sys.stdout.flush()
            return sys.stdin.readline().strip()
        if self.watcher is not None and self.watcher._saved is not None:
            with self.watcher.cooked():
                return self.input.read_line(message)
        return self.input.read_line(message)

    def confirm(self, question: str) -> bool:
        return self.ask_line(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    # -- sessions ---------------------------------------------------------------------------

    def _reset(self) -> None:
        if self.transcript is not None:
            self.transcript.close()
        self.agent.reset()

    def new_session(self) -> None:
        self._reset()
        self._open()

    def resume(self, session_id: str) -> None:
        from ketch.errors import SessionError

        self._reset()
        try:
            self._open(resume=session_id)
        except SessionError as exc:
            self.r.error(str(exc))
            self._open()
