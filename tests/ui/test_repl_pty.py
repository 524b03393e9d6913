"""The interactive REPL, driven for real in an 80x24 pseudo-terminal against the fake model server."""

from __future__ import annotations

import json
import subprocess
import sys
import time


def _bodies(server) -> list[str]:
    return [json.dumps(r.body) for r in server.requests]


def test_prompt_appears_answer_streams_and_ctrl_d_exits_0(server, term):
    s = server([{"text": "Hello from the fake model.\nSecond line.", "usage": {"input_tokens": 1200, "output_tokens": 9}}])
    t = term(s)
    t.wait("/help for commands")
    t.wait_prompt()
    t.send("hi there\r")
    t.wait("Hello from the fake model.")
    t.wait("Second line.")
    t.wait("claude-sonnet-4-5 · context")  # the status line after the turn
    t.wait_prompt()
    t.send("\x04")
    assert t.wait_exit() == 0


def test_ctrl_c_twice_at_the_prompt_exits_0(server, term):
    t = term(server([]))
    t.wait_prompt()
    t.send("\x03")
    t.wait("Ctrl-C again")
    t.send("\x03")
    assert t.wait_exit() == 0


def test_permission_allow_shows_diff_and_deny_sends_the_note(server, term, workspace):
    s = server([
        {"text": "", "tool_calls": [{"name": "Write", "input": {"file_path": "hello.py", "content": "print('hi')\n"}}]},
        {"text": "Wrote it."},
        {"text": "", "tool_calls": [{"name": "Edit", "input": {
            "file_path": "hello.py", "old_string": "print('hi')", "new_string": "print('bye')"}}]},
        {"text": "Understood, leaving it."},
    ])
    t = term(s)
    t.wait_prompt()
    t.send("write hello.py\r")
    t.wait("Write wants permission")
    t.wait("[n] deny")
    t.send("y")
    t.wait("Wrote it.")
    assert "+print('hi')" in t.printed  # the Write rendered as a diff
    assert (workspace / "hello.py").read_text() == "print('hi')\n"
    t.wait_prompt()
    t.send("now change it\r")
    t.wait("Edit wants permission")
    t.wait("[n] deny")
    t.send("n")
    t.wait("note for the model")
    t.send("keep the greeting\r")
    t.wait("Understood, leaving it.")
    assert (workspace / "hello.py").read_text() == "print('hi')\n"
    assert "keep the greeting" in _bodies(s)[-1]
    t.send("\x04")
    assert t.wait_exit() == 0


def test_session_allow_and_edit_diff(server, term, workspace):
    (workspace / "a.txt").write_text("one\ntwo\n")
    s = server([
        {"text": "", "tool_calls": [{"name": "Read", "input": {"file_path": "a.txt"}}]},
        {"text": "", "tool_calls": [{"name": "Edit", "input": {"file_path": "a.txt", "old_string": "two", "new_string": "TWO"}}]},
        {"text": "", "tool_calls": [{"name": "Edit", "input": {"file_path": "a.txt", "old_string": "one", "new_string": "ONE"}}]},
        {"text": "Both done."},
    ])
    t = term(s)
    t.wait_prompt()
    t.send("shout\r")
    t.wait("Edit wants permission")
    t.wait("[n] deny")
    t.send("s")
    t.wait("Both done.")  # the second Edit ran without asking again
    assert t.printed.count("wants permission") == 1
    assert "-two" in t.printed and "+TWO" in t.printed
    assert (workspace / "a.txt").read_text() == "ONE\nTWO\n"


def test_esc_interrupts_a_stalled_stream_and_the_session_goes_on(server, term):
    s = server([{"text": "Partial answer that will stall forever", "stall_after": 5},
                {"text": "Second answer arrives."}])
    t = term(s)
    t.wait_prompt()
    t.send("go\r")
    t.wait("Partial answer")
    assert s.stalled.wait(5)
    started = time.monotonic()
    t.send("\x1b")
    t.wait("interrupted")
    t.wait_prompt()
    assert time.monotonic() - started < 5
    t.send("and now?\r")
    t.wait("Second answer arrives.")
    assert "Partial answer" in _bodies(s)[-1]  # the partial reply stayed in the conversation
    t.send("\x04")
    assert t.wait_exit() == 0


def test_esc_kills_a_long_command(server, term):
    s = server([{"text": "", "tool_calls": [{"name": "Bash", "input": {"command": "sleep 30"}}]},
                {"text": "Still here."}])
    t = term(s, ["--permission-mode", "bypassPermissions"])
    t.wait_prompt()
    t.send("sleep\r")
    t.wait("Bash(sleep 30)")
    started = time.monotonic()
    t.send("\x1b")
    t.wait("interrupted", timeout=10)
    t.wait_prompt()
    assert time.monotonic() - started < 8
    t.send("again\r")
    t.wait("Still here.")


