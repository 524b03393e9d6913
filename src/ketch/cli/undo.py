"""`ketch undo`: take back the file changes of the agent's last turn, or rewind further, from the shell.

Works on the latest session that changed files in this folder (or a parent folder), or
the one given with --session. Files the user edited after the agent wrote them are never
overwritten silently: they are listed and left alone (exit status 1) unless --force.
Exit status: 0 restored, 1 nothing to undo or something left as is, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

MAX_LISTED_FILES = 6

DESCRIPTION = """\
Undo the file changes of the agent's last turn in this folder (ketch snapshots the
workspace before and after every turn that edits files or runs commands, in a shadow
store under $KETCH_HOME/shadow/; your git index, HEAD, branches and stash are never used).
Files you changed after the agent wrote them are reported as conflicts and left alone:
the command then exits with status 1. Pass --force to overwrite them too (their current
content is kept in the shadow store first).
"""


from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import argparse

    from ketch.agent.undo.restore import RestoreResult, Undo
    from ketch.agent.undo.shadow_store import ShadowStore


def _parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(prog="ketch undo", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--session", metavar="ID", help="the session to undo in (default: the latest one here); "
                                                    "a unique prefix is enough")
    p.add_argument("--list", action="store_true", help="list the session's checkpoints and change nothing")
    p.add_argument("--to", metavar="N", type=int,
                   help="rewind: restore files as they were before checkpoint N, undoing it and every later one")
    p.add_argument("--prune", metavar="DAYS", type=float,
                   help="forget the checkpoints of sessions whose last change is older than DAYS days, "
                        "and free their space (changes no file of the project)")
    p.add_argument("--force", action="store_true",
                   help="also overwrite files changed after the agent wrote them (default: leave them, exit 1)")
    return p


def _prune(store: ShadowStore, days: float, out: IO[str], err: IO[str]) -> int:
    from ketch.agent.undo.prune import prune

    if days < 0:
        err.write("ketch: --prune takes a number of days, 0 or more (0 forgets every session's checkpoints)\n")
        return EXIT_USAGE
    result = prune(store, days)
    mb = 1024 * 1024
    out.write(f"forgot {result.checkpoints} checkpoint(s) of {result.sessions} session(s) older than {days:g} days; "
              f"kept {result.kept_sessions}; store {result.bytes_before / mb:.1f} MB -> {result.bytes_after / mb:.1f} MB\n")
    return 0


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "?"


def _files(files: list[str]) -> str:
    shown = ", ".join(files[:MAX_LISTED_FILES])
    more = len(files) - MAX_LISTED_FILES
    return shown + (f" and {more} more" if more > 0 else "")


def _list(undo: Undo, session: str | None, out: IO[str]) -> int:
    records = undo.checkpoints(session)
    out.write(f"session {records[0].session_id} in {undo.workspace}\n")
    for r in records:
        state = "  (undone)" if r.undone else ""
        out.write(f"  #{r.seq:<3} turn {r.turn:<3} {_when(r.ts)}  {len(r.files)} file(s): {_files(r.files)}{state}\n")
        if r.calls:
            out.write(f"        {'; '.join(r.calls)}\n")
    return EXIT_OK


def _report(result: RestoreResult, out: IO[str], err: IO[str]) -> int:
    plan = result.plan
    seqs = [r.seq for r in plan.checkpoints]
    what = f"checkpoint {seqs[0]}" if len(seqs) == 1 else f"checkpoints {seqs[-1]}-{seqs[0]}"
    words = {"restore": "restored ", "delete": "deleted  ", "recreate": "recreated"}
    if result.done:
        out.write(f"undid {what} (turn {plan.turn}) of session {plan.session_id}:\n")
        for action in result.done:
            note = "  (overwrote your changes)" if action.forced else ""
            out.write(f"  {words[action.action]} {action.path}{note}\n")
    elif not result.conflicts and not result.failed:
        out.write(f"undid {what} of session {plan.session_id}: the files were already as before\n")
    if result.conflicts:
        err.write("ketch: left as is, changed after the agent wrote them (rerun with --force to overwrite):\n")
        for c in result.conflicts:
            err.write(f"  {c.path}: {c.reason}\n")
    for path, reason in result.failed:
        err.write(f"ketch: could not restore {path}: {reason}\n")
    return EXIT_OK if result.complete else EXIT_FAILED


def main(argv: Sequence[str], out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    import os

    from ketch.agent.undo.restore import NothingToUndo, Undo
    from ketch.agent.undo.shadow_store import ShadowError, find_workspace
    from ketch.config.settings import ketch_home

    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(list(argv))
    if args.list and (args.to is not None or args.force):
        err.write("ketch: --list changes nothing; use it without --to or --force\n")
        return EXIT_USAGE
    home = ketch_home()
    cwd = Path(os.path.realpath(os.getcwd()))
    workspace = find_workspace(home, cwd)
    if workspace is None:
        err.write(f"ketch: nothing to undo: no turn has changed files in {cwd}\n")
        return EXIT_FAILED
    undo = Undo.for_workspace(workspace, home)
    try:
        if args.prune is not None:
            return _prune(undo.store, args.prune, out, err)
        if args.list:
            return _list(undo, args.session, out)
        plan = undo.plan(args.to, args.session, force=args.force)
        return _report(undo.apply(plan), out, err)
    except NothingToUndo as exc:
        err.write(f"ketch: {exc}\n")
        return EXIT_FAILED
    except ShadowError as exc:
        err.write(f"ketch: undo failed: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("ketch: interrupted; files restored so far stay restored (run ketch undo again to finish)\n")
        return EXIT_INTERRUPTED
