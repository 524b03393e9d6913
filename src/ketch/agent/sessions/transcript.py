"""Append each session to disk as it happens, one JSON object per line.

The file lives at `$KETCH_HOME/projects/<folder-slug>/<session_id>.jsonl`. Why JSONL and
not SQLite, and the fsync policy, are in docs/design-notes.md ("Sessions"). In short:
- every record is one `write(2)` on an O_APPEND descriptor, so a `kill -9` loses at most
  the reply being streamed (it is recorded only once complete);
- the file is fsynced at the end of each turn (a reply without tool calls, the results of
  a tool turn, the end of a run) and on close, so an OS crash or power loss loses at most
  the current turn; the folder is fsynced once when the file is created;
- after each fsync the session summary (`agent/sessions/index.py`) is rewritten;
- the writer holds an exclusive lock on the file (`agent/sessions/lock.py`).
Every line passes the redactor: known secret values never reach the disk.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketch.agent import events as ev
from ketch.agent.sessions.index import SessionInfo, read_info, write_meta
from ketch.agent.sessions.lock import SessionBusy, lock_exclusive
from ketch.config.project_store import project_slug  # one slug for a folder's sessions and remembered rules
from ketch.conversation import block_to_dict


def sessions_dir(home: Path, workspace: Path) -> Path:
    """The home of one folder's sessions."""
    return home / "projects" / project_slug(workspace)


def transcript_path(home: Path, workspace: Path, session_id: str) -> Path:
    return sessions_dir(home, workspace) / f"{session_id}.jsonl"


def ends_turn(record: dict[str, Any]) -> bool:
    """Whether this record closes a turn: the moment the transcript is made durable."""
    kind = record.get("type")
    if record.get("isSidechain"):  # a subagent's turn ends inside the parent's tool call
        return False
    blocks = record.get("content")
    if not isinstance(blocks, list):
        blocks = []
    if kind == "assistant":
        return not any(isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks)
    if kind == "user":
        return any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
    return kind == "result"


