"""The session index: a small summary beside each transcript, so listing never reads them.

For `<id>.jsonl` the summary is `<id>.meta.json`: id, folder, model, times, turn and
prompt counts, the first prompt, and `indexed_bytes`, how much of the transcript it
covers. The transcript's writer rewrites it (temp file + rename) at the end of each turn.
It is only a cache of the transcript, never the truth: a reader checks it against the
transcript's size and folds in just the unindexed tail (after a crash, the last turn);
a missing, stale or unreadable summary is rebuilt from the transcript in memory. Listing
N sessions therefore costs N small reads, whatever the sessions' length.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ketch.agent.sessions.records import read_lines

META_SUFFIX = ".meta.json"
FIRST_PROMPT_CHARS = 200
_VERSION = 1


def meta_path(transcript: Path) -> Path:
    return transcript.with_name(transcript.stem + META_SUFFIX)


def prompt_text(record: dict[str, Any]) -> str | None:
    """The text of a user record that is a prompt (not tool results), else None."""
    content = record.get("content")
    if record.get("type") != "user" or not isinstance(content, list) or not content:
        return None
    texts = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "text":
            return None
        texts.append(str(block.get("text", "")))
    return "".join(texts)


@dataclass
class SessionInfo:
    """What `ketch sessions list` shows, and where in the transcript it was computed up to."""

    session_id: str
    cwd: str = ""
    model: str = ""
    created: float = 0.0
    updated: float = 0.0
    turns: int = 0  # model replies, as `num_turns` in the JSON result counts them
    prompts: int = 0
    first_prompt: str = ""
    forked_from: str = ""
    indexed_bytes: int = 0

    def fold(self, record: dict[str, Any]) -> None:
        """Account for one more record of the transcript."""
        ts = record.get("ts")
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            self.created = min(self.created, ts) if self.created else float(ts)
            self.updated = max(self.updated, float(ts))
        kind = record.get("type") if not record.get("isSidechain") else "sidechain"  # a subagent's turns are not the session's
        if kind == "session":
            self.cwd = self.cwd or str(record.get("cwd") or "")
            self.model = str(record.get("model") or self.model)
            self.forked_from = self.forked_from or str(record.get("forked_from") or "")
        elif kind == "assistant":
            self.turns += 1
            self.model = str(record.get("model") or self.model)
        elif kind == "user":
            text = prompt_text(record)
            if text is not None:
                self.prompts += 1
                if not self.first_prompt:
                    self.first_prompt = text[:FIRST_PROMPT_CHARS]

    def to_json(self) -> str:
        return json.dumps({"version": _VERSION, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SessionInfo | None:
        """None unless every field has the right type: a bad summary is rebuilt, never trusted."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return None
        values: dict[str, Any] = {}
        _FIELD_TYPES: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float)}
        for f in fields(cls):
            value = data.get(f.name)
            expected = _FIELD_TYPES[str(f.type)]
            if not isinstance(value, expected) or isinstance(value, bool):
                return None
            values[f.name] = float(value) if f.type == "float" and isinstance(value, (int, float)) else value
        return cls(**values)


def write_meta(transcript: Path, info: SessionInfo, redact: Callable[[str], str]) -> None:
    """Replace the summary atomically; a failure only leaves an older summary behind.

    Not fsynced: it is a cache, and a reader repairs a stale or empty one from the
    (fsynced) transcript.
    """
    target = meta_path(transcript)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(redact(info.to_json()))
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def read_info(transcript: Path) -> SessionInfo:
    """The transcript's summary, brought up to date; raises OSError if the transcript is unreadable."""
    size = transcript.stat().st_size
    info: SessionInfo | None = None
    try:
        info = SessionInfo.from_json(meta_path(transcript).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        info = None
    if info is None or info.session_id != transcript.stem or info.indexed_bytes > size:
        info = SessionInfo(session_id=transcript.stem)
    if info.indexed_bytes < size:
        catch_up(info, transcript)
    if not info.updated:
        info.updated = transcript.stat().st_mtime
    return info


def catch_up(info: SessionInfo, transcript: Path) -> None:
    """Fold the lines after `info.indexed_bytes`; stop before a last line still being written."""
    for line in read_lines(transcript, info.indexed_bytes):
        if not line.complete:
            break
        if line.record is not None:
            info.fold(line.record)
        info.indexed_bytes = line.end
