"""What an Edit, MultiEdit or Write call would change, computed before the person is asked.

A permission question that shows only the path makes the person decide blind (issue 15.2).
The preview applies the call the way the tool will (the tool's own `apply_edit`) to a read
of the file as it is now, and writes nothing. It stays cheap: only the question asks for it
(headless runs refuse without one); files over PREVIEW_MAX_BYTES are not read; the lines the
old and new text share at both ends are skipped before the line diff, and a middle part too
large for a fine diff is shown as removed-then-added; at most PREVIEW_MAX_LINES lines travel
in the event. The lines are raw (model and file text): front ends escape them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ketch.agent.events import ChangePreview

PREVIEW_TOOLS = frozenset({"Edit", "MultiEdit", "Write"})
PREVIEW_MAX_BYTES = 1 << 20
PREVIEW_MAX_LINES = 400
FINE_DIFF_MAX_LINES = 4000  # old + new lines of the differing middle that difflib may compare
CONTEXT = 3


class _NoPreview(Exception):
    """Why no diff can be shown (the question says so instead)."""


def preview_change(tool_name: str, tool_input: dict[str, Any], paths: list[Path]) -> ChangePreview | None:
    """The change `tool_name` would make to its one file, or None for tools that change none.

    Never raises: a preview that cannot be made must not stand between the person and the question.
    """
    if tool_name not in PREVIEW_TOOLS or len(paths) != 1:
        return None
    try:
        return _preview(tool_name, tool_input, paths[0])
    except Exception as exc:  # noqa: BLE001 - said in the question, the call itself is unaffected
        return ChangePreview([], 0, f"no preview ({type(exc).__name__}: {exc})")


def _preview(tool_name: str, tool_input: dict[str, Any], path: Path) -> ChangePreview:
    try:
        old = _read_current(path)
        new, problem = _new_text(tool_name, tool_input, old)
    except _NoPreview as exc:
        return ChangePreview([], 0, f"no preview: {exc}")
    if problem:  # the call will fail as it stands: show what the model asked for, and why
        old, new = _asked_for(tool_name, tool_input)
        lines, added, removed = line_diff(old, new)
        return _bounded(lines, f"the call will fail as it stands: {problem}")
    lines, added, removed = line_diff(old or "", new)
    if old is None:
        summary = f"new file, {added} line{'s' if added != 1 else ''}"
        lines = lines[1:]  # every line is new: the hunk header says nothing
    elif not lines:
        summary = "no change to the file's lines"
    else:
        summary = f"+{added} -{removed} lines" + (" (replaces the whole file)" if tool_name == "Write" else "")
    return _bounded(lines, summary)


def _bounded(lines: list[str], summary: str) -> ChangePreview:
    kept = [_visible(line) for line in lines[:PREVIEW_MAX_LINES]]
    return ChangePreview(kept, max(0, len(lines) - PREVIEW_MAX_LINES), summary)


def _visible(line: str) -> str:
    """Undecodable bytes (lone surrogates, as the Edit tool reads files) shown as \\xNN."""
    try:
        line.encode("utf-8")
        return line
    except UnicodeEncodeError:
        pass
    try:
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte (sent by the model)
        return line.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_current(path: Path) -> str | None:
    """The file's text now (None: it does not exist), read as the Edit tool reads it.

    The path is canonical already; O_NOFOLLOW and O_NONBLOCK keep a symlink or FIFO swapped
    in since from being followed or hanging the question.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _NoPreview(f"cannot read {path.name} ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NoPreview(f"{path.name} is not a regular file")
        if st.st_size > PREVIEW_MAX_BYTES:
            raise _NoPreview(f"{path.name} is {st.st_size / (1 << 20):.1f} MB, too large to diff here")
        chunks, size = [], 0
        while size <= PREVIEW_MAX_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > PREVIEW_MAX_BYTES:
        raise _NoPreview(f"{path.name} grew past {PREVIEW_MAX_BYTES >> 20} MB while being read")
    return b"".join(chunks).decode("utf-8", errors="surrogateescape")


def _new_text(tool_name: str, tool_input: dict[str, Any], old: str | None) -> tuple[str, str]:
    """(the text the tool would write, "") or ("", why the call will fail)."""
    from ketch.tools.base import ToolError
    from ketch.tools.edit import MultiEditTool, apply_edit

    if tool_name == "Write":
        return str(tool_input.get("content", "")), ""
    try:
        if tool_name == "MultiEdit":
            edits = [e for e in tool_input.get("edits") or [] if isinstance(e, dict)]
            if old is None and edits and edits[0].get("old_string"):
                return "", "the file does not exist"
            return MultiEditTool._apply_all(old or "", edits), ""
        old_string, new_string = str(tool_input.get("old_string", "")), str(tool_input.get("new_string", ""))
        if not old_string:
            if old is not None and old.strip():
                return "", "old_string is empty but the file has content"
            return new_string, ""
        if old is None:
            return "", "the file does not exist"
        return apply_edit(old, old_string, new_string, bool(tool_input.get("replace_all", False)))[0], ""
    except ToolError as exc:
        return "", str(exc).split("\n", 1)[0]


def _asked_for(tool_name: str, tool_input: dict[str, Any]) -> tuple[str, str]:
    """The old and new strings of a call that cannot apply, joined, to show what it meant."""
    edits = tool_input.get("edits") if tool_name == "MultiEdit" else [tool_input]
    pairs = [e for e in edits or [] if isinstance(e, dict)]
    return ("\n".join(str(e.get("old_string", "")) for e in pairs),
            "\n".join(str(e.get("new_string", "")) for e in pairs))


def line_diff(old: str, new: str, context: int = CONTEXT) -> tuple[list[str], int, int]:
    """Unified diff lines of `old` -> `new` (hunk headers with the file's line numbers), and
    how many lines were added and removed."""
    a, b = old.splitlines(), new.splitlines()
    prefix, limit = 0, min(len(a), len(b))
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and a[len(a) - 1 - suffix] == b[len(b) - 1 - suffix]:
        suffix += 1
    if prefix == len(a) == len(b):
        return [], 0, 0
    lo = max(0, prefix - context)
    a_hi, b_hi = min(len(a), len(a) - suffix + context), min(len(b), len(b) - suffix + context)
    a_win, b_win = a[lo:a_hi], b[lo:b_hi]
    if (len(a) - suffix - prefix) + (len(b) - suffix - prefix) <= FINE_DIFF_MAX_LINES:
        from difflib import SequenceMatcher

        groups = list(SequenceMatcher(None, a_win, b_win).get_grouped_opcodes(context))
    else:  # too large to compare line by line cheaply: the whole middle, out then in
        p, qa, qb = prefix - lo, len(a_win) - (a_hi - (len(a) - suffix)), len(b_win) - (b_hi - (len(b) - suffix))
        groups = [[("equal", 0, p, 0, p), ("replace", p, qa, p, qb), ("equal", qa, len(a_win), qb, len(b_win))]]
    out: list[str] = []
    added = removed = 0
    for group in groups:
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{lo + i1 + (i2 > i1)},{i2 - i1} +{lo + j1 + (j2 > j1)},{j2 - j1} @@")  # as diff -u
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in a_win[x1:x2]]
                continue
            out += ["-" + line for line in a_win[x1:x2]]
            out += ["+" + line for line in b_win[y1:y2]]
            removed += x2 - x1
            added += y2 - y1
    return out, added, removed
