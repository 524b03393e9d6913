"""End-to-end: the real `ketch` command against the fake model server, in both dialects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY, tool_results

DIALECTS = ["anthropic", "openai"]

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\nassert add(2, 3) == 5, 'add is broken'\nprint('calc tests ok')\n"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reads_edits_runs_tests_and_answers(dialect, server, run_ketch, workspace: Path):
    (workspace / "calc.py").write_text(BUGGY)
    (workspace / "test_calc.py").write_text(TEST)
    fake = server([
        {"text": "Let me look.", "tool_calls": [{"name": "Read", "input": {"file_path": str(workspace / "calc.py")}}]},
        {"tool_calls": [{"name": "Edit", "input": {"file_path": "calc.py", "old_string": "return a - b",
                                                   "new_string": "return a + b"}}]},
        {"tool_calls": [{"name": "Bash", "input": {"command": "python3 test_calc.py"}}]},
        {"text": "Fixed: add() subtracted instead of adding; the test passes now."},
    ])
    run = run_ketch(["-p", "fix the failing test in calc.py", "--output-format", "json",
                     "--allowedTools", "Edit", "Bash(python3 test_calc.py)"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["type"] == "result" and result["subtype"] == "success" and result["is_error"] is False
    assert result["result"].startswith("Fixed:")
    assert result["num_turns"] == 4
    assert result["permission_denials"] == []
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert result["total_cost_usd"] > 0
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"

    assert len(fake.requests) == 4
    read_result = tool_results(fake.requests[1].body, dialect)[-1]
    assert "return a - b" in read_result["content"] and "1\t" in read_result["content"]
    bash_result = tool_results(fake.requests[3].body, dialect)[-1]
    assert "calc tests ok" in bash_result["content"]
    # the first request carries the system prompt and the core tools
    first = fake.requests[0].body
    names = ([t["name"] for t in first["tools"]] if dialect == "anthropic"
             else [t["function"]["name"] for t in first["tools"]])
    assert {"Read", "Write", "Edit", "MultiEdit", "Bash", "Glob", "Grep", "TodoWrite"} <= set(names)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_refused_write_is_reported_and_nothing_changes(dialect, server, run_ketch, workspace: Path):
    (workspace / "notes.txt").write_text("keep me\n")
    fake = server([
        {"tool_calls": [{"name": "Bash", "id": "call_rm", "input": {"command": "rm notes.txt"}}]},
        {"text": "I was not allowed to delete it."},
    ])
    run = run_ketch(["-p", "delete notes.txt", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["permission_denials"] == [
        {"tool_name": "Bash", "tool_use_id": "call_rm", "tool_input": {"command": "rm notes.txt"}}]
    assert (workspace / "notes.txt").exists()
    refusal = tool_results(fake.requests[1].body, dialect)[0]
    assert "permission denied" in refusal["content"]


def test_compound_command_is_not_covered_by_prefix_rule(server, run_ketch, workspace: Path):
    (workspace / "precious").write_text("x")
    fake = server([
        {"tool_calls": [{"name": "Bash", "input": {"command": "git status; rm precious"}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "status", "--output-format", "json", "--allowedTools", "Bash(git status:*)"], server=fake)
    assert run.json()["permission_denials"][0]["tool_input"]["command"] == "git status; rm precious"
    assert (workspace / "precious").exists()


def test_accept_edits_allows_edits_but_not_commands(server, run_ketch, workspace: Path):
    fake = server([
        {"tool_calls": [{"name": "Write", "input": {"file_path": "new.txt", "content": "hello\n"}},
                        {"name": "Bash", "input": {"command": "python3 -c \"open('other.txt', 'w')\""}}]},
        {"text": "ok"},
    ])
    run = run_ketch(["-p", "x", "--output-format", "json", "--permission-mode", "acceptEdits"], server=fake)
    assert run.returncode == 0, run.stderr
    assert (workspace / "new.txt").read_text() == "hello\n"
    assert not (workspace / "other.txt").exists()
    assert [d["tool_name"] for d in run.json()["permission_denials"]] == ["Bash"]


def test_plan_mode_refuses_even_allowed_edits(server, run_ketch, workspace: Path):
    fake = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "a.txt", "content": "x"}}]},
                   {"text": "ok"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--permission-mode", "plan", "--allowedTools", "Write"],
                    server=fake)
    assert not (workspace / "a.txt").exists()
    assert run.json()["permission_denials"][0]["tool_name"] == "Write"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_retries_overload_twice_then_succeeds(dialect, server, run_ketch):
    status = 529 if dialect == "anthropic" else 503
    fake = server([
        {"status": status, "message": "Overloaded", "headers": {"retry-after": "0"}},
        {"status": status, "message": "Overloaded", "headers": {"retry-after": "0"}},
        {"text": "hello after retries"},
    ])
    run = run_ketch(["-p", "hi"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "hello after retries"
    assert len(fake.requests) == 3


@pytest.mark.parametrize("dialect", DIALECTS)
def test_cut_stream_is_resent_and_partial_text_dropped(dialect, server, run_ketch):
    fake = server([{"cut": True, "text": "partial answ"}, {"text": "complete answer"}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    assert run.json()["result"] == "complete answer"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bad_key_is_one_clear_line_without_retry(dialect, server, run_ketch):
    fake = server([{"status": 401, "message": "invalid x-api-key"}])
    run = run_ketch(["-p", "hi"], server=fake, dialect=dialect)
    assert run.returncode == 1
    assert len(fake.requests) == 1
    err = run.stderr.strip().splitlines()
    assert len(err) == 1 and "401" in err[0]
    assert ("ANTHROPIC_API_KEY" if dialect == "anthropic" else "OPENAI_API_KEY") in err[0]
    assert "Traceback" not in run.stderr
    assert TEST_ANTHROPIC_KEY not in run.stderr + run.stdout and TEST_OPENAI_KEY not in run.stderr + run.stdout


@pytest.mark.parametrize("dialect", DIALECTS)
def test_malformed_tool_arguments_become_an_error_result(dialect, server, run_ketch):
    fake = server([{"tool_calls": [{"name": "Read", "id": "t1", "raw_arguments": '{"file_path": "a.py"'}]},
                   {"text": "sorry"}])
    run = run_ketch(["-p", "x", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    result = tool_results(fake.requests[1].body, dialect)[0]
    assert result["id"] == "t1" and "invalid arguments" in result["content"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_tool_becomes_an_error_result(dialect, server, run_ketch):
    fake = server([{"tool_calls": [{"name": "Frobnicate", "id": "t9", "input": {}}]}, {"text": "ok"}])
    run = run_ketch(["-p", "x", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    result = tool_results(fake.requests[1].body, dialect)[0]
    assert "unknown tool 'Frobnicate'" in result["content"] and "Read" in result["content"]


def test_max_turns_stops_with_error_subtype(server, run_ketch):
    fake = server([{"tool_calls": [{"name": "Glob", "input": {"pattern": "*"}}]}, {"text": "never reached"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--max-turns", "1"], server=fake)
    assert run.returncode == 1
    result = run.json()
    assert result["subtype"] == "error_max_turns" and result["is_error"] is True and result["num_turns"] == 1
    assert len(fake.requests) == 1


def test_stream_json_lines(server, run_ketch, workspace: Path):
    (workspace / "a.txt").write_text("alpha\n")
    fake = server([{"tool_calls": [{"name": "Read", "id": "r1", "input": {"file_path": "a.txt"}}]},
                   {"text": "It says alpha."}])
    run = run_ketch(["-p", "read a.txt", "--output-format", "stream-json"], server=fake)
    assert run.returncode == 0, run.stderr
    lines = run.lines()
    assert [(l["type"], l.get("subtype")) for l in lines] == [
        ("system", "init"), ("assistant", None), ("user", None), ("assistant", None), ("result", "success")]
    init = lines[0]
    assert init["model"] == "claude-sonnet-4-5" and init["permissionMode"] == "default"
    assert "Read" in init["tools"] and init["cwd"] == str(workspace.resolve())
    assert lines[1]["message"]["content"][0] == {"type": "tool_use", "id": "r1", "name": "Read",
                                                 "input": {"file_path": "a.txt"}}
    assert lines[2]["message"]["content"][0]["tool_use_id"] == "r1"
    assert lines[-1]["result"] == "It says alpha."
    assert len({l["session_id"] for l in lines}) == 1


def test_piped_stdin_is_the_prompt_or_its_context(server, run_ketch):
    fake = server([{"text": "a"}, {"text": "b"}])
    assert run_ketch(["-p"], server=fake, stdin="explain this\n").returncode == 0
    assert run_ketch(["-p", "summarise"], server=fake, stdin="LOG LINE 42\n").returncode == 0
    first = fake.requests[0].body["messages"][0]["content"]
    second = fake.requests[1].body["messages"][0]["content"]
    text = lambda c: c if isinstance(c, str) else "".join(b.get("text", "") for b in c)
    assert "explain this" in text(first)
    assert text(second).startswith("summarise") and "LOG LINE 42" in text(second)


def test_credentials_never_reach_tools(server, run_ketch):
    fake = server([{"tool_calls": [{"name": "Bash", "input": {"command": "env; echo $ANTHROPIC_API_KEY"}}]},
                   {"text": "ok"}])
    run = run_ketch(["-p", "x", "--permission-mode", "bypassPermissions"], server=fake,
                    env={"MY_SERVICE_TOKEN": "tok-very-secret-99"})
    assert run.returncode == 0, run.stderr
    output = tool_results(fake.requests[1].body, "anthropic")[0]["content"]
    assert "PATH=" in output
    assert TEST_ANTHROPIC_KEY not in output and "tok-very-secret-99" not in output


def test_transcript_is_written_and_redacted(server, run_ketch, ketch_home: Path, workspace: Path):
    fake = server([{"text": f"the key is {TEST_ANTHROPIC_KEY}"}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake)
    session_id = run.json()["session_id"]
    files = list((ketch_home / "projects").rglob(f"{session_id}.jsonl"))
    assert len(files) == 1
    records = [json.loads(l) for l in files[0].read_text().splitlines()]
    assert [r["type"] for r in records] == ["session", "user", "assistant", "result"]
    assert TEST_ANTHROPIC_KEY not in files[0].read_text()
    assert TEST_ANTHROPIC_KEY not in run.stdout


def test_openai_compatible_server_needs_no_key(server, run_ketch):
    fake = server([{"text": "local model says hi"}])
    run = run_ketch(["-p", "hi", "--model", "openai:llama3.1"], server=fake, dialect="openai",
                    env={"OPENAI_API_KEY": ""})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "local model says hi"
    assert "authorization" not in fake.requests[0].headers
    assert fake.requests[0].path == "/v1/chat/completions"


def test_unknown_model_price_costs_zero_but_runs(server, run_ketch):
    fake = server([{"text": "hi"}])
    run = run_ketch(["-p", "hi", "--model", "openai:my-local-model", "--output-format", "json"], server=fake,
                    dialect="openai")
    assert run.returncode == 0 and run.json()["total_cost_usd"] == 0


# -- usage errors: exit 2, one line ------------------------------------------------------

def test_version(run_ketch):
    run = run_ketch(["--version"], model=None)
    assert run.returncode == 0 and "ketch" in run.stdout


def test_no_prompt_is_a_usage_error(run_ketch, server):
    run = run_ketch(["-p"], server=server([]))
    assert run.returncode == 2 and "no prompt" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_missing_key_is_a_usage_error(run_ketch):
    run = run_ketch(["-p", "hi"], model="claude-sonnet-4-5")
    assert run.returncode == 2
    assert run.stderr.strip() == "ketch: ANTHROPIC_API_KEY is not set: export it, or run `ketch auth login`"


def test_no_model_configured(run_ketch):
    run = run_ketch(["-p", "hi"], model=None)
    assert run.returncode == 2 and "no model configured" in run.stderr


def test_unrecognised_bare_model_name(run_ketch, server):
    run = run_ketch(["-p", "hi"], server=server([]), model="llama3.1")
    assert run.returncode == 2 and "openai:" in run.stderr and "Traceback" not in run.stderr


def test_malformed_settings_is_one_clear_line(run_ketch, server, ketch_home: Path):
    (ketch_home / "settings.json").write_text('{"model": "claude-sonnet-4-5",,}')
    run = run_ketch(["-p", "hi"], server=server([]))
    assert run.returncode == 2
    assert "settings.json: invalid JSON at line 1" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_settings_model_and_rules_apply(run_ketch, server, ketch_home: Path, workspace: Path):
    (ketch_home / "settings.json").write_text(json.dumps(
        {"model": "claude-haiku-4-5", "permissions": {"allow": ["Write"]}}))
    fake = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "w.txt", "content": "w"}}]},
                   {"text": "ok"}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake, model=None)
    assert run.returncode == 0, run.stderr
    assert fake.requests[0].body["model"] == "claude-haiku-4-5"
    assert (workspace / "w.txt").read_text() == "w"


def test_bad_permission_rule_is_a_usage_error(run_ketch, server):
    run = run_ketch(["-p", "hi", "--allowedTools", "Bash(git status"], server=server([]))
    assert run.returncode == 2 and "unbalanced parenthesis" in run.stderr


def test_disallowed_tool_is_not_offered(run_ketch, server):
    fake = server([{"text": "ok"}])
    run_ketch(["-p", "hi", "--disallowedTools", "Bash", "Write"], server=fake)
    names = [t["name"] for t in fake.requests[0].body["tools"]]
    assert "Bash" not in names and "Write" not in names and "Read" in names


def _system_text(body: dict) -> str:
    system = body["system"]
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


def test_system_prompt_has_environment_and_project_memory(server, run_ketch, workspace: Path):
    (workspace / "AGENTS.md").write_text("Always run `make check` before answering.\n")
    fake = server([{"text": "ok"}])
    run_ketch(["-p", "hi", "--append-system-prompt", "Answer in French."], server=fake)
    system = _system_text(fake.requests[0].body)
    assert str(workspace.resolve()) in system and "Git repository: no" in system
    assert "Always run `make check` before answering." in system
    assert system.rstrip().endswith("Answer in French.")


def test_system_prompt_override_replaces_the_built_in_one(server, run_ketch):
    fake = server([{"text": "ok"}])
    run_ketch(["-p", "hi", "--system-prompt", "You are terse."], server=fake, dialect="openai")
    messages = fake.requests[0].body["messages"]
    assert messages[0] == {"role": "system", "content": "You are terse."}


def test_without_bubblewrap_commands_fail_closed_and_the_user_is_told(server, run_ketch, workspace: Path):
    import sysconfig

    fake = server([{"tool_calls": [{"name": "Bash", "id": "b1", "input": {"command": "touch made-it"}}]},
                   {"text": "could not run it"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--permission-mode", "bypassPermissions"], server=fake,
                    env={"PATH": sysconfig.get_path("scripts")})  # no /usr/bin: no bwrap
    assert run.returncode == 0, run.stderr
    assert not (workspace / "made-it").exists()
    result = tool_results(fake.requests[1].body, "anthropic")[0]
    assert "bwrap" in result["content"] and "--sandbox off" in result["content"]
    assert "bwrap" in run.stderr and len([l for l in run.stderr.splitlines() if "bwrap" in l]) == 1


def test_sandbox_off_is_loud_and_recorded(server, run_ketch, workspace: Path, ketch_home: Path):
    fake = server([{"tool_calls": [{"name": "Bash", "input": {"command": "touch made-it"}}]}, {"text": "ok"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--sandbox", "off", "--permission-mode",
                     "bypassPermissions"], server=fake)
    assert run.returncode == 0 and (workspace / "made-it").exists()
    assert "WARNING: --sandbox off" in run.stderr
    transcript = next((ketch_home / "projects").rglob("*.jsonl")).read_text()
    assert json.loads(transcript.splitlines()[0])["sandbox"] == "off"


def test_budget_stops_cleanly_before_the_next_request(server, run_ketch, workspace: Path):
    fake = server([
        {"tool_calls": [{"name": "Glob", "input": {"pattern": "*"}}], "usage": {"input_tokens": 1_000_000}},
        {"text": "never asked"},
    ])
    run = run_ketch(["-p", "x", "--output-format", "json", "--max-budget-usd", "1.0"], server=fake)
    assert run.returncode == 1
    result = run.json()
    assert result["subtype"] == "error_max_budget_usd" and result["is_error"] is True
    assert result["total_cost_usd"] >= 3.0 and len(fake.requests) == 1


def test_budget_must_be_positive(server, run_ketch):
    run = run_ketch(["-p", "x", "--max-budget-usd", "0"], server=server([]))
    assert run.returncode == 2 and "--max-budget-usd" in run.stderr


def test_user_memory_and_subfolder_memory(server, run_ketch, workspace: Path, ketch_home: Path):
    (ketch_home / "AGENTS.md").write_text("Prefer tabs.\n")
    (workspace / "svc").mkdir()
    (workspace / "svc" / "AGENTS.md").write_text("Run `make svc-test` in svc.\n")
    (workspace / "svc" / "a.py").write_text("a = 1\n")
    (workspace / "svc" / "b.py").write_text("b = 2\n")
    fake = server([{"tool_calls": [{"name": "Read", "id": "r1", "input": {"file_path": "svc/a.py"}}]},
                   {"tool_calls": [{"name": "Read", "id": "r2", "input": {"file_path": "svc/b.py"}}]},
                   {"text": "ok"}])
    run = run_ketch(["-p", "x"], server=fake)
    assert run.returncode == 0, run.stderr
    assert "Prefer tabs." in _system_text(fake.requests[0].body)
    first = tool_results(fake.requests[1].body, "anthropic")[0]["content"]
    second = tool_results(fake.requests[2].body, "anthropic")[-1]["content"]
    assert "make svc-test" in first and 'source="svc/AGENTS.md"' in first
    assert "make svc-test" not in second


def test_prompt_swallowed_by_allowed_tools_is_explained(run_ketch, server):
    run = run_ketch(["-p", "--allowedTools", "Edit", "fix the bug"], server=server([]))
    assert run.returncode == 2 and "right after -p" in run.stderr and len(run.stderr.splitlines()) == 1
    piped = run_ketch(["-p", "--allowedTools", "Edit", "fix the bug"], server=server([]), stdin="context\n")
    assert piped.returncode == 2 and "unknown tool 'fix'" in piped.stderr and "right after -p" in piped.stderr
