"""The edit guards of issue 16, end to end: the real `ketch -p` against the fake model, whose
scripted calls break a file's syntax, gut a file with a Write, or drop a path's leading slash.
The file stays as it was and the next request carries the refusal the model can act on.
(The tests-are-evidence rule needs the small-model profile, which only a local model gets; it is
tested through the real wiring with a scripted model in tests/localmodels/test_profile.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

APP = "".join(f"def step{i}(x):\n    return x * {i}\n\n" for i in range(1, 11))  # 30 lines


def _read(file_path: str) -> dict:
    return {"name": "Read", "input": {"file_path": file_path}}


def _result_of_last_call(fake) -> dict:
    """The tool result the request after the call carried back to the model."""
    last = fake.requests[-1].body["messages"][-1]
    blocks = [b for b in last["content"] if b.get("type") == "tool_result"]
    assert len(blocks) == 1, last
    block = blocks[0]
    text = block["content"] if isinstance(block["content"], str) else "".join(c["text"] for c in block["content"])
    return {"is_error": block.get("is_error", False), "text": text}


def test_an_edit_that_would_break_python_is_refused_and_the_model_told_where(server, run_ketch, workspace: Path):
    app = workspace / "app.py"
    app.write_text(APP)
    fake = server([
        {"tool_calls": [_read("app.py")]},
        {"tool_calls": [{"name": "Edit", "input": {"file_path": "app.py", "old_string": "def step4(x):",
                                                    "new_string": "def step4(x)"}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "make step4 add one", "--output-format", "json", "--permission-mode", "acceptEdits"],
                    server=fake)
    assert run.returncode == 0, run.stderr
    assert app.read_text() == APP
    result = _result_of_last_call(fake)
    assert result["is_error"]
    assert result["text"].startswith(f"Edit refused: {app.resolve()} would no longer parse as Python: "
                                     "line 10, col 13: expected ':'. Nothing was written.")
    assert "    10\tdef step4(x)\n" in result["text"] and "    11\t    return x * 4" in result["text"]


def test_a_write_that_guts_a_file_into_3_of_its_lines_is_refused(server, run_ketch, workspace: Path):
    app = workspace / "app.py"
    app.write_text(APP)
    fragment = "def step4(x):\n    return x * 4\n\ndef step5(x):\n"  # 3 of its 30 lines, and a blank
    fake = server([
        {"tool_calls": [_read("app.py")]},
        {"tool_calls": [{"name": "Write", "input": {"file_path": "app.py", "content": fragment}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "make step4 add one", "--output-format", "json", "--permission-mode", "acceptEdits"],
                    server=fake)
    assert run.returncode == 0, run.stderr
    assert app.read_text() == APP
    result = _result_of_last_call(fake)
    assert result["is_error"] and result["text"].startswith(
        f"Write refused: {app.resolve()} would lose its content: it would keep only 3 of the file's 30 lines")
    assert "use Edit instead" in result["text"]


def test_a_real_rewrite_through_write_still_lands(server, run_ketch, workspace: Path):
    app = workspace / "app.py"
    app.write_text(APP)
    new = "def step(x, n):\n    return x * n\n"
    fake = server([
        {"tool_calls": [_read("app.py")]},
        {"tool_calls": [{"name": "Write", "input": {"file_path": "app.py", "content": new}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "replace the steps by one function", "--output-format", "json",
                     "--permission-mode", "acceptEdits"], server=fake)
    assert run.returncode == 0, run.stderr
    assert app.read_text() == new and not _result_of_last_call(fake)["is_error"]


def test_a_path_missing_its_leading_slash_reaches_the_file(server, run_ketch, workspace: Path):
    app = workspace.resolve() / "app.py"
    app.write_text(APP)
    lost = str(app).lstrip("/")
    gone = str(workspace.resolve() / "src" / "gone.py").lstrip("/")
    fake = server([
        {"tool_calls": [_read(lost)]},
        {"tool_calls": [{"name": "Edit", "input": {"file_path": lost, "old_string": "x * 4", "new_string": "x * 4 + 1"}}]},
        {"tool_calls": [_read(gone)]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "make step4 add one", "--output-format", "json", "--permission-mode", "acceptEdits"],
                    server=fake)
    assert run.returncode == 0, run.stderr
    assert "return x * 4 + 1" in app.read_text()
    result = _result_of_last_call(fake)
    assert result["is_error"] and str(workspace.resolve()) * 2 not in result["text"]
    assert str(workspace.resolve() / "src" / "gone.py") in result["text"]
    assert json.loads(run.stdout)["result"] == "done"