def _stderr_warning(message: str) -> None:
    print(f"ketch: warning: {message}", file=sys.stderr)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class TranscriptWriter:
    """Appends one session's records; a write failure warns once and never stops the run.

    `history` holds records written right after the run's first `session` record: the
    conversation a fork copies, or the error results a resume adds for calls a crash cut
    short. `session_extra` is merged into each `session` record (`resumed`, `forked_from`).
    """

    path: Path
    redact: Callable[[str], str]
    history: list[dict[str, Any]] = field(default_factory=list)
    session_extra: dict[str, Any] = field(default_factory=dict)
    durable: bool = True  # fsync at turn ends and on close (off only for benchmarks of the rest)
    warn: Callable[[str], None] = _stderr_warning
    info: SessionInfo | None = None
    _fd: int | None = None
    _broken: bool = False
    _offset: int = 0
    _needs_newline: bool = False

    def open(self) -> None:
        """Open for appending and take the session lock; raises SessionBusy or OSError."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            lock_exclusive(fd)
            size = os.fstat(fd).st_size
            # A crash mid-line leaves no newline: start on a fresh line, or the next record
            # would be glued to the broken one and lost with it.
            self._needs_newline = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            if self.info is None:
                self.info = read_info(self.path) if size else SessionInfo(session_id=self.path.stem)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._offset = fd, size
        if created:
            _fsync_dir(self.path.parent)

    def write(self, record: dict[str, Any], sync_turns: bool = True) -> None:
        if self._broken:
            return
        record.setdefault("ts", round(time.time(), 3))
        line = self.redact(json.dumps(record, ensure_ascii=False)) + "\n"
        # Lone surrogates (undecodable bytes in tool output) become JSON escapes, not a crash.
        data = line.encode("utf-8", "backslashreplace")
        try:
            self.open()
            assert self._fd is not None and self.info is not None
            if self._needs_newline:
                data = b"\n" + data
                self._needs_newline = False
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            self._offset += len(data)
            self.info.fold(record)
            if sync_turns and ends_turn(record):
                self.sync()
        except SessionBusy:
            self._broken = True
            self.warn(f"session {self.path.stem} is being written by another ketch process; "
                      "this run is not recorded")
        except OSError as exc:
            self._broken = True
            self.warn(f"cannot write the session transcript {self.path}: {exc.strerror or exc}")

    def sync(self) -> None:
        """Make everything written so far durable, then refresh the session summary."""
        if self._fd is None or self.info is None:
            return
        if self.durable:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
        self.info.indexed_bytes = self._offset
        write_meta(self.path, self.info, self.redact)

    def on_event(self, event: object) -> None:
        record = to_record(event)
        if record is None:
            return
        if isinstance(event, ev.SessionStarted):
            record.update(self.session_extra)
            self.write(record)
            history, self.history = self.history, []
            for item in history:
                self.write(dict(item), sync_turns=False)
            if history:
                self.sync()
            return
        self.write(record)

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)  # releases the session lock
            self._fd = None


def to_record(event: object) -> dict[str, Any] | None:
    if isinstance(event, ev.ChildEvent):  # a subagent's record: a side chain of the Task call (Claude Code's isSidechain)
        record = to_record(event.event)
        if record is not None:
            record.setdefault("isSidechain", True)
            record.setdefault("parent_tool_use_id", event.parent_call_id)
            record.setdefault("agent", event.agent_name)
        return record
    if isinstance(event, ev.SessionStarted):
        return {"type": "session", "session_id": event.session_id, "model": event.model,
                "provider": event.provider, "cwd": event.cwd, "permission_mode": event.permission_mode,
                "sandbox": event.sandbox, "notices": event.notices}
    if isinstance(event, ev.UserPrompt):
        return {"type": "user", "content": [{"type": "text", "text": event.text}]}
    if isinstance(event, ev.AssistantMessage):
        return {"type": "assistant", "id": event.message_id, "model": event.model,
                "stop_reason": event.stop_reason, "usage": event.usage.as_dict(),
                "content": [block_to_dict(b) for b in event.message.content]}
    if isinstance(event, ev.ToolResults):
        return {"type": "user", "content": [block_to_dict(b) for b in event.message.content]}
    if isinstance(event, ev.PermissionDecision):
        return {"type": "permission", "tool_use_id": event.tool_use_id, "tool_name": event.tool_name,
                "allowed": event.allowed, "reason": event.reason, "source": event.source}
    if isinstance(event, ev.Compacted):
        return {"type": "compaction", "tokens_before": event.tokens_before, "tokens_after": event.tokens_after,
                "summary": event.summary,
                "messages": [{"role": m.role, "content": [block_to_dict(b) for b in m.content]}
                             for m in event.messages]}
    if isinstance(event, ev.Rewound):
        return {"type": "rewind", "turn": event.turn,
                "messages": [{"role": m.role, "content": [block_to_dict(b) for b in m.content]}
                             for m in event.messages]}
    if isinstance(event, ev.Notice):
        return {"type": "notice", "message": event.message}
    if isinstance(event, ev.Checkpoint):
        return {"type": "checkpoint", "session_id": event.session_id, "turn": event.turn,
                "checkpoint": event.checkpoint, "message_index": event.message_index, "before": event.before,
                "after": event.after, "files_changed": event.files_changed}
    if isinstance(event, ev.Error):
        return {"type": "error", "kind": event.kind, "message": event.message}
    if isinstance(event, ev.Retry):
        return {"type": "retry", "attempt": event.attempt, "delay_s": event.delay_s, "reason": event.reason}
    if isinstance(event, ev.RunFinished):
        return {"type": "result", "subtype": event.subtype, "num_turns": event.num_turns,
                "cost_usd": event.cost_usd, "usage": event.usage.as_dict()}
    return None
