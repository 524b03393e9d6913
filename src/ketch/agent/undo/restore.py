"""Undo and rewind: put back the files the agent's turns changed, as they were before.

Only what a turn changed is restored (the difference between its `before` and `after`
snapshots), and only where the file on disk is still exactly what the turn left: a file
the user edited since is a conflict, reported and left alone unless the caller passes
`force` (all conflicts, or a set of chosen paths). Rewinding across several turns walks
them newest first, so the user's edits between two turns are conflicts too.

Files only: cutting the conversation at the same point belongs to the caller (REPL or
session store), which gets the checkpoint's turn and message index in the result.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ketch.agent.undo.checkpoints import CheckpointLog, CheckpointRecord
from ketch.agent.undo.shadow_store import SYMLINK, Entry, ShadowError, ShadowStore, disk_entry
from ketch.errors import KetchError

Force = bool | Collection[str]  # True: overwrite every conflict; a collection: those paths


class NothingToUndo(KetchError):
    """No checkpoint is left to undo (or the one asked for does not exist): one line."""


@dataclass(frozen=True)
class Conflict:
    """A file the user changed after checkpoint `checkpoint` wrote it."""

    path: str
    checkpoint: int
    reason: str


@dataclass
class FileAction:
    """Put `path` back to `target` (None: delete it). `expected` is what is on disk now."""

    path: str
    action: Literal["restore", "delete", "recreate"]
    target: Entry | None
    expected: Entry | None
    forced: bool = False


@dataclass
class RestorePlan:
    session_id: str
    checkpoints: list[CheckpointRecord]  # newest first; the last one is the point restored to
    actions: list[FileAction]
    conflicts: list[Conflict]  # left alone

    @property
    def target(self) -> CheckpointRecord:
        return self.checkpoints[-1]

    @property
    def turn(self) -> int:
        """The model turn (assistant-message ordinal) whose changes come off last."""
        return self.target.turn

    @property
    def message_index(self) -> int:
        """Index of that turn's assistant message: cut the conversation here to rewind it too."""
        return self.target.message_index


@dataclass
class RestoreResult:
    plan: RestorePlan
    done: list[FileAction] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    backup: str | None = None  # shadow commit of the workspace just before restoring

    @property
    def complete(self) -> bool:
        """Everything was restored: the checkpoints are marked undone."""
        return not self.conflicts and not self.failed


def _reason(current: Entry | None, expected: Entry | None, seq: int) -> str:
    if current is None:
        return f"deleted after checkpoint {seq}"
    if expected is None:
        return f"created after checkpoint {seq}"
    if current.mode == "other":
        return f"is no longer a file (changed after checkpoint {seq})"
    return f"changed after checkpoint {seq}"


def _forced(force: Force, path: str) -> bool:
    return force is True or (not isinstance(force, bool) and path in force)


