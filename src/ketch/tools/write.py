"""Write: replace a file's whole content, safely (the rules it shares with Edit: tools/files.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.tools.base import ToolContext, ToolKind, ToolResult, load_definition
from ketch.tools.files import check_fresh, commit, encode, os_error, stat_existing
from ketch.tools.paths import resolve
from ketch.tools.target import Target, open_target
from ketch.tools.text_codec import FileFormat, decode
from ketch.tools.validate import require_valid


def existing_text(target: Target) -> tuple[str, FileFormat]:
    """The text of the file about to be replaced (for the guards), and its encoding and BOM."""
    try:
        with os.fdopen(target.open_read(), "rb") as fh:
            return decode(fh.read())
    except OSError as exc:
        raise os_error(exc, target.path, "read") from None


def count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


class WriteTool:
    name = "Write"
    kind: ToolKind = "edit"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def paths(self, input: dict[str, Any], ctx: ToolContext) -> list[Path]:
        """The file this call would change; raises ToolError (never []) when it cannot tell."""
        return [resolve(input.get("file_path"), ctx.workspace)]

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        path = resolve(input["file_path"], ctx.workspace)
        content: str = input["content"]
        with ctx.state.lock, open_target(path, ctx, self.kind, create_dirs=True) as target:
            existing = stat_existing(target)
            before: str | None = None
            data = encode(content)
            if existing is not None:
                check_fresh(ctx, path, existing)
                before, fmt = existing_text(target)
                data = fmt.encode(content)  # a latin-1 or BOM file stays so
            commit(ctx, self.name, target, before, content, data, existing)
        verb = "Updated" if existing is not None else "Created"
        lines = count_lines(content)
        return ToolResult(f"{verb} {path} ({lines} line{'s' if lines != 1 else ''}).")
