"""`!command` at the prompt: the person's own shell command, with its output kept for the model.

Like typing it in their own terminal: it runs in the project folder, outside the sandbox and
without a permission question, because the person typed it, not the model. The environment
is the tools' (`child_env`: API keys and other secrets removed), since the output goes to
the model with the next message, and known secret values are redacted from that copy.
Ctrl-C stops the command, not ketch.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

MAX_CONTEXT_CHARS = 30_000


def run_shell_escape(command: str, workspace: Path, show: Callable[[str], None],
                     redact: Callable[[str], str]) -> str:
    """Run `command`, show its output, return the block to send with the next message."""
    from ketch.security.sandbox.env import child_env

    shell = os.environ.get("SHELL") or "/bin/sh"
    proc = subprocess.Popen([shell, "-c", command], cwd=workspace, env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    note = ""
    try:
        data, _ = proc.communicate()
    except KeyboardInterrupt:  # the terminal sent SIGINT to the command and to ketch
        proc.kill()
        data, _ = proc.communicate()
        note = "\n(interrupted)"
    text = data.decode("utf-8", "replace") + note
    if proc.returncode not in (0, None) and not note:
        text += f"\n(exit status {proc.returncode})"
    show(text)
    kept = redact(text)
    if len(kept) > MAX_CONTEXT_CHARS:
        kept = kept[:MAX_CONTEXT_CHARS] + f"\n… ({len(text) - MAX_CONTEXT_CHARS} more characters not kept)"
    return f"<user-shell-command>{command}</user-shell-command>\n<output>\n{kept.rstrip()}\n</output>"
