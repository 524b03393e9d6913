"""Long tool results: the model sees the head and the tail, and the whole text is kept.

A result over the limit would crowd the context window (and be re-sent every turn), but the
middle may be what matters: the whole text goes to a private file under outputs/ that Read
may open, and the note in the cut says where it is and how much was left out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def trim(content: str, tool_use_id: str, limit: int, outputs_dir: Path | None) -> str:
    """Head and tail of a long result; the whole of it goes to a file the model can Read."""
    if len(content) <= limit:
        return content
    where = "it was not kept"
    if outputs_dir is not None:
        try:
            where = f"the full output is in {spill(content, tool_use_id, outputs_dir)} (Read it with offset and limit)"
        except OSError as exc:
            where = f"it could not be kept: {exc.strerror or exc}"
    head, tail = limit * 2 // 5, limit * 3 // 5
    cut = content[head : len(content) - tail]
    note = f"\n\n[... {len(cut)} characters ({cut.count(chr(10))} lines) cut from the middle; {where} ...]\n\n"
    return content[:head] + note + content[len(content) - tail :]


def spill(content: str, tool_use_id: str, outputs_dir: Path) -> Path:
    """Write the whole result to outputs_dir/<call id>.txt, readable by this user only."""
    outputs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = outputs_dir / f"{re.sub(r'[^A-Za-z0-9_-]', '_', tool_use_id)}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return path
