"""`ketch sessions list|show|search|export|rm`: look at and tidy stored sessions.

Dispatched from `ketch.cli` before the main parser, like `ketch auth`. Everything here
reads sessions; only `rm` deletes, and only the one session it names. Exit status: 0
done, 1 nothing found (`search`), 2 usage error or unknown session id.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ketch.cli.common import parser_class
from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from ketch.terminal_text import json_safe, printable

if TYPE_CHECKING:
    from ketch.agent.sessions.load import Loaded
    from ketch.agent.sessions.store import SessionRef

PROMPT_WIDTH = 60




def _parser() -> argparse.ArgumentParser:
    parser = parser_class("ketch sessions")
    p = parser(prog="ketch sessions", description="Stored sessions of this folder (or of every folder with --all).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=parser, metavar="COMMAND")
    ls = sub.add_parser("list", help="sessions, newest first")
    ls.add_argument("--all", action="store_true", help="every folder's sessions")
    show = sub.add_parser("show", help="a readable transcript")
    show.add_argument("id")
    find = sub.add_parser("search", help="prompts and answers containing TEXT (ignoring case)")
    find.add_argument("text")
    find.add_argument("--all", action="store_true", help="search every folder's sessions")
    export = sub.add_parser("export", help="the whole session on stdout")
    export.add_argument("id")
    export.add_argument("--format", choices=["json", "markdown"], default="json")
    rm = sub.add_parser("rm", help="delete a session")
    rm.add_argument("id")
    return p


def _workspace() -> Path:
    return Path(os.path.realpath(os.getcwd()))


def _home() -> Path:
    from ketch.config.settings import ketch_home

    return ketch_home()


def cmd_list(every_folder: bool) -> int:
    from ketch.agent.sessions.store import list_sessions
    from ketch.ui.session_render import one_line, when

    infos = [ref.info for ref in list_sessions(_home(), _workspace(), every_folder)]
    if not infos:
        hint = "" if every_folder else " (`ketch sessions list --all` shows every folder)"
        sys.stderr.write(f"ketch: no sessions{'' if every_folder else ' in this folder'}{hint}\n")
        return EXIT_OK
    rows = [["ID", "LAST ACTIVITY", "TURNS", "MODEL", *(["FOLDER"] if every_folder else []), "FIRST PROMPT"]]
    for info in infos:
        rows.append([info.session_id, when(info.updated), str(info.turns), info.model or "-",
                     *([info.cwd or "-"] if every_folder else []), one_line(info.first_prompt, PROMPT_WIDTH)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.rjust(w) if i == 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        sys.stdout.write(printable("  ".join(cells + [row[-1]]).rstrip()) + "\n")
    return EXIT_OK


def _load(ref_text: str) -> tuple[SessionRef, Loaded]:
    """(SessionRef, Loaded) for an id given on the command line; a repair warning goes to stderr."""
    from ketch.agent.sessions.load import load_session
    from ketch.agent.sessions.store import find_session
    from ketch.errors import SessionError

    ref = find_session(_home(), _workspace(), ref_text)
    try:
        loaded = load_session(ref.transcript, follow_compaction=False)  # people read the whole story
    except OSError as exc:
        raise SessionError(f"cannot read session {ref.session_id}: {exc.strerror or exc}") from None
    warning = loaded.warning()
    if warning:
        sys.stderr.write(f"ketch: warning: {warning}\n")
    return ref, loaded


def cmd_show(ref_text: str) -> int:
    from ketch.ui.session_render import render_text

    _, loaded = _load(ref_text)
    sys.stdout.write(printable(render_text(loaded.info, loaded.messages)))
    return EXIT_OK


def cmd_export(ref_text: str, fmt: str) -> int:
    from ketch.ui.session_render import render_json, render_markdown

    _, loaded = _load(ref_text)
    if fmt == "markdown":
        sys.stdout.write(printable(render_markdown(loaded.info, loaded.messages)))
    else:
        sys.stdout.write(json_safe(render_json(loaded.info, loaded.messages)))
    return EXIT_OK


def cmd_search(text: str, every_folder: bool) -> int:
    from ketch.agent.sessions.search import search_transcript
    from ketch.agent.sessions.store import list_sessions
    from ketch.ui.session_render import when

    if not text.strip():
        raise UsageError("search needs some text to look for")
    found = 0
    for ref in list_sessions(_home(), _workspace(), every_folder):
        try:
            hits = list(search_transcript(ref.transcript, text))
        except OSError:
            continue
        where = f"  ({ref.info.cwd})" if every_folder and ref.info.cwd else ""
        for hit in hits:
            found += 1
            sys.stdout.write(printable(f"{ref.session_id}  {when(ref.info.updated)}  {hit.role:<9}  {hit.snippet}{where}") + "\n")
    if not found:
        scope = "any folder's sessions" if every_folder else "this folder's sessions"
        sys.stderr.write(f"ketch: no prompt or answer in {scope} contains {text!r}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_rm(ref_text: str) -> int:
    from ketch.agent.sessions.store import delete_session, find_session

    ref = find_session(_home(), _workspace(), ref_text)
    delete_session(ref)
    sys.stdout.write(f"deleted session {ref.session_id}\n")
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    from ketch.errors import SessionError

    try:
        args = _parser().parse_args(list(argv))
        if args.command == "list":
            return cmd_list(args.all)
        if args.command == "show":
            return cmd_show(args.id)
        if args.command == "search":
            return cmd_search(args.text, args.all)
        if args.command == "export":
            return cmd_export(args.id, args.format)
        return cmd_rm(args.id)
    except (UsageError, SessionError) as exc:
        sys.stderr.write(f"ketch: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # `ketch sessions show ID | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - it stands in for stdout until exit
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("ketch: interrupted\n")
        return EXIT_INTERRUPTED
