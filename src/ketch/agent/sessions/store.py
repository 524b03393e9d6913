"""Find, list and delete stored sessions.

Sessions live in `$KETCH_HOME/projects/<folder-slug>/<id>.jsonl`, one folder per working
folder. Two working folders can share a slug (`/a/b-c` and `/a-b/c`), so "this folder's
sessions" also checks the folder each session recorded. Ids may be given in full or as an
unambiguous prefix; anything that is not id-shaped is refused before it can name a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ketch.agent.sessions.index import SessionInfo, meta_path, read_info
from ketch.agent.sessions.lock import SessionBusy, lock_exclusive
from ketch.agent.sessions.transcript import sessions_dir
from ketch.errors import SessionError


@cache
def _id() -> re.Pattern[str]:
    """A session id as a file name; compiled at first use: only -c/-r and `sessions` look sessions up."""
    return re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass
class SessionRef:
    session_id: str
    transcript: Path
    info: SessionInfo


def _transcripts(folder: Path) -> list[Path]:
    """The folder's transcripts, most recently written first."""
    found: list[tuple[float, str, Path]] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if entry.name.endswith(".jsonl") and _id().fullmatch(entry.name[:-6]):
            try:
                found.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
            except OSError:
                continue
    return [p for _, _, p in sorted(found, reverse=True)]


def _all_folders(home: Path) -> list[Path]:
    try:
        return sorted(p for p in (home / "projects").iterdir() if p.is_dir())
    except OSError:
        return []


def _info(transcript: Path) -> SessionInfo | None:
    try:
        return read_info(transcript)
    except OSError:
        return None


def _belongs(info: SessionInfo, workspace: Path) -> bool:
    return not info.cwd or info.cwd == str(workspace)


def list_sessions(home: Path, workspace: Path, every_folder: bool = False) -> list[SessionRef]:
    """Sessions with their summaries, newest activity first: this folder's, or every folder's."""
    folders = _all_folders(home) if every_folder else [sessions_dir(home, workspace)]
    refs = []
    for folder in folders:
        for transcript in _transcripts(folder):
            info = _info(transcript)
            if info is not None and (every_folder or _belongs(info, workspace)):
                refs.append(SessionRef(transcript.stem, transcript, info))
    return sorted(refs, key=lambda r: (r.info.updated, r.session_id), reverse=True)


def latest_session(home: Path, workspace: Path) -> SessionRef | None:
    """The session of this folder written most recently (what `--continue` picks)."""
    for transcript in _transcripts(sessions_dir(home, workspace)):
        info = _info(transcript)
        if info is not None and _belongs(info, workspace):
            return SessionRef(transcript.stem, transcript, info)
    return None


def _matches(folder: Path, ref: str) -> list[Path]:
    exact = folder / f"{ref}.jsonl"
    if exact.is_file():
        return [exact]
    return [p for p in _transcripts(folder) if p.stem.startswith(ref)]


def find_session(home: Path, workspace: Path, ref: str, this_folder_only: bool = False) -> SessionRef:
    """The session `ref` names, searched in this folder first; raises SessionError.

    With `this_folder_only` (resuming), a session found only under another folder is an
    error that says where it lives: its tools would otherwise run in the wrong place.
    """
    if not _id().fullmatch(ref):
        raise SessionError(f"{ref!r} is not a session id (see `ketch sessions list`)")
    here_folder = sessions_dir(home, workspace)
    here: list[SessionRef] = []
    elsewhere: list[SessionRef] = []
    for path in _matches(here_folder, ref):
        info = _info(path)
        if info is not None:
            (here if _belongs(info, workspace) else elsewhere).append(SessionRef(path.stem, path, info))
    if not here:
        for folder in _all_folders(home):
            if folder != here_folder:
                elsewhere += [SessionRef(p.stem, p, i) for p in _matches(folder, ref) if (i := _info(p))]
    exact = [r for r in here + elsewhere if r.session_id == ref]
    candidates = exact or here or elsewhere
    if not candidates:
        where = "in this folder (`ketch sessions list --all` shows every folder)" if this_folder_only else \
            "(`ketch sessions list --all` shows every session)"
        raise SessionError(f"no session {ref!r} {where}")
    if len(candidates) > 1:
        raise SessionError(f"{ref!r} matches {len(candidates)} sessions; give more of the id")
    found = candidates[0]
    if this_folder_only and found not in here:
        owner = found.info.cwd or "another folder"
        raise SessionError(f"session {found.session_id} belongs to {owner}, not this folder: resume it "
                           f"from there, or read it with `ketch sessions show {found.session_id}`")
    return found


def delete_session(ref: SessionRef) -> None:
    """Remove a session's transcript and summary; refuses one a live process is writing."""
    try:
        fd = os.open(ref.transcript, os.O_RDONLY)
    except OSError as exc:
        raise SessionError(f"cannot delete session {ref.session_id}: {exc.strerror or exc}") from None
    try:
        lock_exclusive(fd)  # held while deleting, so no writer can start in between
        ref.transcript.unlink()
        try:
            meta_path(ref.transcript).unlink()
        except FileNotFoundError:
            pass
    except SessionBusy:
        raise SessionError(f"session {ref.session_id} is in use by a running ketch; "
                           "delete it once that run ends") from None
    except OSError as exc:
        raise SessionError(f"cannot delete session {ref.session_id}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
