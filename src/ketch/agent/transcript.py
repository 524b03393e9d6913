"""Append each session to disk as it happens, one JSON object per line.

The file lives at `$KETCH_HOME/projects/<folder-slug>/<session_id>.jsonl`. Each line is
flushed when written so a crash loses at most the reply being streamed; the sessions
issue adds resume, search and an explicit fsync policy on top of this format.
Every line passes the redactor: known secret values never reach the disk.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from ketch.agent import events as ev
from ketch.conversation import block_to_dict


def project_slug(workspace: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", str(workspace)).strip("-")[:200] or "root"


def transcript_path(home: Path, workspace: Path, session_id: str) -> Path:
    return home / "projects" / project_slug(workspace) / f"{session_id}.jsonl"


@dataclass
class TranscriptWriter:
    path: Path
    redact: Callable[[str], str]
    _file: IO[str] | None = None
    _broken: bool = False

    def write(self, record: dict[str, Any]) -> None:
        if self._broken:
            return
        record.setdefault("ts", round(time.time(), 3))
        line = self.redact(json.dumps(record, ensure_ascii=False))
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:
            self._broken = True
            print(f"ketch: warning: cannot write the session transcript {self.path}: {exc.strerror or exc}",
                  file=sys.stderr)

    def on_event(self, event: object) -> None:
        record = to_record(event)
        if record is not None:
            self.write(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def to_record(event: object) -> dict[str, Any] | None:
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
    if isinstance(event, ev.Notice):
        return {"type": "notice", "message": event.message}
    if isinstance(event, ev.Error):
        return {"type": "error", "kind": event.kind, "message": event.message}
    if isinstance(event, ev.Retry):
        return {"type": "retry", "attempt": event.attempt, "delay_s": event.delay_s, "reason": event.reason}
    if isinstance(event, ev.RunFinished):
        return {"type": "result", "subtype": event.subtype, "num_turns": event.num_turns,
                "cost_usd": event.cost_usd, "usage": event.usage.as_dict()}
    return None
