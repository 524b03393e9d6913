"""Render a real interactive ketch session to `docs/repl.svg`: `python docs/screenshot.py`.

Runs the real `ketch` REPL in an 80-column pseudo-terminal against the fake model server
from the tests (a scripted model that reads a file, edits it after asking, runs the tests
in the sandbox and sums up), reads the screen through the pyte terminal emulator, and
turns every cell, with its colours and attributes, into rich Text for rich's SVG export.
Nothing is drawn by hand: the picture is what the terminal showed. Needs `.[test]`.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pexpect
import pyte

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakeserver import FakeModelServer  # noqa: E402

COLS, ROWS = 80, 38
OUT = ROOT / "docs" / "repl.svg"

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
SUMMARY = (
    "Fixed: `add` **subtracted** its arguments.\n"
    "- `calc.py`: `return a - b` → `return a + b`\n"
    "- `python -m pytest -q`: **1 passed**\n"
    "\n"
    "| file | change |\n|---|---|\n| calc.py | 1 line |\n"
)
SCRIPT = [
    {"text": "I'll read the code first.", "tool_calls": [{"name": "Read", "input": {"file_path": "calc.py"}}],
     "usage": {"input_tokens": 3100, "output_tokens": 40}},
    {"tool_calls": [{"name": "Edit", "input": {"file_path": "calc.py", "old_string": "    return a - b",
                                               "new_string": "    return a + b"}}],
     "usage": {"input_tokens": 3300, "output_tokens": 60}},
    {"tool_calls": [{"name": "Bash", "input": {"command": "python -m pytest -q", "description": "run the tests"}}],
     "usage": {"input_tokens": 3500, "output_tokens": 30}},
    {"text": SUMMARY, "usage": {"input_tokens": 3700, "output_tokens": 90}},
]


class DimScreen(pyte.Screen):
    """pyte drops SGR 2 (dim), which ketch uses for its own quieter lines: draw it grey."""

    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
        super().select_graphic_rendition(*[a for a in attrs if a != 2])
        if 2 in attrs:
            self.cursor.attrs = self.cursor.attrs._replace(fg="8a8a8a")


class Session:
    def __init__(self, env: dict[str, str], cwd: str) -> None:
        exe = str(Path(sysconfig.get_path("scripts")) / "ketch")
        self.child = pexpect.spawn(exe, ["--model", "claude-sonnet-4-5"], env=env, cwd=cwd, dimensions=(ROWS, COLS))
        self.screen = DimScreen(COLS, ROWS)
        self.screen.write_process_input = lambda data: self.child.send(data.encode())  # answers CPR
        self.stream = pyte.ByteStream(self.screen)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise SystemExit(f"{needle!r} never appeared:\n{self.text()}")
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                pass


def _colour(name: str) -> str | None:
    if name == "default":
        return None
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name
    bright = name.startswith("bright")
    base = {"brown": "yellow"}.get(name.removeprefix("bright"), name.removeprefix("bright"))
    return f"bright_{base}" if bright else base


def screen_to_text(screen: pyte.Screen) -> list:
    from rich.style import Style
    from rich.text import Text

    rows = []
    last = max((y for y in range(screen.lines) if screen.display[y].strip()), default=0)
    for y in range(last + 1):
        line = Text()
        row = screen.buffer[y]
        for x in range(screen.columns):
            char = row[x]
            if char.data == "":
                continue  # the second cell of a wide character
            fg, bg = _colour(char.fg), _colour(char.bg)
            if char.reverse:
                fg, bg = bg or "black", fg or "white"
            line.append(char.data, Style(color=fg, bgcolor=bg, bold=char.bold, italic=char.italics,
                                         underline=char.underscore, strike=char.strikethrough))
        line.rstrip()
        rows.append(line)
    return rows


def main() -> None:
    from rich.console import Console

    server = FakeModelServer(SCRIPT).start()
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as user_home:
        project = os.path.realpath(os.path.join(user_home, "calc"))  # shown as ~/calc in the banner
        os.mkdir(project)
        Path(project, "calc.py").write_text(CALC)
        Path(project, "test_calc.py").write_text(TEST)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_", "NO_COLOR"))}
        env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-screenshot", KETCH_HOME=home,
                   HOME=os.path.realpath(user_home),
                   TERM="xterm-256color", COLORTERM="truecolor")
        session = Session(env, project)
        session.wait("Ctrl-D exits")
        session.child.send("the add test fails, fix it\r")
        session.wait("[n] deny")
        session.child.send("y")
        session.wait(" in / ")  # the status line after the turn
        session.wait("\n>")
        time.sleep(0.3)
        session.stream.feed(session.child.read_nonblocking(65536, timeout=0.5))
        rows = screen_to_text(session.screen)
        session.child.sendcontrol("d")
        session.child.expect(pexpect.EOF, timeout=10)
    server.stop()
    console = Console(record=True, width=COLS, file=open(os.devnull, "w"), color_system="truecolor")
    for row in rows:
        console.print(row, soft_wrap=True)
    OUT.write_text(console.export_svg(title="ketch"))
    print(f"wrote {OUT} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
