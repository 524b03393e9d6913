"""End-to-end: the real `ketch --model openai:NAME` against a local OpenAI-compatible server's habits
(the fake server playing llama-cpp-python with the model's own template, or with chatml-function-calling)."""

from __future__ import annotations

import json
from pathlib import Path

from harness import tool_results

MODEL = "openai:qwen2.5-coder-instruct"  # no size in the name: the full profile, OpenAI tool calls
SMALL = "openai:qwen2.5-coder-1.5b-instruct"  # the small profile: one grammar-constrained JSON reply
BUGGY = "def add(a, b):\n    return a - b\n"


def test_calls_written_as_text_run_and_the_task_completes(server, run_ketch, workspace: Path):
    (workspace / "calc.py").write_text(BUGGY)
    fake = server([
        {"text": "I'll read the file first.", "text_calls": [{"name": "Read", "input": {"file_path": "calc.py"}}]},
        {"text_calls": [{"name": "Edit", "input": {"file_path": "calc.py", "old_string": "return a - b",
                                                   "new_string": "return a + b"}}], "style": "fenced"},
        {"text": "Fixed: add() now adds."},
    ])
    run = run_ketch(["-p", "fix add in calc.py", "--output-format", "json", "--allowedTools", "Edit"],
                    server=fake, dialect="openai", model=MODEL)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["subtype"] == "success" and result["result"] == "Fixed: add() now adds."
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert len(fake.requests) == 3
    # the call went back to the server as a real call, its text gone from the answer
    assistant = [m for m in fake.requests[1].body["messages"] if m["role"] == "assistant"][-1]
    assert assistant["content"] == "I'll read the file first."
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["Read"]
    assert "return a - b" in tool_results(fake.requests[1].body, "openai")[-1]["content"]
    edit = [m for m in fake.requests[2].body["messages"] if m["role"] == "assistant"][-1]
    assert edit["content"] == "" and edit["tool_calls"][0]["function"]["name"] == "Edit"  # the fence is gone; "" not null: not OpenAI


def test_a_server_that_refuses_streamed_tools_gets_whole_requests(server, run_ketch, workspace: Path):
    (workspace / "notes.txt").write_text("remember the milk\n")
    fake = server([
        {"tool_calls": [{"name": "Read", "input": {"file_path": "notes.txt"}}]},
        {"text": "The note says: remember the milk."},
    ])
    fake.refuse_streamed_tools = True
    run = run_ketch(["-p", "what does notes.txt say?"], server=fake, dialect="openai", model=MODEL)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "The note says: remember the milk."
    assert [r.body.get("stream") for r in fake.requests] == [True, None, None]  # refused once, then never streamed
    assert run.stderr.count("refused streamed replies when tools are offered") == 1
    assert "Automatic streaming tool choice is not supported" in run.stderr
    assert "remember the milk" in tool_results(fake.requests[2].body, "openai")[-1]["content"]


def test_json_that_is_not_a_call_of_an_offered_tool_is_the_answer(server, run_ketch, workspace: Path):
    answer = '{"name": "deploy", "arguments": {"env": "prod"}}'
    fake = server([{"text": answer}])
    run = run_ketch(["-p", "give me the deploy payload as JSON", "--output-format", "json"],
                    server=fake, dialect="openai", model=MODEL)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["result"] == answer and result["num_turns"] == 1
    assert json.loads(result["result"]) == {"name": "deploy", "arguments": {"env": "prod"}}
    assert len(fake.requests) == 1


