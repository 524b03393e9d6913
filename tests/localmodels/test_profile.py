"""The small-model profile's tool faces: required fields plus a short allow-list per tool, so the
prompt and the grammar cannot offer (or produce) the rest; normal models keep the full schemas."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ketch.localmodels.profile import SMALL_TOOLS
from ketch.localmodels.small_tools import SMALL_OPTIONAL_FIELDS, small_tools, unnumber
from ketch.providers.local.format import reply_schema, tools_prompt
from ketch.tools.registry import default_tools
from ketch.tools.validate import validate

DROPPED = {"Read": {"limit"}, "Bash": {"timeout", "description"}, "Glob": {"path"},
           "Grep": {"type", "glob", "-i", "-n", "-A", "-B", "-C", "head_limit", "multiline"}}


def _small() -> dict[str, dict]:
    return {t.name: t.definition().input_schema for t in small_tools(default_tools())}


def test_small_schemas_keep_required_fields_and_the_allow_list_only():
    small = _small()
    assert set(small) == set(SMALL_TOOLS)
    full = {t.name: t.definition().input_schema for t in default_tools()}
    for name, schema in small.items():
        expected = set(full[name]["required"]) | set(SMALL_OPTIONAL_FIELDS.get(name, ()))
        assert set(schema["properties"]) == expected, name
        assert schema["required"] == full[name]["required"] and schema["additionalProperties"] is False
        assert not DROPPED.get(name, set()) & set(schema["properties"])
    assert set(small["Grep"]["properties"]) == {"pattern", "path", "output_mode"}
    # normal models still get every field
    assert DROPPED["Grep"] <= set(full["Grep"]["properties"]) and {"offset", "limit"} <= set(full["Read"]["properties"])


def test_the_prompt_and_the_grammar_for_small_models_lack_the_dropped_fields():
    defs = [t.definition() for t in small_tools(default_tools())]
    prompt = tools_prompt(defs)
    assert "Grep(pattern: string, path?: string, output_mode?: string)" in prompt
    assert "type?" not in prompt and "limit?" not in prompt and "timeout?" not in prompt
    assert "Read(file_path: string, offset?: number)" in prompt  # Read shows a window: offset pages on
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed (pip install -e '.[test,local]')", pytrace=False)
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(json.dumps(reply_schema(defs)))
    for field in ("type", "limit", "timeout", "description", "head_limit", "-i", "glob"):
        assert f'\\"{field}\\"' not in grammar, field
    for field in ("pattern", "output_mode", "replace_all", "file_path", "old_string", "command", "offset"):
        assert f'\\"{field}\\"' in grammar, field
    full_grammar = json_schema_to_gbnf(json.dumps(reply_schema([t.definition() for t in default_tools()])))
    assert '\\"type\\"' in full_grammar  # the full Grep schema would have offered it


def test_a_small_call_still_validates_and_the_tool_is_the_real_one():
    tools = {t.name: t for t in small_tools(default_tools())}
    grep = tools["Grep"]
    call = {"pattern": "def parse_config", "path": ".", "output_mode": "files_with_matches"}
    assert validate(grep.definition().input_schema, call) is None
    assert validate(grep._tool.definition().input_schema, call) is None  # and against the tool's full schema
    assert grep.kind == grep._tool.kind and grep.name == "Grep"
    edit = tools["Edit"].definition().input_schema
    assert validate(edit, {"file_path": "a.py", "old_string": "greet", "new_string": "say_hello",
                           "replace_all": True}) is None


def test_an_agent_on_a_local_model_gets_the_small_tools(tmp_path, monkeypatch):
    """Through the real wiring (the model file is not loaded before the first request)."""
    from ketch.cli.wiring import RunOptions, build_agent

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed (pip install -e '.[test,local]')", pytrace=False)
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    ws = tmp_path / "ws"
    ws.mkdir()
    agent = build_agent(RunOptions(workspace=Path(ws), model=f"local:{gguf}"))
    schemas = {t.name: t.definition().input_schema for t in agent.tools}
    assert set(schemas) == set(SMALL_TOOLS) and "type" not in schemas["Grep"]["properties"]


def test_read_line_number_prefixes_copied_into_file_text_are_removed():
    numbered = "     1\t# color settings\n     2\tDEFAULT = 'red'\n     3\t\n     4\tdef f(x):\n     5\t    return x"
    assert unnumber(numbered) == "# color settings\nDEFAULT = 'red'\n\ndef f(x):\n    return x"
    assert unnumber("    12\tx = 1\n    13\ty = 2\n") == "x = 1\ny = 2\n"
    for text in ("plain text\n", "     1\ta\n     3\tb", "1\ta\n2\tb", "     1\ta\nno number", "     1 a", ""):
        assert unnumber(text) == text, text  # not Read's exact, consecutive prefix on every line: untouched


def test_small_write_and_edit_get_the_repaired_text(tmp_path):
    seen = []

    class Recorder:
        name, kind = "Write", "edit"

        def definition(self):
            return next(t for t in default_tools() if t.name == "Write").definition()

        def run(self, input, ctx):
            seen.append(input)
            return "ok"

    small = small_tools([Recorder()])[0]

    class Tool:  # as dispatch calls it: repaired before hooks, gate and preview, then run as judged
        @staticmethod
        def run(input, ctx):
            return small.run(small.repair_input(input, ctx, lambda path: False), ctx)

    tool = Tool()
    original = {"file_path": "a.py", "content": "     1\tx = 1\n     2\ty = 2"}
    assert tool.run(original, None) == "ok"
    assert seen == [{"file_path": "a.py", "content": "x = 1\ny = 2"}]
    assert original["content"].startswith("     1\t")  # the call as recorded is not rewritten
    tool.run({"file_path": "v.py", "content": '```python\n__version__ = "1.5.0"\n```'}, None)
    assert seen[-1]["content"] == '__version__ = "1.5.0"\n'  # the fence shown around code, copied back: dropped
    tool.run({"file_path": "README.md", "content": "```sh\nmake\n```"}, None)
    assert seen[-1]["content"] == "```sh\nmake\n```"  # in Markdown a fence is content


def test_a_fence_around_the_whole_text_is_dropped_and_nothing_else():
    from ketch.localmodels.small_tools import unfence

    assert unfence("```python\nx = 1\ny = 2\n```\n") == "x = 1\ny = 2"
    assert unfence("  ```py\nreturn a + b\n  ```") == "return a + b"
    for text in ("x = 1", "```python\na\n```\nmore\n```", "text\n```\ncode\n```", "```inline```"):
        assert unfence(text) == text


def test_docstring_quotes_lost_in_json_are_mended_only_when_that_makes_the_file_parse(tmp_path: Path):
    """Measured: `\"\"\"` written inside a JSON string came out as `"` to open and `""` to close."""
    from ketch.localmodels.small_tools import mend_docstring_quotes
    from ketch.security.sandbox.bwrap import run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext

    mangled = ('def initials(name):\n    "The initials, in capitals.\n\n    >>> initials("ada lovelace")\n'
               "    'AL'\n    \"\"\n    return ''.join(p[0] for p in name.split())\n")
    mended = mend_docstring_quotes(mangled)
    assert mended == mangled.replace('    "The', '    """The').replace('    ""\n', '    """\n')
    compile(mended, "names.py", "exec")
    for text in ('x = "a"\n', 'x = (\n', '"""Doc."""\nx = 1\n', 'items = [\n    "a",\n    "b"\n'):
        assert mend_docstring_quotes(text) == text  # valid already, or not a docstring's fault: unchanged
    write = {t.name: t for t in small_tools(default_tools())}["Write"]
    target = tmp_path / "names.py"
    target.write_text('def initials(name):\n    """The initials."""\n    return name\n')
    state = SessionState()
    state.read_files[str(target)] = target.stat().st_mtime_ns  # as the closed loop marks a file shown whole
    ctx = ToolContext(workspace=tmp_path, state=state, runner=run_unsandboxed)
    write.run(write.repair_input({"file_path": str(target), "content": mangled}, ctx, lambda path: False), ctx)
    assert target.read_text() == mended  # through the real Write and its syntax guard
    with pytest.raises(Exception, match="would no longer parse"):  # not a docstring's fault: still refused
        write.run(write.repair_input({"file_path": str(target), "content": 'def f(:\n    "doc\n'}, ctx,
                                     lambda path: False), ctx)


def test_a_small_model_reads_a_window_of_a_long_file_and_is_told_how_to_read_on(tmp_path: Path):
    from ketch.localmodels.small_tools import SMALL_READ_LINES

    read = {t.name: t for t in small_tools(default_tools())}["Read"]
    target = tmp_path / "long.txt"
    target.write_text("".join(f"line {i}\n" for i in range(1, 301)))
    from ketch.security.sandbox.bwrap import run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext

    ctx = ToolContext(workspace=tmp_path, state=SessionState(), runner=run_unsandboxed)
    first = read.run(read.repair_input({"file_path": str(target)}, ctx, lambda path: False), ctx).content
    assert f"line {SMALL_READ_LINES}\n" in first and f"line {SMALL_READ_LINES + 1}\n" not in first
    assert f"Use offset={SMALL_READ_LINES + 1} to read more" in first
    assert "line 300" in read.run({"file_path": str(target), "offset": 250}, ctx).content


def test_a_small_model_run_may_not_edit_a_test_unless_the_request_is_about_tests(tmp_path, monkeypatch):
    """The real wiring of a local model (its file is never loaded: a scripted model answers), the real
    loop deciding from each run's request, the real tools refusing: the refusal goes back to the model."""
    from scripted import ScriptedProvider

    from ketch.cli.wiring import RunOptions, build_agent
    from ketch.conversation import Message, TextBlock, ToolUseBlock

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed (pip install -e '.[test,local]')", pytrace=False)
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    test = ws / "tests" / "test_app.py"
    test.write_text("from app import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    agent = build_agent(RunOptions(workspace=ws, model=f"local:{gguf}", permission_mode="acceptEdits"))
    assert agent.state.tests_are_evidence
    agent.checks = None  # ketch's own test runs (tests/agent/verify) are not what this test is about

    def edit(old: str, new: str) -> Message:
        return Message("assistant", [ToolUseBlock("c1", "Edit", {"file_path": "tests/test_app.py",
                                                                  "old_string": old, "new_string": new})])

    agent.provider = ScriptedProvider([edit("== 3", "== -1"), Message("assistant", [TextBlock("ok")])])
    list(agent.run("add() in app.py is wrong and tests/test_app.py fails; fix it"))
    assert "== 3" in test.read_text()
    sent = [b for m in agent.messages for b in m.content if getattr(b, "tool_use_id", None) == "c1"][-1]
    assert sent.is_error and "is a test file. Don't change tests; change the code under test" in sent.content

    agent.provider = ScriptedProvider([edit("== 3\n", "== 3\n    assert add(0, 0) == 0\n"),
                                       Message("assistant", [TextBlock("ok")])])
    list(agent.run("Add a test that add(0, 0) is 0"))
    assert "add(0, 0) == 0" in test.read_text()


@pytest.mark.parametrize(("provider", "model", "base", "small"), [
    ("local", "qwen2.5-coder-1.5b", "", True),
    ("openai", "qwen2.5-coder-1.5b", "http://127.0.0.1:8080/v1", True),
    ("openai", "qwen2.5-coder:7b-instruct-q4_K_M", "http://localhost:11434/v1", True),
    ("openai", "llama3.1:8b", "http://gpu-box:11434/v1", True),
    ("openai", "deepseek-coder-v2:16b", "http://127.0.0.1:11434/v1", False),
    ("openai", "qwen2.5-coder-32b-instruct", "http://127.0.0.1:8000/v1", False),
    ("openai", "gpt-5", "https://api.openai.com/v1", False),
    ("openai", "gpt-4.1-mini-1.5b", "https://api.openai.com/v1", False),  # OpenAI's own host: never by name
    ("openai", "my-model", "http://127.0.0.1:8080/v1", False),  # no size in the name: the full profile
    ("anthropic", "claude-haiku-4-5", "https://api.anthropic.com", False),
])
def test_which_models_get_the_small_profile(provider, model, base, small, monkeypatch):
    from ketch.localmodels.profile import wants_small_profile

    monkeypatch.delenv("KETCH_MODEL_PROFILE", raising=False)
    assert wants_small_profile(provider, model, base) is small


def test_the_profile_can_be_chosen_and_a_wrong_choice_is_one_line(monkeypatch):
    from ketch.errors import ConfigError
    from ketch.localmodels.profile import wants_small_profile

    monkeypatch.setenv("KETCH_MODEL_PROFILE", "small")
    assert wants_small_profile("openai", "my-model", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("KETCH_MODEL_PROFILE", "full")
    assert not wants_small_profile("local", "qwen2.5-coder-1.5b", "")
    monkeypatch.setenv("KETCH_MODEL_PROFILE", "tiny")
    with pytest.raises(ConfigError, match="KETCH_MODEL_PROFILE must be small or full"):
        wants_small_profile("openai", "x-1b", "http://127.0.0.1/v1")


def test_a_small_model_on_the_users_own_server_gets_the_whole_small_profile(tmp_path, monkeypatch):
    """Tools, prompt, window, reply cap, the tests rule and the closed loop: all as for the embedded model."""
    from ketch.cli.wiring import RunOptions, build_agent

    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("KETCH_CONTEXT_WINDOW", raising=False)
    monkeypatch.delenv("KETCH_MODEL_PROFILE", raising=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    agent = build_agent(RunOptions(workspace=ws, model="openai:qwen2.5-coder-1.5b"))
    assert {t.name for t in agent.tools} == set(SMALL_TOOLS)
    assert agent.config.context_window == 8192 and agent.config.max_tokens == 2048
    assert agent.state.tests_are_evidence and agent.checks is not None
    assert "Read a file before you edit it" in agent.config.system_prompt
    big = build_agent(RunOptions(workspace=ws, model="openai:qwen2.5-coder-32b"))
    assert "Task" in {t.name for t in big.tools} or len(big.tools) > len(SMALL_TOOLS)
    assert not big.state.tests_are_evidence and big.checks is None


def test_a_small_edit_typed_with_the_other_quotes_still_lands_and_a_real_miss_is_still_refused(tmp_path: Path):
    from ketch.security.sandbox.bwrap import run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext, ToolError

    edit = {t.name: t for t in small_tools(default_tools())}["Edit"]
    names = tmp_path / "names.py"
    names.write_text('def initials(full_name):\n    return "".join(part[0] for part in full_name.split())\n')
    ctx = ToolContext(workspace=tmp_path, state=SessionState(edit_requires_read=False), runner=run_unsandboxed)
    call = {"file_path": "names.py", "old_string": "return ''.join(part[0] for part in full_name.split())",
            "new_string": "return ''.join(part[0].upper() for part in full_name.split())"}
    assert edit.repair_input(call, ctx, lambda path: False) == call  # a file it may not read is not looked at
    repaired = edit.repair_input(call, ctx, lambda path: True)
    assert repaired["old_string"] == 'return "".join(part[0] for part in full_name.split())'  # as the file has it
    assert repaired["new_string"] == call["new_string"]
    edit.run(repaired, ctx)
    assert "return ''.join(part[0].upper() for part in" in names.read_text()
    miss = {"file_path": "names.py", "old_string": "return 'x'", "new_string": "return 'y'"}
    assert edit.repair_input(miss, ctx, lambda path: True) == miss
    with pytest.raises(ToolError, match="old_string was not found"):
        edit.run(miss, ctx)


def test_a_small_edit_that_misses_in_a_short_file_is_told_to_write_the_file_whole(tmp_path: Path):
    from ketch.errors import OldStringNotFound
    from ketch.localmodels.profile import WHOLE_FILE_LINES
    from ketch.security.sandbox.bwrap import run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext

    edit = {t.name: t for t in small_tools(default_tools())}["Edit"]
    ctx = ToolContext(workspace=tmp_path, state=SessionState(edit_requires_read=False), runner=run_unsandboxed)
    miss = {"file_path": "wc.py", "old_string": "wordcount.main", "new_string": "wordcount.main(verbose=True)"}
    (tmp_path / "wc.py").write_text("import argparse\n\n\ndef main(argv=None):\n    return 0\n")
    with pytest.raises(OldStringNotFound, match=r"wc.py is short \(5 lines\): instead of Edit, Write the whole"):
        edit.run(miss, ctx)
    (tmp_path / "wc.py").write_text("".join(f"x{i} = {i}\n" for i in range(WHOLE_FILE_LINES + 1)))
    with pytest.raises(OldStringNotFound) as long_file:
        edit.run(miss, ctx)
    assert "Write the whole" not in str(long_file.value)  # a long file is still edited
