"""`ketch [-p] PROMPT`: parse the flags, wire an Agent, hand it to a front end, return the exit status.

The composition root of a run: the REPL and the headless printers (ui/) never build an Agent
themselves; they get one from here (the REPL gets a `Wiring`, to build it again after a trust
answer or switch its model).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, KetchError, UsageError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from ketch.agent import events as ev
    from ketch.agent.loop import Agent
    from ketch.cli.wiring import RunOptions


# Handled by cli/__init__ before any flag is parsed (its SUBCOMMANDS); listed here so `ketch --help` shows them.
SUBCOMMANDS_HELP = """\
commands (each has its own --help):
  ketch sessions list|show|search|export|rm   this folder's stored sessions (--all: every folder's)
  ketch undo [--list] [--to N]                undo the file changes of the agent's last turns
  ketch models list|install|rm|path           local GGUF models, run offline in process
  ketch auth login|status|logout              store API keys in the OS keyring or $KETCH_HOME
  ketch mcp add|add-json|list|get|remove      MCP servers: this folder's, yours, the project's .mcp.json
  ketch audit TARGET [--against T]            what a package would disclose if published (maps, flags, keys, weights)
"""


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from ketch.cli import version_line
    from ketch.config.settings import MODES

    p = argparse.ArgumentParser(
        prog="ketch",
        description="A terminal coding agent: interactive by default, headless with -p.",
        epilog=SUBCOMMANDS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("prompt", nargs="?", help="the prompt (with -p), or the first message of the interactive session; piped stdin is appended as context with -p")
    p.add_argument("-p", "--print", dest="print_mode", action="store_true",
                   help="run headless: answer, print the result, exit")
    p.add_argument("--output-format", choices=["text", "json", "stream-json"], default="text")
    p.add_argument("--model", help="anthropic:NAME, openai:NAME, local:NAME (see `ketch models list`), local:/path/to/file.gguf, "
                        "or a bare claude-*/gpt-*/o3* name")
    p.add_argument("--max-turns", type=int, metavar="N", help="stop after N model turns")
    p.add_argument("--max-budget-usd", type=float, metavar="USD",
                   help="stop cleanly before the next model request once this much has been spent")
    p.add_argument("--system-prompt", help="replace the built-in system prompt")
    p.add_argument("--append-system-prompt", help="text appended to the system prompt")
    p.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", nargs="+", default=[],
                   metavar="RULE", help="rules such as Edit 'Bash(npm test:*)' that run without asking")
    p.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", nargs="+", default=[],
                   metavar="RULE", help="rules that are always refused")
    p.add_argument("--permission-mode", choices=list(MODES), help="default, acceptEdits, plan, dontAsk or bypassPermissions")
    p.add_argument("--dangerously-skip-permissions", action="store_true",
                   help="same as --permission-mode bypassPermissions")
    p.add_argument("--add-dir", dest="add_dir", nargs="+", default=[], metavar="DIR",
                   help="more folders the tools may read and write")
    p.add_argument("--sandbox", choices=["on", "off"], default="on",
                   help="off runs the model's commands WITHOUT the OS sandbox (not recommended)")
    p.add_argument("--mcp-config", dest="mcp_configs", action="append", default=[], metavar="FILE|JSON",
                   help='MCP servers from a file or inline JSON ({"mcpServers": {...}}); repeatable')
    p.add_argument("--strict-mcp-config", action="store_true",
                   help="use only the --mcp-config servers, none from settings or .mcp.json")
    p.add_argument("--agents", dest="agents", action="append", default=[], metavar="JSON",
                   help='subagents as JSON: {"name": {"description": "...", "prompt": "...", "tools": [...], "model": "..."}}')
    p.add_argument("--include-hook-events", action="store_true",
                   help="with --output-format stream-json: also print each hook that ran (hook_started, hook_response)")
    p.add_argument("--trust", action="store_true",
                   help="trust this folder from now on: its project settings may then loosen your policy")
    p.add_argument("-c", "--continue", dest="continue_session", action="store_true",
                   help="continue this folder's most recent session")
    p.add_argument("-r", "--resume", nargs="?", const="", metavar="ID",
                   help="resume the session ID (see `ketch sessions list`)")
    p.add_argument("--fork-session", action="store_true",
                   help="with --continue/--resume: keep the history but record a new session, leaving the old one as it was")
    p.add_argument("--version", action="version", version=version_line())
    return p


def options_from_args(args: Any, workspace: Path) -> RunOptions:
    from ketch.cli.wiring import RunOptions

    return RunOptions(
        workspace=workspace, model=args.model, max_turns=args.max_turns, max_budget_usd=args.max_budget_usd,
        system_prompt=args.system_prompt, append_system_prompt=args.append_system_prompt,
        allowed_tools=args.allowed_tools, disallowed_tools=args.disallowed_tools,
        permission_mode="bypassPermissions" if args.dangerously_skip_permissions else args.permission_mode,
        add_dirs=args.add_dir, sandbox=args.sandbox, trust=args.trust,
        mcp_configs=list(args.mcp_configs), strict_mcp_config=args.strict_mcp_config, agents=list(args.agents),
    )


@dataclass
class Wiring:
    """What the REPL may ask of the composition root: an Agent for the current options, a new model."""

    options: RunOptions

    def build(self) -> Agent:
        from ketch.cli.wiring import build_agent

        return build_agent(self.options)

    def switch_model(self, agent: Agent, spec: str) -> None:
        from ketch.cli.wiring import switch_model

        switch_model(agent, spec)
        self.options.model = spec


def run(argv: Sequence[str]) -> int:
    """`ketch [flags] [PROMPT]`: the REPL, or one headless run with -p; returns the exit status."""
    args = build_parser().parse_args(list(argv))
    # httpx imports its own command-line client (rich, pygments, click: ~50 ms) whenever those
    # are installed, and rich now is (the REPL's). ketch never uses that client: keep it out.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "not importable"
    import gc

    gc.disable()  # until the start-up is over: see _start_up_over
    try:
        if not args.print_mode:
            import os

            gc.enable()  # the REPL collects as it always did
            from ketch.ui.repl import run_repl  # prompt_toolkit and rich load only here

            return run_repl(args, Wiring(options_from_args(args, Path(os.path.realpath(os.getcwd())))))
        if args.continue_session or args.resume is not None or args.fork_session:
            from ketch.agent.sessions.resume import flags_problem

            problem = flags_problem(args.continue_session, args.resume, args.fork_session, headless=args.print_mode)
            if problem:
                raise UsageError(problem)
        try:
            prompt, args.piped_bytes = _compose_prompt(args.prompt)
        except UsageError as exc:
            if args.allowed_tools or args.disallowed_tools:
                raise UsageError(f"{exc}; note that --allowedTools/--disallowedTools take every word after them, "
                                 "so put the prompt right after -p") from None
            raise
        return run_headless(args, prompt)
    except KetchError as exc:
        sys.stderr.write(f"ketch: {exc}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("ketch: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        gc.enable()  # also after a run that stopped before its loop (a usage error, a bad setting)


def _start_up_over() -> None:
    """Collect garbage from here on, but never walk what the start-up built again.

    The start-up (imports, settings, the Agent) makes ~25,000 objects that live as long as the
    process, and ~500 of garbage. Collecting while it runs only promotes the survivors, and every
    later collection and the last one at exit walk them again; frozen (gc.freeze), they are
    skipped: ~19 ms of a ~175 ms headless round trip (BENCHMARKS.md). Objects made after this
    point are collected as before.
    """
    import gc

    gc.freeze()
    gc.enable()


def _compose_prompt(prompt: str | None) -> tuple[str, int]:
    """The prompt with piped stdin appended as context, and the piped input's size in bytes."""
    from ketch.ui.piped_input import read_piped

    piped = read_piped()  # PipedInputError is a UsageError
    text, size = piped if piped else ("", 0)
    if prompt and text:
        return f"{prompt}\n\n{text}", size
    if prompt:
        return prompt, 0
    if text:
        return text, size
    raise UsageError('no prompt: give one after -p, or pipe it on stdin (e.g. echo "..." | ketch -p)')