def test_at_file_completion_attaches_the_file(server, term, workspace):
    (workspace / "hello_world.py").write_text("MARKER_7731 = 1\n")
    s = server([{"text": "I see the marker."}])
    t = term(s)
    t.wait_prompt()
    t.send("explain @hello_w")
    t.wait("hello_world.py")  # the completion menu
    t.send("\t")
    t.wait("explain @hello_world.py")
    t.send("\r")
    if "attached" not in t.printed:  # the first Enter may only have closed the menu
        t.send("\r")
    t.wait("I see the marker.")
    assert "MARKER_7731" in _bodies(s)[0]


def test_slash_commands_in_the_terminal(server, term):
    s = server([{"text": "ok"}])
    t = term(s)
    t.wait_prompt()
    t.send("/st")
    t.wait("/status")  # completion of slash commands
    t.send("atus\r")
    t.wait("permission mode")
    t.wait_prompt()
    t.send("/cost\r")
    t.wait("cost this session: $0.0000")
    t.send("/exit\r")
    assert t.wait_exit() == 0


def test_dumb_terminal_falls_back_to_plain_lines(server, run_ketch):
    s = server([{"text": "Plain answer.\n```python\nx = 1\n```"}])
    run = run_ketch([], server=s, stdin="hello\n/context\n", env={"TERM": "dumb"})
    assert run.returncode == 0, run.stderr
    assert "Plain answer." in run.stdout and "    x = 1" in run.stdout
    assert "messages" in run.stdout  # /context ran
    assert "\x1b" not in run.stdout


def test_headless_never_imports_the_repl_libraries(server, ketch_home, workspace):
    s = server([{"text": "fast"}])
    from pty_helpers import ketch_env as env_for

    env = env_for(ketch_home, s.url)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ketch", "--model", "claude-sonnet-4-5",
                           "-p", "hi"], env=env, cwd=workspace, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fast" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not {"rich", "prompt_toolkit", "pygments"} & imported


def test_rewind_restores_files_and_conversation(server, run_ketch, workspace):
    s = server([
        {"tool_calls": [{"name": "Write", "input": {"file_path": "new.txt", "content": "v1\n"}}]},
        {"text": "WROTE-IT"},
        {"text": "fresh start"},
    ])
    run = run_ketch(["--permission-mode", "acceptEdits"], server=s, env={"TERM": "dumb"},
                    stdin="make the file\n/rewind\n1\nb\nwhat now?\n")
    assert run.returncode == 0, run.stderr
    assert not (workspace / "new.txt").exists()
    assert "conversation rewound" in run.stdout
    last = json.dumps(s.requests[-1].body)
    assert "what now?" in last and "WROTE-IT" not in last and "new.txt" not in last


def test_permissions_remove_also_revokes_a_saved_project_rule(server, run_ketch, workspace):
    saved = workspace / ".ketch" / "settings.local.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps({"permissions": {"allow": ["Bash(npm test:*)", "Read"]}}))
    run = run_ketch(["--trust"], server=server([]), env={"TERM": "dumb"},
                    stdin="/permissions\n/permissions remove Bash(npm test:*)\n/permissions\n")
    assert run.returncode == 0, run.stderr
    listings = [line for line in run.stdout.splitlines() if "allow:" in line]
    assert "Bash(npm test:*)" in listings[0] and "Bash(npm test:*)" not in listings[-1]
    assert json.loads(saved.read_text())["permissions"]["allow"] == ["Read"]


def test_bang_runs_the_persons_command_and_its_output_goes_with_the_next_message(server, run_ketch):
    from harness import TEST_ANTHROPIC_KEY

    s = server([{"text": "I see the output."}])
    run = run_ketch([], server=s, env={"TERM": "dumb"},
                    stdin="!echo shell-said-hi; echo key=$ANTHROPIC_API_KEY\nwhat did it say?\n")
    assert run.returncode == 0, run.stderr
    assert "shell-said-hi" in run.stdout and "I see the output." in run.stdout
    assert len(s.requests) == 1  # the command itself asked the model nothing
    body = json.dumps(s.requests[0].body)
    assert "shell-said-hi" in body and "what did it say?" in body
    assert TEST_ANTHROPIC_KEY not in body and TEST_ANTHROPIC_KEY not in run.stdout  # not in the child's env
