"""End-to-end: Claude Code hooks in the real `ketch -p` against the fake model server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from harness import TEST_ANTHROPIC_KEY, tool_results


def hook_script(folder: Path, name: str, body: str) -> str:
    """A Python hook program outside the project; returns the command that runs it."""
    path = folder / f"{name}.py"
    path.write_text("import json, os, sys\nevent = json.load(sys.stdin)\n" + body)
    return f"{sys.executable} {path}"


def user_hooks(ketch_home: Path, hooks: dict[str, Any], **extra: Any) -> None:
    (ketch_home / "settings.json").write_text(json.dumps({"hooks": hooks, **extra}))


def one(event: str, command: str, matcher: str = "", timeout: float | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "command", "command": command}
    if timeout is not None:
        entry["timeout"] = timeout
    return {event: [{"matcher": matcher, "hooks": [entry]}]}


def user_text(request_body: dict) -> str:
    """Every text block of the request's user messages (anthropic dialect)."""
    parts = []
    for message in request_body["messages"]:
        if message["role"] == "user" and isinstance(message["content"], list):
            parts += [b.get("text", "") for b in message["content"] if b.get("type") == "text"]
        elif message["role"] == "user":
            parts.append(message["content"])
    return "\n".join(parts)


def test_pre_tool_hook_blocks_rm_with_exit_2_and_the_model_sees_why(server, run_ketch, workspace, ketch_home):
    (workspace / "notes.txt").write_text("keep me\n")
    command = hook_script(ketch_home, "no_rm", (
        "if event['tool_input']['command'].startswith('rm '):\n"
        "    print('rm is not allowed here; move files to trash/ instead', file=sys.stderr)\n"
        "    sys.exit(2)\n"))
    user_hooks(ketch_home, one("PreToolUse", command, "Bash"))
    fake = server([{"tool_calls": [{"name": "Bash", "id": "call_rm", "input": {"command": "rm notes.txt"}}]},
                   {"text": "I could not delete it."}])
    run = run_ketch(["-p", "delete notes.txt", "--output-format", "json",
                     "--allowedTools", "Bash(rm notes.txt)"], server=fake)
    assert run.returncode == 0, run.stderr
    assert (workspace / "notes.txt").exists()
    result = tool_results(fake.requests[1].body, "anthropic")[0]
    assert result["is_error"] and "move files to trash/ instead" in result["content"]
    assert run.json()["permission_denials"][0]["tool_use_id"] == "call_rm"


def test_pre_tool_hook_rewrites_the_input_and_its_allow_spares_the_question(server, run_ketch, workspace, ketch_home):
    command = hook_script(ketch_home, "rewrite", (
        "new = dict(event['tool_input'], content='rewritten by the hook\\n')\n"
        "print(json.dumps({'hookSpecificOutput': {'hookEventName': 'PreToolUse', 'permissionDecision': 'allow',"
        " 'permissionDecisionReason': 'house style', 'updatedInput': new}}))\n"))
    user_hooks(ketch_home, one("PreToolUse", command, "Write|Edit"))
    fake = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "a.txt", "content": "model text\n"}}]},
                   {"text": "written"}])
    run = run_ketch(["-p", "write a.txt", "--output-format", "json"], server=fake)  # headless: asks are refused
    assert run.returncode == 0, run.stderr
    assert (workspace / "a.txt").read_text() == "rewritten by the hook\n"
    assert run.json()["permission_denials"] == []


def test_a_rewritten_input_is_checked_against_the_schema_again(server, run_ketch, workspace, ketch_home):
    command = hook_script(ketch_home, "bad", (
        "print(json.dumps({'hookSpecificOutput': {'permissionDecision': 'allow', 'updatedInput': {'path': 3}}}))\n"))
    user_hooks(ketch_home, one("PreToolUse", command, "Write"))
    fake = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "a.txt", "content": "x"}}]},
                   {"text": "ok"}])
    run = run_ketch(["-p", "write a.txt", "--output-format", "json"], server=fake)
    assert not (workspace / "a.txt").exists()
    assert "rewrote the input of Write into an invalid one" in tool_results(fake.requests[1].body, "anthropic")[0]["content"]
    assert run.returncode == 0


