"""Checkpoints: a snapshot before and after each turn that may change files.

The loop calls `TurnCheckpoints.begin` before it runs a turn's tools (only when one of
them is an allowed edit or command) and `finish` after; the pair of snapshots is what
`/undo` and `ketch undo` restore from. Each checkpoint is also appended to a small log
beside the shadow store, so `ketch undo` works from the shell without reading session
files, whatever format the session store uses. A failing snapshot never fails the turn:
it turns undo off for the session with one notice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketch.agent import events as ev
from ketch.agent.undo.shadow_store import ShadowError, ShadowStore

LOG_NAME = "ketch-checkpoints.jsonl"
MAX_CALL_SUMMARY = 80


@dataclass
class CheckpointRecord:
    """One turn's checkpoint as logged: `seq` numbers the session's checkpoints from 1."""

    session_id: str
    seq: int
    turn: int
    message_index: int
    before: str
    after: str
    files: list[str]
    calls: list[str] = field(default_factory=list)
    ts: float = 0.0
    undone: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "checkpoint", "session_id": self.session_id, "seq": self.seq, "turn": self.turn,
                "message_index": self.message_index, "before": self.before, "after": self.after,
                "files": self.files, "calls": self.calls, "ts": self.ts}


class CheckpointLog:
    """Append-only JSON lines: checkpoints, and which of them were undone.

    A torn last line (a crash mid-write) is skipped when read; nothing else depends on it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, store: ShadowStore) -> CheckpointLog:
        return cls(store.git_dir / LOG_NAME)

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def append(self, record: CheckpointRecord) -> None:
        self._append(record.as_dict())

    def mark_undone(self, session_id: str, seqs: Iterable[int], backup: str | None = None) -> None:
        self._append({"kind": "undone", "session_id": session_id, "seqs": sorted(seqs), "backup": backup,
                      "ts": round(time.time(), 3)})

    def read(self) -> list[CheckpointRecord]:
        """Every checkpoint, oldest first, with `undone` set from later undo entries."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        records: dict[tuple[str, int], CheckpointRecord] = {}
        for line in text.splitlines():
            try:
                item = json.loads(line)
                if item.get("kind") == "checkpoint":
                    rec = CheckpointRecord(
                        session_id=str(item["session_id"]), seq=int(item["seq"]), turn=int(item.get("turn", 0)),
                        message_index=int(item.get("message_index", -1)), before=str(item["before"]),
                        after=str(item["after"]), files=[str(f) for f in item.get("files", [])],
                        calls=[str(c) for c in item.get("calls", [])], ts=float(item.get("ts", 0.0)),
                    )
                    records[(rec.session_id, rec.seq)] = rec
                elif item.get("kind") == "undone":
                    for seq in item.get("seqs", []):
                        if (item["session_id"], int(seq)) in records:
                            records[(item["session_id"], int(seq))].undone = True
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a torn or foreign line: skip it, keep the rest
        return list(records.values())


def summarize_call(name: str, tool_input: dict[str, Any]) -> str:
    """`Write(src/a.py)`, `Bash(pytest -q)`: enough to recognise a turn in a list."""
    for key in ("file_path", "path", "command", "pattern"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            text = " ".join(value.split())
            if len(text) > MAX_CALL_SUMMARY:
                text = text[:MAX_CALL_SUMMARY - 1] + "…"
            return f"{name}({text})"
    return name


@dataclass
class PendingCheckpoint:
    session_id: str
    seq: int
    turn: int
    message_index: int
    before: str
    tree: str
    calls: list[str]


class TurnCheckpoints:
    """The loop's collaborator for undo: snapshot around every turn that may change files."""

    def __init__(self, store: ShadowStore, redact: Callable[[str], str] = lambda text: text) -> None:
        self.store = store
        self.log = CheckpointLog.of(store)
        self.redact = redact
        self.disabled: str | None = None
        self._next_seq: dict[str, int] = {}
        self._tip: dict[str, str] = {}  # session -> last commit, the parent of the next one

    def _off(self, exc: Exception) -> ev.Notice:
        self.disabled = str(exc)
        return ev.Notice(f"undo is off for this session: {exc}")

    def _seq(self, session_id: str) -> int:
        if session_id not in self._next_seq:  # a resumed session continues its numbering
            mine = [r for r in self.log.read() if r.session_id == session_id]
            self._next_seq[session_id] = max((r.seq for r in mine), default=0) + 1
            if mine:
                self._tip[session_id] = mine[-1].after
        return self._next_seq[session_id]

    def begin(self, session_id: str, turn: int, message_index: int,
              calls: list[tuple[str, dict[str, Any]]]) -> PendingCheckpoint | ev.Notice | None:
        """Snapshot before the tools run. None when undo is off (already reported)."""
        if self.disabled is not None:
            return None
        summaries = [self.redact(summarize_call(name, tool_input)) for name, tool_input in calls]
        try:
            with self.store.lock():
                seq = self._seq(session_id)
                message = f"ketch session {session_id} turn {turn} (checkpoint {seq}) before\n\n" + "\n".join(summaries)
                tree = self.store.write_tree()
                before = self.store.commit(tree, message, self._tip.get(session_id))
        except (ShadowError, OSError) as exc:
            return self._off(exc)
        return PendingCheckpoint(session_id, seq, turn, message_index, before, tree, summaries)

    def finish(self, pending: PendingCheckpoint) -> ev.Checkpoint | ev.Notice:
        """Snapshot after the tools ran, and log the checkpoint when the turn changed files."""
        try:
            with self.store.lock():
                tree = self.store.write_tree()
                if tree == pending.tree:  # most command turns: one cheap git call
                    return ev.Checkpoint(session_id=pending.session_id, turn=pending.turn, before=pending.before,
                                         after=pending.before, files_changed=[], checkpoint=None,
                                         message_index=pending.message_index)
                message = (f"ketch session {pending.session_id} turn {pending.turn} "
                           f"(checkpoint {pending.seq}) after\n\n" + "\n".join(pending.calls))
                after = self.store.commit(tree, message, pending.before)
                files = [c.path for c in self.store.changes(pending.before, after)]
                self.store.set_ref(f"sessions/{pending.session_id}", after)
                self._tip[pending.session_id] = after
                if files:
                    self.log.append(CheckpointRecord(
                        session_id=pending.session_id, seq=pending.seq, turn=pending.turn,
                        message_index=pending.message_index, before=pending.before, after=after, files=files,
                        calls=pending.calls, ts=round(time.time(), 3),
                    ))
                    self._next_seq[pending.session_id] = pending.seq + 1
        except (ShadowError, OSError) as exc:
            return self._off(exc)
        return ev.Checkpoint(session_id=pending.session_id, turn=pending.turn, before=pending.before, after=after,
                             files_changed=files, checkpoint=pending.seq if files else None,
                             message_index=pending.message_index)


def make_checkpoints(workspace: Path, home: Path, redact: Callable[[str], str]) -> TurnCheckpoints:
    """What wiring gives the Agent: nothing is created on disk until the first snapshot."""
    return TurnCheckpoints(ShadowStore.for_workspace(Path(os.path.realpath(workspace)), home), redact=redact)