def test_a_small_model_on_a_server_is_asked_for_one_json_reply_under_a_schema(server, run_ketch, workspace: Path):
    """The small profile on the user's server gets the embedded model's format: no `tools`, the
    compact tool list in the system prompt, `response_format` with the reply's schema; the JSON
    replies become a real call and the answer."""
    (workspace / "calc.py").write_text(BUGGY)
    fake = server([
        {"text": json.dumps({"name": "Read", "arguments": {"file_path": "calc.py"}})},
        {"text": json.dumps({"name": "Edit", "arguments": {"file_path": "calc.py", "old_string": "return a - b",
                                                          "new_string": "return a + b"}})},
        {"text": json.dumps({"answer": "Fixed: add() now adds."})},
    ])
    run = run_ketch(["-p", "fix add in calc.py", "--output-format", "json", "--allowedTools", "Edit"],
                    server=fake, dialect="openai", model=SMALL)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["subtype"] == "success" and result["result"] == "Fixed: add() now adds."
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    first, second = fake.requests[0].body, fake.requests[1].body
    assert "tools" not in first and first["temperature"] == 0.0
    schema = first["response_format"]["schema"]
    assert first["response_format"]["type"] == "json_object"
    assert {o["properties"]["name"]["const"] for o in schema["oneOf"]} <= {"Read", "Grep", "Glob", "Bash"}  # looks first
    assert "Tools:\n- Bash(command: string)" in first["messages"][0]["content"]
    assert all(isinstance(m["content"], str) and set(m) == {"role", "content"} for m in second["messages"])
    assert second["messages"][-2] == {"role": "assistant",
                                      "content": json.dumps({"name": "Read", "arguments": {"file_path": "calc.py"}})}
    assert second["messages"][-1]["role"] == "user" and "return a - b" in second["messages"][-1]["content"]
    # where the reply may be a Write, it may be a file block: a GBNF grammar, not a schema
    assert "response_format" not in second and "file-reply ::=" in second["grammar"]
    assert '"\\"answer\\""' in second["grammar"] and "- Write: replace a whole file" in second["messages"][0]["content"]


def test_a_small_model_on_a_server_writes_a_file_as_a_block(server, run_ketch, workspace: Path):
    (workspace / "calc.py").write_text(BUGGY)
    fixed = 'def add(a, b):\n    """Sum, with "quotes" left as they are."""\n    return a + b\n'
    fake = server([
        {"text": json.dumps({"name": "Read", "arguments": {"file_path": "calc.py"}})},
        {"text": "calc.py\n```python\n" + fixed + "```"},
        {"text": json.dumps({"answer": "Fixed."})},
    ])
    run = run_ketch(["-p", "fix add in calc.py", "--output-format", "json", "--allowedTools", "Write"],
                    server=fake, dialect="openai", model=SMALL)
    assert run.returncode == 0, run.stderr
    assert (workspace / "calc.py").read_text() == fixed
    assert fake.requests[2].body["messages"][4] == {"role": "assistant", "content": "calc.py\n```python\n" + fixed + "```"}


def test_a_server_that_ignores_the_grammar_gets_json_replies_for_the_session(server, run_ketch, workspace: Path):
    """A server that drops the `grammar` field (Ollama, vLLM) answers with free text: ketch asks that
    request again with the JSON schema, says so once, and the Write comes as JSON from then on."""
    (workspace / "calc.py").write_text(BUGGY)
    fake = server([
        {"text": json.dumps({"name": "Read", "arguments": {"file_path": "calc.py"}})},
        {"text": "Sure! The bug is the minus sign; change it to a plus."},
        {"text": json.dumps({"name": "Write", "arguments": {"file_path": "calc.py",
                                                           "content": "def add(a, b):\n    return a + b\n"}})},
        {"text": json.dumps({"answer": "Fixed."})},
    ])
    run = run_ketch(["-p", "fix add in calc.py", "--allowedTools", "Write"],
                    server=fake, dialect="openai", model=SMALL)
    assert run.returncode == 0, run.stderr
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    bodies = [r.body for r in fake.requests]
    assert ["grammar" in b for b in bodies] == [False, True, False, False]
    assert all("response_format" in b for b in bodies[2:])
    assert "Write(file_path: string, content: string)" in bodies[2]["messages"][0]["content"]
    assert run.stderr.count("ignored a reply grammar (grammar)") == 1


def test_a_server_that_rejects_the_reply_format_gets_tool_calls_for_the_session(server, run_ketch, workspace: Path):
    (workspace / "notes.txt").write_text("remember the milk\n")
    fake = server([
        {"status": 400, "message": "1 validation error: response_format.schema: extra fields not permitted"},
        {"tool_calls": [{"name": "Read", "input": {"file_path": "notes.txt"}}]},
        {"text": "The note says: remember the milk."},
    ])
    run = run_ketch(["-p", "what does notes.txt say?"], server=fake, dialect="openai", model=SMALL)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "The note says: remember the milk."
    assert ["response_format" in r.body for r in fake.requests] == [True, False, False]
    assert [bool(r.body.get("tools")) for r in fake.requests] == [False, True, True]
    assert run.stderr.count("refused a reply format (response_format)") == 1