def test_a_hook_allow_never_beats_a_deny_rule(server, run_ketch, workspace, ketch_home):
    command = hook_script(ketch_home, "allow_all", (
        "print(json.dumps({'hookSpecificOutput': {'permissionDecision': 'allow'}}))\n"))
    user_hooks(ketch_home, one("PreToolUse", command))
    fake = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "a.txt", "content": "x"}}]},
                   {"text": "refused"}])
    run = run_ketch(["-p", "write a.txt", "--output-format", "json", "--disallowedTools", "Write(a.txt)"], server=fake)
    assert run.returncode == 0, run.stderr
    assert not (workspace / "a.txt").exists()
    assert "denied by rule Write(a.txt)" in tool_results(fake.requests[1].body, "anthropic")[0]["content"]


def test_a_stop_hook_makes_the_agent_go_on_once(server, run_ketch, workspace, ketch_home):
    log = ketch_home / "stop.log"
    command = hook_script(ketch_home, "stop", (
        f"open({str(log)!r}, 'a').write(json.dumps(event) + '\\n')\n"
        "if not event['stop_hook_active']:\n"
        "    print(json.dumps({'decision': 'block', 'reason': 'run the test suite before you stop'}))\n"))
    user_hooks(ketch_home, one("Stop", command))
    fake = server([{"text": "done"}, {"text": "tests ran, done now"}])
    run = run_ketch(["-p", "fix it", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert run.json()["result"] == "tests ran, done now"
    assert len(fake.requests) == 2
    assert "run the test suite before you stop" in user_text(fake.requests[1].body)
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["stop_hook_active"] for e in seen] == [False, True]
    assert seen[0]["hook_event_name"] == "Stop" and seen[0]["cwd"] == str(workspace)


def test_a_user_prompt_submit_hook_adds_context(server, run_ketch, workspace, ketch_home):
    command = hook_script(ketch_home, "ctx", "print('the release freeze starts friday')\n")
    user_hooks(ketch_home, one("UserPromptSubmit", command))
    fake = server([{"text": "noted"}])
    run = run_ketch(["-p", "plan the week"], server=fake)
    assert run.returncode == 0, run.stderr
    sent = user_text(fake.requests[0].body)
    assert "plan the week" in sent and "the release freeze starts friday" in sent


def test_a_user_prompt_submit_hook_blocks_the_prompt(server, run_ketch, workspace, ketch_home):
    command = hook_script(ketch_home, "block", "print('no prompts about secrets', file=sys.stderr); sys.exit(2)\n")
    user_hooks(ketch_home, one("UserPromptSubmit", command))
    fake = server([{"text": "never"}])
    run = run_ketch(["-p", "print the secrets", "--output-format", "json"], server=fake)
    assert run.returncode == 1
    assert fake.requests == []
    assert "no prompts about secrets" in json.dumps(run.json())


def test_a_hook_that_hangs_is_killed_at_its_timeout_and_the_run_goes_on(server, run_ketch, workspace, ketch_home):
    (workspace / "f.txt").write_text("content\n")
    marker = ketch_home / "child-alive"
    command = hook_script(ketch_home, "hang", (
        "import subprocess\n"
        f"subprocess.Popen(['sh', '-c', 'sleep 30; touch {marker}'])\n"
        "import time; time.sleep(30)\n"))
    user_hooks(ketch_home, one("PreToolUse", command, "Read", timeout=1))
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "f.txt"}}]}, {"text": "read it"}])
    t0 = time.monotonic()
    run = run_ketch(["-p", "read f.txt", "--output-format", "json"], server=fake)
    assert time.monotonic() - t0 < 20
    assert run.returncode == 0, run.stderr
    assert "killed after its 1 s timeout" in run.stderr
    assert "content" in tool_results(fake.requests[1].body, "anthropic")[0]["content"]


