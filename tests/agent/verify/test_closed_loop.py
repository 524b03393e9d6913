"""The closed loop end to end: the real wiring of a local model (its file is never loaded: a scripted
model answers), the real loop, tools, gate and sandbox, and a real tiny project whose pytest test fails.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from scripted import ScriptedProvider
from tiny_projects import project

from ketch.agent import events as ev
from ketch.agent.verify.closed_loop import FIX, WHOLE_FIX
from ketch.agent.verify.detect import PYTEST
from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock

BUGGY = {"app.py": "def add(a, b):\n    return a - b\n",
         "tests/test_app.py": "from app import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"}


class Recording(ScriptedProvider):
    """The scripted model, keeping what each request held (the loop sends its live history)."""

    def stream(self, request: Any) -> Any:
        self.seen = [*getattr(self, "seen", []), list(request.messages)]
        self.choices = [*getattr(self, "choices", []), request.tool_choice]
        self.paths = [*getattr(self, "paths", []), request.choice_paths]
        return super().stream(request)


def local_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replies: list[Any], **options: Any) -> Any:
    from ketch.cli.wiring import RunOptions, build_agent

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed (pip install -e '.[test,local]')", pytrace=False)
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    ws = project(tmp_path / "ws", BUGGY)
    agent = build_agent(RunOptions(workspace=ws, model=f"local:{gguf}", **{"permission_mode": "acceptEdits",
                                                                           **options}))
    agent.provider = Recording(replies)
    return agent


def edit(old: str, new: str, call_id: str) -> Message:
    return Message("assistant", [ToolUseBlock(call_id, "Edit", {"file_path": "app.py", "old_string": old,
                                                                 "new_string": new})])


def said(message: Message) -> str:
    return "\n".join(b.text if isinstance(b, TextBlock) else b.content for b in message.content
                     if isinstance(b, TextBlock | ToolResultBlock))


def ketch_calls(events: list[Any]) -> list[ev.ToolCall]:
    ids = {b.id for e in events if isinstance(e, ev.AssistantMessage) and e.model == "ketch"
           for b in e.message.tool_uses()}
    return [e for e in events if isinstance(e, ev.ToolCall) and e.tool_use_id in ids]


def test_a_wrong_fix_gets_the_failure_back_and_a_right_one_ends_the_run_with_the_tests_passing(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [
        edit("a - b", "a * b", "e1"),  # does not fix it: 1 * 2 != 3
        edit("a * b", "a + b", "e2"),
        Message("assistant", [TextBlock("add() now adds.")]),
    ])
    events = list(agent.run("tests/test_app.py fails: fix add() in app.py"))
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished) and finished.subtype == "success"
    assert finished.result == f"add() now adds.\n\nThe tests pass (`{PYTEST}`)."
    assert "return a + b" in (agent.config.workspace / "app.py").read_text()
    assert [c.input for c in ketch_calls(events)] == [{"command": PYTEST}] * 3  # before, after e1, after e2
    assert finished.num_turns == 3  # ketch's runs are not model turns

    requests = agent.provider.seen
    first = said(requests[0][-1])  # the failure, up front, with the code and the test
    assert "E       assert -1 == 3" in first and "Before any change, the tests fail" in first
    assert "app.py, lines 1-2, the whole file:\n```python\ndef add(a, b):\n    return a - b\n```" in first
    assert "The failing test (evidence of what the code must do; do not edit it): tests/test_app.py" in first
    assert first.endswith(WHOLE_FIX.format(names="app.py"))  # a short file: written whole
    assert agent.provider.choices == ["Write", "Write", None]  # so the reply after it must be a Write
    assert agent.provider.paths == [("app.py",), ("app.py",), ()]  # of the file shown
    second = said(requests[1][-1])  # after the wrong edit: the new failure, the code as it is now
    assert "E       assert 2 == 3" in second and "The tests still fail" in second and "return a * b" in second
    third = said(requests[2][-1])
    assert "1 passed" in third and third.endswith("The tests pass now.")
    roles = [m.role for m in requests[2]]
    assert all(a != b for a, b in itertools.pairwise(roles)), roles  # the history alternates: calls, then results


def test_a_short_file_shown_whole_may_be_written_whole_without_a_read(tmp_path, monkeypatch):
    """The edit format by file size: the file the failure points at was shown whole, so the model's
    Write of the whole corrected file is taken (the freshness check counts the showing as a read)."""
    write = Message("assistant", [ToolUseBlock("w1", "Write", {"file_path": "app.py",
                                                                "content": "def add(a, b):\n    return a + b\n"})])
    agent = local_agent(tmp_path, monkeypatch, [write, Message("assistant", [TextBlock("Fixed.")])])
    events = list(agent.run("fix add in app.py"))
    assert events[-1].result == f"Fixed.\n\nThe tests pass (`{PYTEST}`)."
    assert (agent.config.workspace / "app.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_a_long_file_is_shown_by_its_function_and_edited_in_place(tmp_path, monkeypatch):
    from ketch.agent.verify.localize import WHOLE_FILE_LINES

    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a + b", "e1"), Message("assistant", [TextBlock("ok")])])
    app = agent.config.workspace / "app.py"
    app.write_text(app.read_text() + "".join(f"\n\ndef f{i}():\n    return {i}\n" for i in range(WHOLE_FILE_LINES)))
    events = list(agent.run("fix add in app.py"))
    first = said(agent.provider.seen[0][-1])
    assert "app.py, lines 1-2, def add:" in first and first.endswith(FIX)
    assert agent.provider.choices[0] is None  # a long file: any reply
    assert events[-1].subtype == "success"


def test_a_model_that_stops_with_the_tests_red_is_sent_back_to_work(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [
        Message("assistant", [TextBlock("add() looks right to me.")]),
        edit("a - b", "a + b", "e1"),
        Message("assistant", [TextBlock("Fixed.")]),
    ])
    events = list(agent.run("add(1, 2) should be 3 but it is -1"))  # a change asked for: the tests run up front
    assert events[-1].result == f"Fixed.\n\nThe tests pass (`{PYTEST}`)."
    assert len(ketch_calls(events)) == 3  # up front, when it stopped, after its edit
    first = said(agent.provider.seen[0][-1])
    assert "Before any change, the tests fail (output above)" in first and "def add(a, b):" in first
    assert first.index("def add(a, b):") < first.index("add(1, 2) returned -1, but the test expects 3.") \
        < first.index("Fix the code")  # the wrong value said plainly, next to what to do
    back = said(agent.provider.seen[1][-1])
    assert back.endswith("The tests still fail the same way. add(1, 2) returned -1, but the test expects 3. The task: "
                         f"add(1, 2) should be 3 but it is -1\n{WHOLE_FIX.format(names='app.py')}")
    stop = agent.provider.seen[1][-2]  # its answer and ketch's call are one assistant turn
    assert stop.role == "assistant" and stop.text() == "add() looks right to me." and stop.tool_uses()


def test_the_run_ends_at_its_turn_budget_and_says_the_tests_still_fail(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a * b", "e1"), Message("assistant", [TextBlock("done")])],
                        max_turns=2)
    events = list(agent.run("tests/test_app.py fails: fix add() in app.py"))
    assert events[-1].subtype == "error_max_turns"
    assert events[-1].result == f"reached the maximum of 2 turns; the tests still fail (`{PYTEST}`)."
    assert agent.provider.replies == []


def test_a_model_that_keeps_stopping_without_a_change_gets_its_stop(tmp_path, monkeypatch):
    from ketch.agent.verify.closed_loop import MAX_IDLE_STOPS

    replies = [Message("assistant", [TextBlock(f"nothing to do ({i})")]) for i in range(MAX_IDLE_STOPS)]
    agent = local_agent(tmp_path, monkeypatch, replies)
    events = list(agent.run("make the failing test pass"))
    assert events[-1].subtype == "success"
    assert events[-1].result == f"nothing to do ({MAX_IDLE_STOPS - 1})\n\nThe tests still fail (`{PYTEST}`)."
    assert len(agent.provider.requests) == MAX_IDLE_STOPS
    same = said(agent.provider.seen[-1][-1])
    assert same.endswith("The tests still fail the same way. add(1, 2) returned -1, but the test expects 3. The task: "
                         f"make the failing test pass\n{WHOLE_FIX.format(names='app.py')}")


def test_a_headless_run_whose_gate_would_ask_for_the_command_does_not_run_it(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a * b", "e1"), Message("assistant", [TextBlock("ok")])],
                        sandbox="off")  # unsandboxed, a command needs a person's yes: headless has none
    events = list(agent.run("tests/test_app.py fails: fix add() in app.py"))
    assert ketch_calls(events) == [] and not any(isinstance(e, ev.PermissionRequest) for e in events)
    notices = [e.message for e in events if isinstance(e, ev.Notice) and "did not run the tests" in e.message]
    assert len(notices) == 1 and "nobody can be asked in a headless run" in notices[0]
    assert events[-1].result == "ok" and events[-1].permission_denials == []
    assert "return a * b" in (agent.config.workspace / "app.py").read_text()  # the model's edit still ran


def test_a_person_is_asked_through_the_gate_and_a_no_stops_the_runs(tmp_path, monkeypatch):
    from ketch.agent.approval import Approval

    asked: list[ev.PermissionRequest] = []
    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a * b", "e1"), Message("assistant", [TextBlock("ok")])],
                        sandbox="off")
    agent.set_approver(lambda request: asked.append(request) or Approval(False))
    events = list(agent.run("tests/test_app.py fails: fix add() in app.py"))
    assert [r.input for r in asked] == [{"command": PYTEST}]  # once: after the no, nothing more is tried
    assert events[-1].result == "ok"


def test_plan_mode_runs_nothing(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [Message("assistant", [TextBlock("the plan")])],
                        permission_mode="plan")
    events = list(agent.run("tests/test_app.py fails: fix add() in app.py"))
    assert ketch_calls(events) == [] and events[-1].result == "the plan"
    assert any(isinstance(e, ev.Notice) and "plan mode" in e.message for e in events)


def test_ketch_s_runs_are_ordinary_calls_in_stream_json_and_the_transcript(tmp_path, monkeypatch):
    from ketch.agent.sessions.load import load_session
    from ketch.agent.sessions.transcript import to_record
    from ketch.ui.sdk_messages import assistant_message, user_message

    agent = local_agent(tmp_path, monkeypatch, [Message("assistant", [TextBlock("looks fine")]),
                                                 edit("a - b", "a + b", "e1"), Message("assistant", [TextBlock("ok")])])
    events = list(agent.run("add is wrong"))
    ours = [e for e in events if isinstance(e, ev.AssistantMessage) and e.model == "ketch"]
    sdk = assistant_message(ours[0], agent.session_id)
    assert [(b["type"], b["name"], b["input"]) for b in sdk["message"]["content"]] == \
        [("tool_use", "Bash", {"command": PYTEST})]
    results = [e for e in events if isinstance(e, ev.ToolResults)]
    assert any(b.get("tool_use_id") == ours[0].message.content[0].id
               for r in results for b in user_message(r, agent.session_id)["message"]["content"])
    transcript = tmp_path / f"{agent.session_id}.jsonl"
    transcript.write_text("".join(json.dumps(r) + "\n" for e in events if (r := to_record(e)) is not None))
    loaded = load_session(transcript)  # what resume sees: the same conversation, nothing to mend
    assert not loaded.repairs and loaded.warning() is None
    assert [(m.role, [type(b).__name__ for b in m.content]) for m in loaded.messages] == \
        [(m.role, [type(b).__name__ for b in m.content]) for m in agent.messages]
    assert sum(r["type"] == "assistant" and r["model"] == "ketch" for r in map(json.loads, transcript.open())) == 3


def test_a_project_with_no_test_command_runs_nothing(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a + b", "e1"), Message("assistant", [TextBlock("ok")])])
    (agent.config.workspace / "tests" / "test_app.py").rename(agent.config.workspace / "check_app.py")
    events = list(agent.run("add is wrong; fix it"))
    assert ketch_calls(events) == [] and events[-1].result == "ok"


def test_a_command_that_cannot_run_stops_the_runs_with_a_notice(tmp_path, monkeypatch):
    agent = local_agent(tmp_path, monkeypatch, [edit("a - b", "a + b", "e1"), Message("assistant", [TextBlock("ok")])])
    events = list(agent.run("`.venv/bin/python -m pytest` fails; fix add"))  # the project has no .venv
    calls = ketch_calls(events)
    assert [c.input for c in calls] == [{"command": ".venv/bin/python -m pytest"}]  # once, up front, never again
    notices = [e.message for e in events if isinstance(e, ev.Notice) and "stopped running the tests" in e.message]
    assert notices and "Exit code 127" in notices[0]
    assert events[-1].result == "ok"


def test_the_next_request_after_a_repeated_refusal_carries_the_stuck_temperature(tmp_path, monkeypatch) -> None:
    """Through the real loop: the identical-strings Edit sent twice, then a real fix (in a long file:
    no whole-file retry, whose own temperature would hide this one)."""
    from ketch.agent.verify.localize import WHOLE_FILE_LINES
    from ketch.agent.verify.refusals import STUCK_TEMPERATURE
    from ketch.conversation import Message, TextBlock

    same = "    return a - b"
    agent = local_agent(tmp_path, monkeypatch, [edit(same, same, "e1"), edit(same, same, "e2"),
                                                edit("a - b", "a + b", "e3"), Message("assistant", [TextBlock("ok")])])
    app = agent.config.workspace / "app.py"
    app.write_text(app.read_text() + "".join(f"\n\ndef f{i}():\n    return {i}\n" for i in range(WHOLE_FILE_LINES)))
    events = list(agent.run("fix add in app.py"))
    assert events[-1].subtype == "success"
    assert [r.temperature for r in agent.provider.requests] == [0.0, 0.0, STUCK_TEMPERATURE, 0.0]


def write(content: str, call_id: str) -> Message:
    return Message("assistant", [ToolUseBlock(call_id, "Write", {"file_path": "app.py", "content": content})])


def test_once_a_fix_failed_every_retry_is_a_sampled_write_of_the_file_shown_whole(tmp_path, monkeypatch) -> None:
    """Greedy, a small model writes the file that just failed again, word for word. After a failed fix
    the next reply is still a Write of the file shown whole (also when the failure is the same, or the
    fix was refused as changing nothing), and it is sampled, so the next try is not the same guess."""
    from ketch.agent.verify.closed_loop import RETRY_TEMPERATURE

    wrong = "def add(a, b):\n    return a * b\n"
    agent = local_agent(tmp_path, monkeypatch, [
        write(wrong, "w1"),  # fails: 2 != 3
        write(wrong, "w2"),  # refused: the file already is exactly this
        write("def add(a, b):\n    return b - a\n", "w3"),  # fails: 1 != 3
        write("def add(a, b):\n    return a + b\n", "w4"),
        Message("assistant", [TextBlock("Fixed.")]),
    ])
    events = list(agent.run("add(1, 2) should be 3. Fix app.py."))
    assert events[-1].subtype == "success" and events[-1].result.endswith("The tests pass (`" + PYTEST + "`).")
    requests = agent.provider.requests
    assert [r.temperature for r in requests] == [0.0, RETRY_TEMPERATURE, RETRY_TEMPERATURE, RETRY_TEMPERATURE, 0.0]
    assert agent.provider.choices == ["Write"] * 4 + [None]
    assert agent.provider.paths == [("app.py",)] * 4 + [()]
    # refused as changing nothing: the model sees the history as at the first failure, and what failed
    seen = agent.provider.seen
    assert len(seen[2]) == len(seen[0]) and said(seen[2][-1]).startswith(said(seen[0][-1]))
    assert said(seen[2][-1]).endswith("Tries that failed (do not write them again): add(1, 2) returned 2, but the "
                                      "test expects 3. Write a different fix.")
    assert len(seen[3]) == len(seen[0]) + 4  # w3 failed anew: its Write, its result, the run, the failure
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("tries again from the first failure" in n for n in notices)
    transcript = [b for e in events if isinstance(e, ev.ToolResults) for b in e.message.content]
    assert any("already has exactly this content" in getattr(b, "content", "") for b in transcript)  # kept


def test_a_fix_that_fails_the_same_way_is_set_aside_and_each_failed_value_is_said(tmp_path, monkeypatch) -> None:
    agent = local_agent(tmp_path, monkeypatch, [
        write("def add(a, b):\n    return a * b\n", "w1"),  # 2 != 3
        write("def add(a, b):\n    return (a * b)\n", "w2"),  # the same failure: set aside
        write("def add(a, b):\n    return a + b + 1\n", "w3"),  # 4 != 3, a new failure
        write("def add(a, b):\n    return a + b + 1  # sure\n", "w4"),  # the same again
        write("def add(a, b):\n    return a + b\n", "w5"),
        Message("assistant", [TextBlock("Fixed.")]),
    ])
    events = list(agent.run("add(1, 2) should be 3. Fix app.py."))
    assert events[-1].subtype == "success"
    seen = agent.provider.seen
    assert len(seen[2]) == len(seen[0]) and said(seen[2][-1]).endswith(
        "Tries that failed (do not write them again): add(1, 2) returned 2, but the test expects 3. Write a different fix.")
    assert len(seen[4]) == len(seen[0]) and said(seen[4][-1]).endswith(
        "add(1, 2) returned 2, but the test expects 3. add(1, 2) returned 4, but the test expects 3. Write a different fix.")
    assert (agent.config.workspace / "app.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_the_request_is_said_again_next_to_what_to_do_when_short(tmp_path, monkeypatch) -> None:
    agent = local_agent(tmp_path, monkeypatch, [Message("assistant", [TextBlock("done")])] * 3)
    list(agent.run("Make   add() in app.py\nadd its arguments."))
    first = said(agent.provider.seen[0][-1])
    assert first.endswith("The task: Make add() in app.py add its arguments.\n" + WHOLE_FIX.format(names="app.py"))
    (tmp_path / "long").mkdir()
    long_agent = local_agent(tmp_path / "long", monkeypatch, [Message("assistant", [TextBlock("done")])] * 3)
    list(long_agent.run("Fix add() in app.py. " + "It matters a great deal. " * 30))
    assert "The task:" not in said(long_agent.provider.seen[0][-1])


def test_a_new_run_starts_greedy_whatever_the_last_run_left(tmp_path, monkeypatch) -> None:
    """In the REPL the agent lives on: a nudge left by the last run's refusals is not the next run's.
    And greedy is said outright (0.0), not left to the provider: a server's default is not greedy."""
    from ketch.conversation import Message, TextBlock

    agent = local_agent(tmp_path, monkeypatch, [Message("assistant", [TextBlock("hello")])])
    agent.state.temperature = 0.7  # as a run that ended while stuck leaves it
    list(agent.run("hi"))
    assert [r.temperature for r in agent.provider.requests] == [0.0]