def run_headless(args: Any, prompt: str) -> int:
    """Run one prompt to completion; return the exit status (0 success, 1 failed run)."""
    from ketch.agent import events as ev
    from ketch.agent.sessions.resume import open_session
    from ketch.cli.wiring import build_agent
    from ketch.config.settings import ketch_home
    from ketch.ui.headless import NoticePrinter, echo_errors, make_printer

    options = options_from_args(args, Path.cwd())
    agent = build_agent(options)  # ConfigError is a UsageError: one line, exit status 2
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

        announce(piped, lambda tokens: agent.cost_fn(Usage(input_tokens=tokens)), agent.config.model, _warn_raw)
    printer = make_printer(args.output_format, agent.redact,
                           lambda: _slash_commands(options.workspace, ketch_home()),
                           hook_events=getattr(args, "include_hook_events", False))
    transcript, resume_warning = open_session(agent, ketch_home(), continue_=getattr(args, "continue_session", False),
                                       resume=getattr(args, "resume", None),
                                       fork=getattr(args, "fork_session", False))  # SessionError: exit 2
    if resume_warning:
        sys.stderr.write(f"ketch: warning: {resume_warning}\n")
    agent.config.transcript_path = str(getattr(transcript, "path", "") or "")
    if prompt.startswith("/"):
        from ketch.ext.custom_commands import expand_slash_prompt

        prompt = expand_slash_prompt(prompt, options.workspace, ketch_home(),
                                     lambda message: _warn_raw(f"ketch: warning: {message}\n"))
    consumers = [transcript.on_event, printer.on_event, NoticePrinter().on_event]
    if args.output_format != "text":
        consumers.append(lambda event: echo_errors(event, agent.redact))
    finished: ev.RunFinished | None = None
    restore_sigint = _say_interrupting(agent)
    _start_up_over()
    resumed = bool(getattr(args, "continue_session", False) or getattr(args, "resume", None) is not None)
    try:
        for event in _with_start(agent, prompt, "resume" if resumed else "startup"):
            for consume in consumers:
                consume(event)
            if isinstance(event, ev.RunFinished):
                finished = event
    except KeyboardInterrupt:
        agent.cancel.set()
        raise
    finally:
        restore_sigint()
        if agent.hooks is not None:  # SessionEnd, recorded and shown like the run's own events
            for event in agent.hooks.session_end("other"):
                for consume in consumers:
                    consume(event)
        transcript.close()
        agent.close()
    return EXIT_OK if finished is not None and not finished.is_error else EXIT_FAILED


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

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore


def _warn_raw(text: str) -> None:
    sys.stderr.write(text)


def _with_start(agent: Agent, prompt: str, source: str = "startup") -> Iterator[ev.Event]:
    yield agent.started_event()
    if agent.hooks is not None:
        yield from agent.hooks.session_start(source)  # its context goes with the prompt
    yield from agent.run(prompt)