def test_a_hook_printing_invalid_json_is_reported_and_ignored(server, run_ketch, workspace, ketch_home):
    (workspace / "f.txt").write_text("content\n")
    command = hook_script(ketch_home, "badjson", "print('{\"decision\": \"block\", oops')\n")
    user_hooks(ketch_home, one("PreToolUse", command, "Read"))
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "f.txt"}}]}, {"text": "read it"}])
    run = run_ketch(["-p", "read f.txt", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert "printed invalid JSON" in run.stderr
    result = tool_results(fake.requests[1].body, "anthropic")[0]
    assert not result["is_error"] and "content" in result["content"]


def test_post_tool_hook_feedback_reaches_the_model(server, run_ketch, workspace, ketch_home):
    (workspace / "f.txt").write_text("content\n")
    command = hook_script(ketch_home, "post", (
        "assert event['tool_response']['content']\n"
        "print(json.dumps({'decision': 'block', 'reason': 'lint: f.txt has no header'}))\n"))
    user_hooks(ketch_home, one("PostToolUse", command, "Read"))
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "f.txt"}}]}, {"text": "ok"}])
    run = run_ketch(["-p", "read f.txt"], server=fake)
    assert run.returncode == 0, run.stderr
    assert "lint: f.txt has no header" in tool_results(fake.requests[1].body, "anthropic")[0]["content"]


