"""What an edit did, as diff lines, and long outputs folded to their first lines.

Computed from the tool call's own input (old and new strings, written content), so showing
an edit needs no extra file reads and no re-run of the tool.
"""

from __future__ import annotations

import difflib
from typing import Any

FOLD_LINES = 8


def fold(text: str, keep: int = FOLD_LINES) -> tuple[list[str], int]:
    """The first `keep` lines of `text` and how many more there were."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    if len(lines) <= keep:
        return lines, 0
    return lines[:keep], len(lines) - keep


def _pair(old: str, new: str) -> list[str]:
    out = []
    for line in difflib.unified_diff(old.split("\n"), new.split("\n"), lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        out.append(line)
    return out


def edit_diff(tool: str, tool_input: dict[str, Any]) -> list[str]:
    """Diff lines (' ', '+', '-', '@@' prefixed) for Edit, MultiEdit and Write calls."""
    if tool == "Edit":
        return _pair(str(tool_input.get("old_string", "")), str(tool_input.get("new_string", "")))
    if tool == "MultiEdit":
        lines: list[str] = []
        for edit in tool_input.get("edits") or []:
            if isinstance(edit, dict):
                lines += _pair(str(edit.get("old_string", "")), str(edit.get("new_string", "")))
        return lines
    if tool == "Write":
        content = str(tool_input.get("content", ""))
        return ["+" + line for line in content.rstrip("\n").split("\n")] if content else []
    return []
