"""Drive the real `ketch` in a pseudo-terminal and read its screen through pyte (80x24).

Waits are bounded polls of the emulated screen (or of everything printed so far), never
fixed sleeps, so the tests are as fast as ketch is and fail with the screen in the message.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pexpect
import pyte
from harness import TEST_ANTHROPIC_KEY, ketch_argv

PROMPT_LINE = re.compile(r"(?:[a-z' ]+ )?>")  # "> ", or "accept edits > " outside the default mode
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07")


def ketch_env(ketch_home: Path, server_url: str | None, **extra: str) -> dict[str, str]:
    """The environment run_ketch uses, for a terminal session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.update({"KETCH_HOME": str(ketch_home), "KETCH_RETRY_BASE_DELAY": "0", "NO_COLOR": "1",
                "TERM": "xterm", "COLUMNS": "80", "LINES": "24"})
    if server_url:
        env.update({"ANTHROPIC_BASE_URL": server_url, "ANTHROPIC_API_KEY": TEST_ANTHROPIC_KEY})
    env.update(extra)
    return env


class Term:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, model: str = "claude-sonnet-4-5") -> None:
        argv = ketch_argv() + (["--model", model] if model else []) + args
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(cwd), dimensions=(24, 80))
        self.screen = pyte.Screen(80, 24)
        self.screen.write_process_input = lambda data: self.child.send(data.encode())  # answers CPR queries
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def _pump(self, timeout: float) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            raise
        self.raw += data
        self.stream.feed(data)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def printed(self) -> str:
        """Everything written so far, escape sequences removed (what scrolled away too)."""
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace").replace("\r", "")

    def wait(self, needle: str, timeout: float = 15, where: str = "screen", since: int = 0) -> None:
        """`needle` on the screen, or (where="printed") in what was printed after the first `since` characters."""
        deadline = time.monotonic() + timeout
        while True:
            haystack = self.text if where == "screen" else self.printed[since:]
            if needle in haystack:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} did not appear within {timeout}s; screen:\n{self.text}")
            try:
                self._pump(min(left, 0.2))
            except pexpect.EOF:
                raise AssertionError(f"ketch exited before {needle!r} appeared; screen:\n{self.text}") from None

    def wait_prompt(self, timeout: float = 15) -> None:
        """The input prompt (`> `, after the mode's name outside the default mode) holds the cursor."""
        deadline = time.monotonic() + timeout
        while True:
            if PROMPT_LINE.fullmatch(self.screen.display[self.screen.cursor.y].rstrip()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no prompt within {timeout}s; screen:\n{self.text}")
            try:
                self._pump(0.2)
            except pexpect.EOF:
                raise AssertionError(f"ketch exited; screen:\n{self.text}") from None

    def resize(self, rows: int, cols: int) -> None:
        """Resize the window as a terminal does: the emulated screen and the pty (SIGWINCH)."""
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def send(self, text: str) -> None:
        self.child.send(text)

    def wait_exit(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            try:
                self._pump(0.2)
            except pexpect.EOF:
                break
        self.child.wait() if not self.child.isalive() else self.child.terminate(force=True)
        return self.child.exitstatus if self.child.exitstatus is not None else -1

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