def test_hooks_never_get_credentials(server, run_ketch, workspace, ketch_home):
    dump = ketch_home / "env.json"
    command = hook_script(ketch_home, "env", f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    user_hooks(ketch_home, one("UserPromptSubmit", command))
    fake = server([{"text": "hi"}])
    run = run_ketch(["-p", "hello"], server=fake, env={"GITHUB_TOKEN": "ghp_" + "a1" * 18})
    assert run.returncode == 0, run.stderr
    env = json.loads(dump.read_text())
    text = json.dumps(env)
    assert TEST_ANTHROPIC_KEY not in text and "ghp_" not in text and "ANTHROPIC_API_KEY" not in env
    assert env["CLAUDE_PROJECT_DIR"] == str(workspace)


def project_hook(workspace: Path, marker: Path) -> None:
    (workspace / ".claude").mkdir()
    (workspace / ".claude" / "settings.json").write_text(json.dumps(
        {"hooks": one("UserPromptSubmit", f"touch {marker}")}))


def test_a_project_hook_in_an_untrusted_folder_does_not_run(server, run_ketch, workspace, ketch_home):
    marker = ketch_home / "project-hook-ran"
    project_hook(workspace, marker)
    fake = server([{"text": "hi"}])
    run = run_ketch(["-p", "hello"], server=fake)
    assert run.returncode == 0, run.stderr
    assert not marker.exists()
    assert "not trusted" in run.stderr


def test_a_project_hook_runs_only_once_its_exact_set_is_approved(server, run_ketch, workspace, ketch_home,
                                                                  monkeypatch):
    marker = ketch_home / "project-hook-ran"
    project_hook(workspace, marker)
    fake = server([{"text": "hi"}, {"text": "hi"}, {"text": "hi"}])
    run = run_ketch(["-p", "hello", "--trust"], server=fake)  # trusted, not approved: headless never asks
    assert not marker.exists() and "have not been approved" in run.stderr

    monkeypatch.setenv("KETCH_HOME", str(ketch_home))
    from ketch.ext.hooks.approvals import approve_hooks
    from ketch.ext.hooks.config import load_hooks

    approve_hooks(workspace, load_hooks(workspace, trusted=True).pending)
    run = run_ketch(["-p", "hello"], server=fake)
    assert run.returncode == 0, run.stderr
    assert marker.exists()

    marker.unlink()
    project_hook_changed = json.loads((workspace / ".claude" / "settings.json").read_text())
    project_hook_changed["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"] += " && true"
    (workspace / ".claude" / "settings.json").write_text(json.dumps(project_hook_changed))
    run = run_ketch(["-p", "hello"], server=fake)  # a changed set is asked about again
    assert not marker.exists() and "have not been approved" in run.stderr


def test_disable_all_hooks_turns_them_off(server, run_ketch, workspace, ketch_home):
    marker = ketch_home / "ran"
    user_hooks(ketch_home, one("UserPromptSubmit", f"touch {marker}"), disableAllHooks=True)
    fake = server([{"text": "hi"}])
    assert run_ketch(["-p", "hello"], server=fake).returncode == 0
    assert not marker.exists()


def test_stream_json_includes_hook_events_when_asked(server, run_ketch, workspace, ketch_home):
    user_hooks(ketch_home, one("UserPromptSubmit", "echo context-line"))
    fake = server([{"text": "hi"}, {"text": "hi"}])
    lines = [json.loads(line) for line in run_ketch(["-p", "hello", "--output-format", "stream-json",
                                                      "--include-hook-events"], server=fake).stdout.splitlines()]
    hooks = [m for m in lines if m.get("subtype") in ("hook_started", "hook_response")]
    assert [m["subtype"] for m in hooks] == ["hook_started", "hook_response"]
    assert hooks[1]["hook_event"] == "UserPromptSubmit" and hooks[1]["exit_code"] == 0
    assert hooks[1]["stdout"] == "context-line\n" and hooks[1]["outcome"] == "success"
    plain = run_ketch(["-p", "hello", "--output-format", "stream-json"], server=fake).stdout
    assert "hook_response" not in plain


def test_hooks_watch_a_subagents_calls_and_its_end_is_subagent_stop(server, run_ketch, workspace, ketch_home):
    (workspace / "notes.txt").write_text("keep me\n")
    marker = ketch_home / "subagent_stopped.json"
    no_rm = hook_script(ketch_home, "no_rm", (
        "if event['tool_input']['command'].startswith('rm '):\n"
        "    print('no rm, not even in a subagent', file=sys.stderr)\n"
        "    sys.exit(2)\n"))
    stopped = hook_script(ketch_home, "stopped", f"open({str(marker)!r}, 'w').write(json.dumps(event))\n")
    user_hooks(ketch_home, {**one("PreToolUse", no_rm, "Bash"), **one("SubagentStop", stopped)})
    fake = server([
        {"tool_calls": [{"name": "Task", "input": {"description": "clean", "prompt": "delete notes.txt",
                                                   "subagent_type": "general-purpose"}}]},
        {"tool_calls": [{"name": "Bash", "id": "call_rm", "input": {"command": "rm notes.txt"}}]},  # the child
        {"text": "the child could not delete it"},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "clean up", "--output-format", "json", "--allowedTools", "Bash(rm notes.txt)"], server=fake)
    assert run.returncode == 0, run.stderr
    assert (workspace / "notes.txt").exists()
    child_result = tool_results(fake.requests[2].body, "anthropic")[-1]
    assert child_result["is_error"] and "not even in a subagent" in child_result["content"]
    fired = json.loads(marker.read_text())
    assert fired["hook_event_name"] == "SubagentStop" and fired["agent_type"] == "general-purpose"


def test_pre_tool_hook_context_reaches_the_model_with_the_result(server, run_ketch, workspace, ketch_home):
    (workspace / "a.txt").write_text("hello\n")
    command = hook_script(ketch_home, "context", (
        "print(json.dumps({'hookSpecificOutput': {'hookEventName': 'PreToolUse',"
        " 'additionalContext': 'a.txt is generated: edit a.in instead'}}))\n"))
    user_hooks(ketch_home, one("PreToolUse", command, "Read"))
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "a.txt"}}]}, {"text": "ok"}])
    run = run_ketch(["-p", "read a.txt", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    result = tool_results(fake.requests[1].body, "anthropic")[-1]
    assert "hello" in result["content"] and "a.txt is generated: edit a.in instead" in result["content"]
