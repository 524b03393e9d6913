"""Write: replace a file's whole content, safely (the rules it shares with Edit: tools/files.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.tools.base import ToolContext, ToolKind, ToolResult, load_definition
from ketch.tools.files import check_fresh, encode, os_error, replace_file, stat_existing
from ketch.tools.paths import resolve
from ketch.tools.target import Target, open_target
from ketch.tools.text_codec import FileFormat, decode
from ketch.tools.validate import require_valid


def existing_format(target: Target) -> FileFormat:
    """The encoding and BOM of the file about to be replaced."""
    try:
        with os.fdopen(target.open_read(), "rb") as fh:
            return decode(fh.read())[1]
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
            data = encode(content)
            if existing is not None:
                check_fresh(ctx, path, existing)
                data = existing_format(target).encode(content)  # a latin-1 or BOM file stays so
            ctx.state.read_files[str(path)] = replace_file(target, data, existing)
        verb = "Updated" if existing is not None else "Created"
        lines = count_lines(content)
        return ToolResult(f"{verb} {path} ({lines} line{'s' if lines != 1 else ''}).")
