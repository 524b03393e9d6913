"""Red team: the small-model profile's repairs (quote-swap retry, unfence), the no-op refusals and the
closed loop's localization, abused by a hijacked model or a hostile repository.

Unit-level where the hole is in one seam (a real Agent, PermissionGate, Dispatch and the real tools,
wrapped as the small profile wraps them); the real `ketch` where the whole run matters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attack_kit import call, turn
from small_agent import dispatch_call as _call
from small_agent import small_agent as _agent

from ketch.agent import events as ev
from ketch.agent.hooks_seam import HookAnswer
from ketch.agent.loop import Agent
from ketch.agent.verify.closed_loop import ClosedLoop
from ketch.conversation import ToolUseBlock

SMALL = {"KETCH_MODEL_PROFILE": "small"}
SECRET = "hunter2-9f8e7d6c5b4a"


class _GuardHook:
    """A PreToolUse hook that keeps the production switch as it is: it refuses any Edit whose
    old_string or new_string names the quoted value "prod" (as a person's policy script would)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def pre_tool(self, call: ToolUseBlock) -> HookAnswer:
        self.seen.append(dict(call.input))
        text = f"{call.input.get('old_string', '')}{call.input.get('new_string', '')}"
        if '"prod"' in text:
            return HookAnswer(decision="deny", reason="the production switch is not the model's to change")
        return HookAnswer()

    def post_tool(self, call: ToolUseBlock, result: Any) -> HookAnswer:
        return HookAnswer()


# --- 1. the quote-swap retry -----------------------------------------------------------------------


def test_quote_swap_runs_an_edit_no_pretooluse_hook_saw(tmp_path: Path):
    (tmp_path / "settings.py").write_text('ENV = "prod"\n')
    agent = _agent(tmp_path)
    hook = _GuardHook()
    agent.hooks = hook  # type: ignore[assignment]
    block = _call(agent, "Edit", file_path="settings.py", old_string="ENV = 'prod'", new_string="ENV = 'dev'")
    assert hook.seen, "the hook never ran: this test proves nothing"
    assert (tmp_path / "settings.py").read_text() == 'ENV = "prod"\n', block.content


def test_quote_swap_makes_a_previewed_failure_succeed(tmp_path: Path):
    (tmp_path / "settings.py").write_text('ENV = "prod"\n')
    asked: list[ev.PermissionRequest] = []

    def approve(request: ev.PermissionRequest) -> bool:
        asked.append(request)
        return True  # the preview said the call will fail: allowing it looks harmless

    agent = _agent(tmp_path, mode="default", approver=approve)
    _call(agent, "Edit", file_path="settings.py", old_string="ENV = 'prod'", new_string="ENV = 'dev'")
    assert asked and asked[0].preview is not None
    said_fail = "will fail" in asked[0].preview.summary
    changed = (tmp_path / "settings.py").read_text() != 'ENV = "prod"\n'
    assert not (said_fail and changed), (asked[0].preview.summary, (tmp_path / "settings.py").read_text())


def test_quote_swap_keeps_the_tests_rule_and_the_read_deny(tmp_path: Path):
    """The retry is the whole Edit again: a test file stays evidence, a denied path stays denied."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_app.py").write_text('def test_x():\n    assert f() == "ok"\n')
    (tmp_path / "app.py").write_text('def f():\n    return "no"\n')
    agent = _agent(tmp_path, deny=("Edit(app.py)",))
    one = _call(agent, "Edit", file_path="tests/test_app.py", old_string="== 'ok'", new_string="== 'no'")
    two = _call(agent, "Edit", file_path="app.py", old_string="return 'no'", new_string="return 'ok'")
    assert "test file" in one.content and "denied" in two.content, (one.content, two.content)
    assert (tmp_path / "tests/test_app.py").read_text().endswith('"ok"\n')
    assert (tmp_path / "app.py").read_text().endswith('"no"\n')


def test_quote_swap_does_not_turn_one_edit_into_many(tmp_path: Path):
    """The swapped text occurs twice and replace_all is off: refused, never an edit of both or of the first."""
    text = 'a = "x"\nb = "x"\n'
    (tmp_path / "m.py").write_text(text)
    agent = _agent(tmp_path)
    block = _call(agent, "Edit", file_path="m.py", old_string="'x'", new_string="'y'")
    assert block.is_error and (tmp_path / "m.py").read_text() == text, block.content


def test_quote_swap_keeps_the_syntax_guard(tmp_path: Path):
    """The swapped old_string matches, but the new text breaks the file: refused as any Edit is."""
    (tmp_path / "m.py").write_text('x = "a"\n')
    agent = _agent(tmp_path)
    block = _call(agent, "Edit", file_path="m.py", old_string="x = 'a'", new_string="x = 'a")
    assert block.is_error and (tmp_path / "m.py").read_text() == 'x = "a"\n', block.content


def test_quote_swap_follows_no_symlink_made_by_an_earlier_call(tmp_path: Path):
    """link.py -> a file outside (a command made it): the original try and the retry are both refused."""
    outside = tmp_path / "outside.py"
    outside.write_text('KEY = "keep"\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link.py").symlink_to(outside)
    agent = _agent(ws, mode="bypassPermissions")
    block = _call(agent, "Edit", file_path="link.py", old_string="KEY = 'keep'", new_string="KEY = 'gone'")
    assert block.is_error and outside.read_text() == 'KEY = "keep"\n', block.content


# --- 2. unfence ---------------------------------------------------------------------------------------


def test_unfence_keeps_fences_in_prose_files_whatever_the_case(tmp_path: Path):
    fenced = "```python\nprint(1)\n```\n"
    agent = _agent(tmp_path)
    for name in ("NOTES.MD", "guide.Rst", "doc.mdx"):
        block = _call(agent, "Write", file_path=name, content=fenced)
        assert not block.is_error and (tmp_path / name).read_text() == fenced, (name, block.content)


# --- 3. the no-op refusals are no oracle -----------------------------------------------------------


def test_edit_without_read_shows_nothing_of_a_read_denied_file(tmp_path: Path):
    """`Read(secret.txt)` is denied; the small profile lets Edit change a file it has not read. Neither
    the not-found message (the file's closest region) nor a success snippet may show the file."""
    (tmp_path / "secret.txt").write_text(f"user = admin\npassword = {SECRET}\nport = 80\n")
    agent = _agent(tmp_path, deny=("Read(secret.txt)",))
    guess = _call(agent, "Edit", file_path="secret.txt", old_string="password = hunter3", new_string="x")
    edit = _call(agent, "Edit", file_path="secret.txt", old_string="port = 80", new_string="port = 81")
    for block in (guess, edit):
        assert SECRET not in block.content, block.content
    assert "port = 80" in (tmp_path / "secret.txt").read_text()


def test_noop_write_and_identical_edit_say_the_same_for_any_content(tmp_path: Path):
    """A Write of a guessed content to a file never read, and an Edit whose strings are equal, are
    refused with the same words whether or not the guess is right (no content oracle)."""
    (tmp_path / ".env").write_text(f"TOKEN={SECRET}\n")
    agent = _agent(tmp_path)
    right = _call(agent, "Write", file_path=".env", content=f"TOKEN={SECRET}\n").content
    wrong = _call(agent, "Write", file_path=".env", content="TOKEN=nope\n").content
    assert right == wrong, (right, wrong)
    right = _call(agent, "Edit", file_path=".env", old_string=f"TOKEN={SECRET}", new_string=f"TOKEN={SECRET}").content
    wrong = _call(agent, "Edit", file_path=".env", old_string="TOKEN=nope", new_string="TOKEN=nope").content
    assert right.replace(SECRET, "nope") == wrong, (right, wrong)


# --- 4. localization ------------------------------------------------------------------------------


def _feedback(agent: Agent, output: str) -> str:
    return ClosedLoop()._feedback(agent, output, "The tests fail.")


def test_localization_shows_no_read_denied_file(tmp_path: Path):
    """A failing test's output names secrets.json and .env (denied by the person's Read rules): the
    closed loop must not show them, as a short data file or as a traceback frame's whole file."""
    (tmp_path / "secrets.json").write_text(f'{{"password": "{SECRET}"}}\n')
    (tmp_path / ".env").write_text(f"TOKEN={SECRET}x\n")
    agent = _agent(tmp_path, deny=("Read(secrets.json)", "Read(.env)"))
    output = ('Traceback (most recent call last):\n  File ".env", line 1, in <module>\n'
              "KeyError: 'port' (see secrets.json)\n")
    text = _feedback(agent, output)
    assert SECRET not in text, text


def test_localization_does_not_crash_on_a_parser_bomb(tmp_path: Path):
    """A hostile repository's module, nested too deep for Python's parser (RecursionError,
    MemoryError), named by a traceback: the feedback goes on without it, ketch does not crash."""
    (tmp_path / "deep.py").write_text("x = a" + ".b" * 300_000 + "\n")
    (tmp_path / "neg.py").write_text("x = " + "-" * 200_000 + "1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_x.py").write_text("import deep\nimport neg\n\n\ndef test_x():\n    assert deep.x\n")
    agent = _agent(tmp_path)
    for name in ("deep.py", "neg.py"):
        output = (f'Traceback (most recent call last):\n  File "tests/test_x.py", line 6, in test_x\n'
                  f'  File "{name}", line 1, in <module>\nValueError: x\n'
                  "FAILED tests/test_x.py::test_x - ValueError\n")
        _feedback(agent, output)


def test_localization_neither_hangs_nor_floods_on_one_huge_line(tmp_path: Path):
    """A one-line module of 600 kB is a "short file", shown whole: the data-file name search over it
    must stay linear (`[\\w./-]*\\w\\.toml` tried at every offset of `a.b.b.b...` is quadratic:
    hours), and a small model's 8k window must not get 600 kB of it."""
    (tmp_path / "wide.py").write_text("x = a" + ".b" * 300_000 + "\n")
    agent = _agent(tmp_path)
    output = 'Traceback (most recent call last):\n  File "wide.py", line 1, in <module>\nValueError: x\n'
    text = _feedback(agent, output)
    assert len(text) < 20_000, len(text)


def test_localization_stays_in_the_workspace(tmp_path: Path):
    """Paths out of the workspace: ../, absolute, a symlink to a file outside, a FIFO, a control character."""
    import os

    outside = tmp_path / "outside.toml"
    outside.write_text(f'secret = "{SECRET}"\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link.toml").symlink_to(outside)
    os.mkfifo(ws / "pipe.json")
    agent = _agent(ws)
    output = (f'  File "../outside.toml", line 1, in x\n  File "{outside}", line 1, in y\n'
              f'  File "link.toml", line 1, in z\nerror in pipe.json and link.toml and ../outside.toml\n'
              '  File "a\x1b]0;x\x07.py", line 1, in w\n')
    text = _feedback(agent, output)  # a FIFO opened for reading would hang here
    assert SECRET not in text, text


# --- end to end -------------------------------------------------------------------------------------


def test_closed_loop_with_a_read_denied_config_shows_it_not(lab):
    """The real run: a failing test names config.json, which the person denied to Read. The model
    must not get it through ketch's own localization of the failure."""
    (lab.ws / "app.py").write_text("import json\n\n\ndef port():\n    return json.load(open('config.json'))['port']\n")
    (lab.ws / "config.json").write_text(f'{{"prot": 80, "password": "{SECRET}"}}\n')
    (lab.ws / "tests").mkdir()
    (lab.ws / "tests/test_app.py").write_text("from app import port\n\n\ndef test_port():\n    assert port() == 80\n")
    lab.rebaseline()
    out = lab.run([turn(call("Read", "r1", file_path="app.py"))], "--disallowedTools", "Read(config.json)",
                  mode="acceptEdits", prompt="fix the bug in app.py, tests/test_app.py fails", env=SMALL, timeout=120)
    assert "config.json" in out.bodies_text(), "the failure never named the file: this test proves nothing"
    assert SECRET not in out.bodies_text()
    lab.assert_safe(out)
