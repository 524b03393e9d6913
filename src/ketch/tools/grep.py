"""Grep: ripgrep over the workspace, with the model's strings kept out of rg's flags.

The model controls pattern, path, glob and type, and a model string that rg parsed as a
flag could run programs (`--pre=sh`) or read config. So every such string travels
inside a flag of our choosing (`--regexp=`, `--glob=`, `--type=`) or after `--`, and
`--no-config` shuts out RIPGREP_CONFIG_PATH.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.tools.base import (
    CommandResult,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    load_definition,
    read_only_runner,
)
from ketch.tools.paths import missing, resolve
from ketch.tools.ripgrep import find_rg, mtime
from ketch.tools.validate import require_valid

RG_TIMEOUT_S = 60.0
COLLECT_MAX_CHARS = 4_000_000
MAX_OUTPUT_CHARS = 30_000
MAX_COLUMNS = 1000
MODES = ("content", "files_with_matches", "count")


def build_argv(rg: str, input: dict[str, Any], target: Path) -> list[str]:
    """rg's argv: fixed flags first, model strings only as `--flag=value` or after `--`."""
    mode = input.get("output_mode") or "files_with_matches"
    argv = [
        rg,
        "--no-config",
        "--hidden",
        "--glob=!.git",
        "--no-messages",
        "--color=never",
        f"--max-columns={MAX_COLUMNS}",
        "--max-columns-preview",
    ]
    if input.get("-i"):
        argv.append("--ignore-case")
    if input.get("multiline"):
        argv += ["--multiline", "--multiline-dotall"]
    if mode == "files_with_matches":
        argv += ["--files-with-matches", "--null"]
    elif mode == "count":
        argv += ["--count-matches", "--with-filename", "--null"]
    else:
        argv += ["--no-heading", "--with-filename"]
        argv.append("--line-number" if input.get("-n", True) else "--no-line-number")
        for key, flag in (("-C", "--context"), ("-B", "--before-context"), ("-A", "--after-context")):
            if input.get(key) is not None:
                argv.append(f"{flag}={_non_negative(input[key], key)}")
    for part in str(input.get("glob") or "").split():
        argv.append(f"--glob={part}")
    if input.get("type"):
        argv.append(f"--type={input['type']}")
    argv.append(f"--regexp={input['pattern']}")
    argv += ["--", os.fspath(target)]
    return argv


def _non_negative(value: Any, name: str) -> int:
    number = int(value)
    if number < 0:
        raise ToolError(f"{name} must not be negative")
    return number


def _rg_failure(result: CommandResult) -> ToolResult | None:
    """An error result for a failed or unfinished search, None if rg produced results."""
    if result.timed_out:
        return ToolResult(
            f"Search timed out after {RG_TIMEOUT_S:g} s; narrow it with path, glob or type.", is_error=True
        )
    if result.cancelled:
        return ToolResult("Search was cancelled.", is_error=True)
    if result.exit_code not in (0, 1) and result.output.strip():
        # With --no-messages, unreadable files are silent; what remains is a bad pattern,
        # an unknown type or a bad glob, reported before any result.
        message = result.output.strip()
        return ToolResult(message[:2000], is_error=True)
    return None


def _limit(items: list[str], head_limit: int | None) -> tuple[list[str], str]:
    if head_limit is None or head_limit <= 0 or len(items) <= head_limit:
        return items, ""
    return items[:head_limit], f"\n(head_limit: showing the first {head_limit} of {len(items)})"


class GrepTool:
    name = "Grep"
    kind: ToolKind = "read"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        if not input["pattern"]:
            raise ToolError("pattern is empty")
        raw_path = input.get("path")
        if raw_path in (None, "", "undefined", "null"):
            raw_path = str(ctx.workspace)
        target = resolve(raw_path, ctx.workspace)
        if not os.path.exists(target):
            raise ToolError(f"Path does not exist: {missing(target, ctx.workspace)}")
        argv = build_argv(find_rg(), input, target)
        head_limit = int(input["head_limit"]) if input.get("head_limit") is not None else None
        try:
            result = read_only_runner(ctx.runner)(
                argv, cwd=ctx.workspace, timeout_s=RG_TIMEOUT_S, cancel=ctx.cancel, max_output_chars=COLLECT_MAX_CHARS
            )
        except OSError as exc:
            raise ToolError(f"Could not run ripgrep: {exc.strerror or exc}") from None
        failure = _rg_failure(result)
        if failure is not None:
            return failure
        if not result.output.strip():
            return ToolResult("No matches found")
        mode = input.get("output_mode") or "files_with_matches"
        if mode == "files_with_matches":
            text = self._files(result.output, head_limit)
        elif mode == "count":
            text = self._counts(result.output, head_limit)
        else:
            lines, note = _limit(result.output.rstrip("\n").split("\n"), head_limit)
            text = "\n".join(lines) + note
        from ketch.security.sandbox.bwrap import cap_output  # here, not at import: it pulls in subprocess

        return ToolResult(cap_output(text, MAX_OUTPUT_CHARS)[0])

    @staticmethod
    def _files(output: str, head_limit: int | None) -> str:
        paths = [p for p in output.split("\0") if p]
        paths.sort(key=lambda p: (-mtime(p), p))
        shown, note = _limit(paths, head_limit)
        noun = "file" if len(paths) == 1 else "files"
        return f"Found {len(paths)} {noun}\n" + "\n".join(shown) + note

    @staticmethod
    def _counts(output: str, head_limit: int | None) -> str:
        entries: list[tuple[str, int]] = []
        for line in output.split("\n"):
            name, sep, count = line.rpartition("\0")
            if sep and count.strip().isdigit():
                entries.append((name, int(count)))
        total = sum(count for _, count in entries)
        shown, note = _limit([f"{name}:{count}" for name, count in entries], head_limit)
        noun = "file" if len(entries) == 1 else "files"
        summary = f"\n\nFound {total} match{'es' if total != 1 else ''} in {len(entries)} {noun}."
        return "\n".join(shown) + note + summary
