"""Bash: one `bash -c` per call, through the sandboxed runner.

Each call is a fresh shell, so nothing a command exports, aliases or sources leaks into
the next one; only the working directory carries over, because models (and people)
expect `cd sub` to stick. The directory is recovered with an EXIT trap that writes
`pwd -P` to a temp file: a trap still fires after the command's own `exit`, and, unlike
text appended after the command, cannot be swallowed by an unterminated heredoc or a
trailing backslash in what the model wrote.

Under the OS sandbox /tmp is private, so the file goes in the sandbox's `state_dir`,
which is bound into it at the same path. The command can write there too, so the file
is read as untrusted: no symlinks, no FIFOs, bounded size, and only a folder inside
the workspace is ever adopted.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.errors import SandboxUnavailable
from ketch.tools.base import CommandResult, ToolContext, ToolError, ToolKind, ToolResult, load_definition
from ketch.tools.paths import is_inside
from ketch.tools.validate import require_valid

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
# Kept whole up to here; the loop trims what the model sees and stores the full text.
MAX_OUTPUT_CHARS = 1_000_000


def wrap(command: str, marker: str) -> str:
    """The script bash runs: our EXIT trap, then the command untouched.

    The trap shares the command's first line so bash's `line N:` messages keep matching
    the model's own line numbers. The trap's action does not call `exit`, so the shell's
    exit status stays the command's.
    """
    import shlex  # here, not at the top: a run that runs no command skips its import

    action = f"pwd -P >| {shlex.quote(marker)} 2>/dev/null"
    return f"trap {shlex.quote(action)} EXIT; {command}"


_MARKER_MAX_BYTES = 65536


def _new_marker(directory: Path | None) -> str:
    import tempfile

    fd, name = tempfile.mkstemp(prefix="ketch-cwd-", suffix=".txt", dir=directory)
    os.close(fd)
    return name


def _read_marker(name: str) -> str:
    """The directory the trap wrote, read without trusting what the command did to the file."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        fd = -1
    try:
        if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        data = os.read(fd, _MARKER_MAX_BYTES)
    except OSError:
        return ""
    finally:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(name)
        except OSError:
            pass
    text = data.decode("utf-8", errors="surrogateescape")
    return text.removesuffix("\n")


def format_result(result: CommandResult, timeout_ms: int) -> ToolResult:
    """Output first, then what went wrong: the order a person reads a terminal in."""
    parts = [result.output.rstrip("\n")] if result.output.strip() else []
    is_error = False
    if result.timed_out:
        parts.append(f"Command timed out after {timeout_ms / 1000:g} s and was killed.")
        is_error = True
    elif result.cancelled:
        parts.append("Command was cancelled by the user before it finished.")
        is_error = True
    elif result.exit_code:
        code = result.exit_code
        suffix = f" (killed by signal {-code})" if code < 0 else ""
        parts.append(f"Exit code {code}{suffix}")
        is_error = True
    return ToolResult("\n".join(parts) if parts else "(no output)", is_error=is_error)


class BashTool:
    name = "Bash"
    kind: ToolKind = "execute"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        command: str = input["command"]
        if not command.strip():
            raise ToolError("command is empty")
        timeout_ms = int(input.get("timeout") or DEFAULT_TIMEOUT_MS)
        if timeout_ms <= 0:
            raise ToolError("timeout must be a positive number of milliseconds")
        timeout_ms = min(timeout_ms, MAX_TIMEOUT_MS)
        cwd, notes = self._start_dir(ctx)
        marker = _new_marker(getattr(ctx.runner, "state_dir", None))  # may raise SandboxUnavailable
        try:
            result = ctx.runner(
                ["bash", "-c", wrap(command, marker)],
                cwd=cwd,
                timeout_s=timeout_ms / 1000,
                cancel=ctx.cancel,
                max_output_chars=MAX_OUTPUT_CHARS,
            )
        except SandboxUnavailable:
            _read_marker(marker)
            raise
        except OSError as exc:
            _read_marker(marker)
            raise ToolError(f"Could not start bash: {exc.strerror or exc}") from None
        note = self._end_dir(ctx, _read_marker(marker))
        if note:
            notes.append(note)
        formatted = format_result(result, timeout_ms)
        if notes:
            formatted.content = "\n".join([formatted.content, *notes])
        return formatted

    @staticmethod
    def _start_dir(ctx: ToolContext) -> tuple[Path, list[str]]:
        """Where this call starts: the last call's directory, if it still exists."""
        with ctx.state.lock:
            cwd = ctx.state.bash_cwd or ctx.workspace
            if cwd == ctx.workspace or os.path.isdir(cwd):
                return cwd, []
            ctx.state.bash_cwd = ctx.workspace
        return ctx.workspace, [f"(The previous working directory {cwd} no longer exists; ran in {ctx.workspace}.)"]

    @staticmethod
    def _end_dir(ctx: ToolContext, reported: str) -> str | None:
        """Remember where the command left the shell; only a directory in the workspace sticks.

        An empty report (the shell was killed, exec'd, or replaced our trap) keeps the old
        directory. Leaving the workspace resets to it, as Claude Code does, so later
        relative paths never silently point outside the project.
        """
        if not reported:
            return None
        new = Path(reported)
        with ctx.state.lock:
            if not new.is_absolute() or not os.path.isdir(new):
                return None
            if not is_inside(new, ctx.workspace):
                ctx.state.bash_cwd = ctx.workspace
                return f"(Shell working directory reset to {ctx.workspace}: it may not leave the workspace.)"
            ctx.state.bash_cwd = new
        return None
