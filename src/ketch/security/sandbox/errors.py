"""The one error the sandbox raises; kept apart so tools can import it cheaply."""

from __future__ import annotations

from ketch.tools.base import ToolError


class SandboxUnavailable(ToolError):
    """The OS sandbox cannot run commands here; the message says why and how to fix it.

    Ketch fails closed (DESIGN.md §5.1): it never falls back to running a command
    unsandboxed. It is a ToolError so that any tool whose runner raises it (Bash, Grep,
    Glob) hands the model an error result instead of crashing the session.
    """

    # The person running ketch must see this too, not only the model (ui prints it once).
    tell_user = True