class Undo:
    """Undo and rewind for one workspace, from its shadow store and checkpoint log."""

    def __init__(self, store: ShadowStore) -> None:
        self.store = store
        self.log = CheckpointLog.of(store)
        self.workspace = store.workspace

    @classmethod
    def for_workspace(cls, workspace: Path, home: Path) -> Undo:
        return cls(ShadowStore.for_workspace(workspace, home))

    # -- what there is ----------------------------------------------------------------------

    def latest_session(self) -> str | None:
        """The session of the newest checkpoint in this folder."""
        records = self.log.read()
        return records[-1].session_id if records else None

    def resolve_session(self, session_id: str | None) -> str:
        """The given session (a unique prefix will do), or the latest one."""
        records = self.log.read()
        if session_id is None:
            if not records:
                raise NothingToUndo(f"nothing to undo: no turn has changed files in {self.workspace}")
            return records[-1].session_id
        ids = list(dict.fromkeys(r.session_id for r in records))
        if session_id in ids:
            return session_id
        matches = [i for i in ids if i.startswith(session_id)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise NothingToUndo(f"session {session_id!r} is ambiguous here: {', '.join(matches)}")
        raise NothingToUndo(f"no checkpoints of session {session_id!r} in {self.workspace}")

    def checkpoints(self, session_id: str | None = None) -> list[CheckpointRecord]:
        """Every checkpoint of the session (undone ones included), oldest first."""
        sid = self.resolve_session(session_id)
        return sorted((r for r in self.log.read() if r.session_id == sid), key=lambda r: r.seq)

    # -- planning ---------------------------------------------------------------------------

    def plan(self, to: int | None = None, session_id: str | None = None, force: Force = False) -> RestorePlan:
        """What undoing the last checkpoint (`to` None) or rewinding to before `to` would do.

        Without a session, undo takes the newest checkpoint still in effect in this folder
        (so repeated undos walk back across sessions); a rewind uses the latest session.
        """
        if session_id is None and to is None:
            live = [r for r in self.log.read() if not r.undone]
            if live:
                session_id = live[-1].session_id
        records = self.checkpoints(session_id)
        sid = records[0].session_id
        live = [r for r in records if not r.undone]
        if to is None:
            if not live:
                where = f"of session {sid}" if session_id else f"in {self.workspace}"
                raise NothingToUndo(f"nothing to undo: every checkpoint {where} is already undone")
            chosen = [live[-1]]
        else:
            if not any(r.seq == to for r in records):
                raise NothingToUndo(f"session {sid} has no checkpoint {to} (see ketch undo --list)")
            chosen = [r for r in live if r.seq >= to]
            if not chosen:
                raise NothingToUndo(f"nothing to undo: checkpoint {to} and later ones are already undone")
        chosen.sort(key=lambda r: r.seq, reverse=True)

        now: dict[str, Entry | None] = {}      # on disk when planned
        virtual: dict[str, Entry | None] = {}  # after undoing the checkpoints walked so far
        forced: set[str] = set()
        conflicts: dict[str, Conflict] = {}
        for rec in chosen:
            for change in self.store.changes(rec.before, rec.after):
                path = change.path
                if path in conflicts:
                    continue
                if path not in virtual:
                    now[path] = virtual[path] = self._on_disk(path)
                current = virtual[path]
                if current == change.after:
                    virtual[path] = change.before
                elif current == change.before:
                    continue  # already as it was (an earlier, partial undo)
                elif _forced(force, path):
                    virtual[path] = change.before
                    forced.add(path)
                else:
                    conflicts[path] = Conflict(path, rec.seq, _reason(current, change.after, rec.seq))
        actions = []
        for path in sorted(virtual):
            target, current = virtual[path], now[path]
            if path in conflicts or target == current:
                continue
            kind: Literal["restore", "delete", "recreate"] = (
                "delete" if target is None else "recreate" if current is None else "restore")
            actions.append(FileAction(path, kind, target, current, forced=path in forced))
        return RestorePlan(sid, chosen, actions, sorted(conflicts.values(), key=lambda c: c.path))

    def _on_disk(self, path: str) -> Entry | None:
        """The file at `path` as git would see it: nothing, if a folder on the way is not a real one."""
        folder = self.workspace
        for part in path.split("/")[:-1]:
            folder = folder / part
            try:
                if not stat.S_ISDIR(os.lstat(folder).st_mode):
                    return None
            except OSError:
                return None
        try:
            return disk_entry(self.workspace / path)
        except OSError:
            return Entry("other", "")

    # -- doing ------------------------------------------------------------------------------

    def apply(self, plan: RestorePlan) -> RestoreResult:
        """Restore the planned files; each is re-checked first, so a late edit is a conflict."""
        result = RestoreResult(plan, conflicts=list(plan.conflicts))
        blobs: dict[str, bytes] = {}
        with self.store.lock():
            if plan.actions:
                seqs = ", ".join(str(r.seq) for r in plan.checkpoints)
                result.backup = self.store.snapshot(
                    f"ketch undo: the workspace before restoring session {plan.session_id} checkpoints {seqs}")
                self.store.set_ref(f"undo/{plan.session_id}", result.backup)
                blobs = self.store.read_blobs(a.target.sha for a in plan.actions if a.target is not None)
            # Deletions first (deepest first), so a folder the turn made can give way to a file.
            ordered = sorted(plan.actions, key=lambda a: (a.target is not None, -a.path.count("/"), a.path))
            for action in ordered:
                if self._on_disk(action.path) != action.expected:
                    result.conflicts.append(Conflict(action.path, plan.target.seq, "changed while undoing"))
                    continue
                try:
                    self._put(action, blobs.get(action.target.sha, b"") if action.target else b"")
                except (OSError, ValueError) as exc:
                    result.failed.append((action.path, getattr(exc, "strerror", None) or str(exc)))
                    continue
                result.done.append(action)
            if result.complete:
                self.log.mark_undone(plan.session_id, [r.seq for r in plan.checkpoints], result.backup)
        return result

    def undo(self, session_id: str | None = None, force: Force = False) -> RestoreResult:
        """Revert the last (not yet undone) turn's file changes."""
        return self.apply(self.plan(None, session_id, force))

    def rewind(self, to: int, session_id: str | None = None, force: Force = False) -> RestoreResult:
        """Restore files to how they were before checkpoint `to`, undoing it and every later one."""
        return self.apply(self.plan(to, session_id, force))

    # -- files ------------------------------------------------------------------------------

    def _parent(self, rel: str, create: bool) -> Path:
        """The real folder for `rel`'s parent inside the workspace; never through a symlink."""
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts) or rel.startswith("/"):
            raise ValueError("not a path inside the workspace")
        folder = self.workspace
        for part in parts[:-1]:
            folder = folder / part
            try:
                st = os.lstat(folder)
            except FileNotFoundError:
                if not create:
                    return folder
                os.mkdir(folder)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise ValueError(f"{part} is no longer a folder")
        return folder

    def _put(self, action: FileAction, data: bytes) -> None:
        path = self.workspace / action.path
        if action.target is None:
            self._parent(action.path, create=False)
            if os.path.lexists(path):
                os.unlink(path)
            self._prune_empty(path.parent)
            return
        folder = self._parent(action.path, create=True)
        tmp = folder / f".{path.name}.ketch-undo-{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if action.target.mode == SYMLINK:
            os.symlink(os.fsdecode(data), tmp)
        else:
            executable = action.target.mode == "100755"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         0o777 if executable else 0o666)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                if action.expected is not None and action.expected.mode != SYMLINK and action.expected.mode != "other":
                    keep = stat.S_IMODE(os.lstat(path).st_mode)  # the user's permissions, exec bit as recorded
                    os.chmod(tmp, keep | (keep & 0o444) >> 2 if executable else keep & ~0o111)
            except BaseException:
                os.unlink(tmp)
                raise
        os.replace(tmp, path)

    def _prune_empty(self, folder: Path) -> None:
        """Remove folders the deletions left empty, up to (not including) the workspace."""
        while folder != self.workspace and self.workspace in folder.parents:
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = folder.parent


__all__ = ["Conflict", "FileAction", "Force", "NothingToUndo", "RestorePlan", "RestoreResult", "ShadowError",
           "Undo"]
