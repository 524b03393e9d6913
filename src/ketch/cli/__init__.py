"""The `ketch` command: parse arguments, wire a front end to an Agent, map outcomes to exit codes.

Start-up cost matters (DESIGN.md §6: `--version` ≤ 60 ms): only the standard library is
imported at module level; providers, tools and the agent are imported when a run needs them.
`ketch auth ...` is handed to `ketch.cli.auth` before any of that is parsed (`ketch undo ...`
to `ketch.cli.undo`, `ketch sessions ...` to `ketch.cli.sessions`, `ketch models ...` to
`ketch.cli.models` likewise).
Exit status: 0 success, 1 failed run, 2 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn, Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


# Handled before argparse (see main); listed here so `ketch --help` shows them.
SUBCOMMANDS = """\
commands (each has its own --help):
  ketch sessions list|show|search|export|rm   this folder's stored sessions (--all: every folder's)
  ketch undo [--list] [--to N]                undo the file changes of the agent's last turns
  ketch models list|install|rm|path           local GGUF models, run offline in process
  ketch auth login|status|logout              store API keys in the OS keyring or $KETCH_HOME
"""


def _version() -> str:
    from ketch import __version__

    return f"{__version__} (ketch)"


def build_parser():  # type: ignore[no-untyped-def]
    import argparse

    from ketch.agent.permissions import MODES

    p = argparse.ArgumentParser(
        prog="ketch",
        description="A terminal coding agent: interactive by default, headless with -p.",
        epilog=SUBCOMMANDS,
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
    p.add_argument("--trust", action="store_true",
                   help="trust this folder from now on: its project settings may then loosen your policy")
    p.add_argument("-c", "--continue", dest="continue_session", action="store_true",
                   help="continue this folder's most recent session")
    p.add_argument("-r", "--resume", nargs="?", const="", metavar="ID",
                   help="resume the session ID (see `ketch sessions list`)")
    p.add_argument("--fork-session", action="store_true",
                   help="with --continue/--resume: keep the history but record a new session, leaving the old one as it was")
    p.add_argument("--version", action="version", version=_version())
    return p


def _compose_prompt(prompt: str | None) -> tuple[str, int]:
    """The prompt with piped stdin appended as context, and the piped input's size in bytes."""
    from ketch.ui.piped_input import PipedInputError, read_piped

    try:
        piped = read_piped()
    except PipedInputError as exc:
        raise UsageError(str(exc)) from None
    text, size = piped if piped else ("", 0)
    if prompt and text:
        return f"{prompt}\n\n{text}", size
    if prompt:
        return prompt, 0
    if text:
        return text, size
    raise UsageError('no prompt: give one after -p, or pipe it on stdin (e.g. echo "..." | ketch -p)')


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["--version"]:  # fast path: no argparse, no imports
        sys.stdout.write(_version() + "\n")
        sys.exit(EXIT_OK)
    # Every stderr line may quote a server's error body, a setting or a file name: escape them all.
    from ketch.terminal_text import PrintableStream

    sys.stderr = PrintableStream(sys.stderr)  # type: ignore[assignment]
    if args_list[:1] == ["auth"]:
        from ketch.cli.auth import main as auth_main

        sys.exit(auth_main(args_list[1:]))
    if args_list[:1] == ["sessions"]:
        from ketch.cli.sessions import main as sessions_main

        sys.exit(sessions_main(args_list[1:]))
    if args_list[:1] == ["models"]:
        from ketch.cli.models import main as models_main

        sys.exit(models_main(args_list[1:]))
    if args_list[:1] == ["undo"]:
        from ketch.cli.undo import main as undo_main

        sys.exit(undo_main(args_list[1:]))
    args = build_parser().parse_args(args_list)
    # httpx imports its own command-line client (rich, pygments, click: ~50 ms) whenever those
    # are installed, and rich now is (the REPL's). ketch never uses that client: keep it out.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
    try:
        if not args.print_mode:
            from ketch.ui.repl import run_repl  # prompt_toolkit and rich load only here

            sys.exit(run_repl(args))
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
        from ketch.ui.headless import run_headless

        code = run_headless(args, prompt)
    except UsageError as exc:
        sys.stderr.write(f"ketch: {exc}\n")
        code = EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("ketch: interrupted\n")
        code = EXIT_INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":
    main()
