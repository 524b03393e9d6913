"""Edit and MultiEdit: exact find-and-replace in one file.

Exact matching is what makes these edits safe to apply blind: the model must quote the
file as it is, so a stale or imagined view fails loudly instead of corrupting code. The
failure is made cheap to recover from by showing the closest region the file really has.
Both tools share `apply_edit`; MultiEdit runs it over the text in memory and writes
only if every step succeeded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.errors import OldStringNotFound
from ketch.tools.base import ToolContext, ToolError, ToolKind, ToolResult, load_definition
from ketch.tools.files import check_edit_fresh, commit, format_line, os_error, stat_existing
from ketch.tools.paths import missing, resolve
from ketch.tools.target import Target, open_target
from ketch.tools.text_codec import FileFormat, decode, follow_line_endings, keep_final_newline
from ketch.tools.validate import require_valid

# Windows that share a line with old_string (whitespace aside) are scored first; only
# when there are none is every window scored, and only while that stays under this much
# work (windows x old_string characters, ~1 us each), so a miss answers in well under 1 s.
_FULL_SCAN_BUDGET = 300_000
_MIN_SIMILARITY = 0.4
_SNIPPET_CONTEXT = 3
_SNIPPET_MAX_LINES = 40

# Said to a model that sent the same text twice (a small one does, sure it fixed something).
IDENTICAL = ("old_string and new_string are identical, so nothing would change: put in new_string the code as it "
             "must be after your fix")


def read_text(target: Target) -> tuple[str, FileFormat]:
    """The file as text, and its encoding and BOM to write it back with (tools.text_codec)."""
    try:
        with os.fdopen(target.open_read(), "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise os_error(exc, target.path, "read") from None
    return decode(raw)


def apply_edit(text: str, old: str, new: str, replace_all: bool) -> tuple[str, int]:
    """`text` with `old` replaced by `new`, and how many occurrences were replaced.

    A model reads CRLF files as plain lines, so an old_string with bare newlines is also
    tried with CRLF, and new_string then follows the file's convention.
    """
    if old == new:
        raise ToolError(IDENTICAL)
    if not old:
        raise ToolError("old_string is empty; quote the text to replace (an empty old_string only creates a new file)")
    count = text.count(old)
    if count == 0 and "\n" in old and "\r" not in old and "\r\n" in text:
        crlf_old = old.replace("\n", "\r\n")
        count = text.count(crlf_old)
        if count:
            old, new = crlf_old, new.replace("\r\n", "\n").replace("\n", "\r\n")
    if count == 0:
        raise OldStringNotFound(not_found_message(text, old), file_lines=len(text.splitlines()))
    new = follow_line_endings(text, new)
    if count > 1 and not replace_all:
        raise ToolError(
            f"old_string occurs {count} times in the file; add surrounding lines to make it unique, "
            "or set replace_all to true to change every occurrence"
        )
    return (text.replace(old, new) if replace_all else text.replace(old, new, 1)), count


def not_found_message(text: str, old: str) -> str:
    """Why old_string failed, with the file's nearest region so the model can retry at once."""
    found = closest_region(text, old)
    base = "old_string was not found in the file"
    if found is None:
        return f"{base}, and no similar region exists. Read the file again and copy the text exactly."
    start, lines, ratio = found
    shown = lines[:_SNIPPET_MAX_LINES]
    body = "\n".join(format_line(start + i, line) for i, line in enumerate(shown))
    if len(lines) > len(shown):
        body += f"\n   ... ({len(lines) - len(shown)} more lines)"
    whitespace = " ".join("\n".join(lines).split()) == " ".join(old.split())
    hint = " It differs only in whitespace or indentation." if whitespace else ""
    return (
        f"{base}. The closest region is lines {start}-{start + len(lines) - 1} "
        f"({round(ratio * 100)}% similar):{hint}\n{body}\n"
        "Copy the text exactly as it is there (whitespace included, without the line-number prefix) and retry."
    )


def closest_region(text: str, old: str) -> tuple[int, list[str], float] | None:
    """(first line number, lines, similarity) of the window most like `old`, same line count."""
    import difflib

    lines = [line.rstrip("\r") for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    target = old.replace("\r\n", "\n").strip("\n")
    if not lines or not target:
        return None
    n = target.count("\n") + 1
    span = max(len(lines) - n + 1, 1)
    starts: list[int] | range = _anchored_starts(lines, target, n, span)
    if not starts:
        if span * len(target) > _FULL_SCAN_BUDGET:
            return None
        starts = range(span)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    best_ratio, best_start = 0.0, -1
    for i in starts:
        matcher.set_seq1("\n".join(lines[i : i + n]))
        # Cheap upper bounds first: most windows are rejected without the full diff.
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best_ratio, best_start = ratio, i
    if best_start < 0 or best_ratio < _MIN_SIMILARITY:
        return None
    return best_start + 1, lines[best_start : best_start + n], best_ratio


def _anchored_starts(lines: list[str], target: str, n: int, span: int) -> list[int]:
    """Window starts that line up some file line with an equal line of `old`, best first.

    Starts are ranked by how many lines line up, and only as many are kept as the work
    budget allows, so a target made of common lines (`}`, `else:`) stays cheap.
    """
    wanted: dict[str, list[int]] = {}
    for k, line in enumerate(target.split("\n")):
        key = line.strip()
        if key:
            wanted.setdefault(key, []).append(k)
    hits: dict[int, int] = {}
    for i, line in enumerate(lines):
        for k in wanted.get(line.strip(), ()):
            if 0 <= i - k < span:
                hits[i - k] = hits.get(i - k, 0) + 1
    keep = max(_FULL_SCAN_BUDGET // max(len(target), 1), 20)
    return sorted(hits, key=lambda start: (-hits[start], start))[:keep]


def changed_snippet(before: str, after: str) -> str:
    """The changed lines of `after` with a little context, numbered like Read's output."""
    a = before.split("\n")
    b = after.split("\n")
    prefix = 0
    limit = min(len(a), len(b))
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and a[len(a) - 1 - suffix] == b[len(b) - 1 - suffix]:
        suffix += 1
    start = max(prefix - _SNIPPET_CONTEXT, 0)
    end = min(len(b) - suffix + _SNIPPET_CONTEXT, len(b))
    if b and b[-1] == "" and end == len(b):
        end -= 1  # the empty string after a final newline is not a line
    end = max(end, min(start + 1, len(b)))
    shown = b[start : min(end, start + _SNIPPET_MAX_LINES)]
    out = [format_line(start + 1 + i, line.rstrip("\r")) for i, line in enumerate(shown)]
    if end - start > len(shown):
        out.append(f"   ... ({end - start - len(shown)} more changed lines)")
    return "\n".join(out)


def _create_message(path: Path, workspace: Path) -> ToolError:
    return ToolError(
        f"File does not exist: {missing(path, workspace)}. To create it, use Write, or an empty old_string with the whole content "
        "as new_string."
    )


class EditTool:
    name = "Edit"
    kind: ToolKind = "edit"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def paths(self, input: dict[str, Any], ctx: ToolContext) -> list[Path]:
        """The file this call would change; raises ToolError (never []) when it cannot tell."""
        return [resolve(input.get("file_path"), ctx.workspace)]

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        path = resolve(input["file_path"], ctx.workspace)
        old: str = input["old_string"]
        new: str = input["new_string"]
        replace_all = bool(input.get("replace_all", False))
        count = 1
        with ctx.state.lock, open_target(path, ctx, self.kind, create_dirs=not old) as target:
            if old == new:  # after open_target: a path's own refusal (a test file, say) says more
                raise ToolError(IDENTICAL)
            existing = stat_existing(target)
            fmt = FileFormat()
            if existing is None:
                if old:
                    raise _create_message(path, ctx.workspace)
                before, after = "", new
            else:
                check_edit_fresh(ctx, path, existing)
                before, fmt = read_text(target)
                if not old:
                    if before.strip():
                        raise ToolError(
                            "old_string is empty but the file already has content; quote the text to replace"
                        )
                    after = new
                else:
                    after, count = apply_edit(before, old, new, replace_all)
                after = keep_final_newline(before, after)
            commit(ctx, self.name, target, None if existing is None else before, after, fmt.encode(after), existing)
        if existing is None:
            head = f"Created {path}:"
        elif count > 1:
            head = f"Replaced {count} occurrences in {path}:"
        else:
            head = f"Edited {path}:"
        return ToolResult(f"{head}\n{changed_snippet(before, after)}")


class MultiEditTool:
    name = "MultiEdit"
    kind: ToolKind = "edit"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def paths(self, input: dict[str, Any], ctx: ToolContext) -> list[Path]:
        """The file this call would change; raises ToolError (never []) when it cannot tell."""
        return [resolve(input.get("file_path"), ctx.workspace)]

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        path = resolve(input["file_path"], ctx.workspace)
        edits: list[dict[str, Any]] = input["edits"]
        creating = not edits[0]["old_string"]
        with ctx.state.lock, open_target(path, ctx, self.kind, create_dirs=creating) as target:
            existing = stat_existing(target)
            if existing is None:
                if edits[0]["old_string"]:
                    raise ToolError(
                        f"File does not exist: {missing(path, ctx.workspace)}. To create it, give the first edit "
                        "an empty old_string."
                    )
                before, fmt = "", FileFormat()
            else:
                check_edit_fresh(ctx, path, existing)
                before, fmt = read_text(target)
            after = self._apply_all(before, edits)
            if before:
                after = keep_final_newline(before, after)
            commit(ctx, self.name, target, None if existing is None else before, after, fmt.encode(after), existing)
        what = f"{len(edits)} edit{'s' if len(edits) != 1 else ''}"
        head = f"Created {path} with {what}:" if existing is None else f"Applied {what} to {path}:"
        return ToolResult(f"{head}\n{changed_snippet(before, after)}")

    @staticmethod
    def _apply_all(text: str, edits: list[dict[str, Any]]) -> str:
        for i, edit in enumerate(edits):
            old, new = edit["old_string"], edit["new_string"]
            try:
                if not old and old != new and i == 0 and not text.strip():
                    text = new  # creating (or filling an empty) file
                    continue
                text, _ = apply_edit(text, old, new, bool(edit.get("replace_all", False)))
            except ToolError as exc:
                where = " (line numbers below count the text as the earlier edits left it)" if i else ""
                raise ToolError(
                    f"edits[{i}] failed, so no edit was applied and the file is unchanged{where}: {exc}"
                ) from None
        return text
