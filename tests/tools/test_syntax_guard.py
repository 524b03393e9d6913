"""The syntax guard: a change that would break a file that parsed is refused, through every tool."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool, MultiEditTool
from ketch.tools.read import ReadTool
from ketch.tools.syntax_guard import MAX_GUARDED_CHARS, check_syntax, problem
from ketch.tools.write import WriteTool

APP = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(1, 8))


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def read(ctx: ToolContext, f: Path) -> None:
    ReadTool().run({"file_path": str(f)}, ctx)


def test_an_edit_that_drops_a_colon_is_refused_with_where_and_the_new_lines(tmp_path: Path) -> None:
    f = tmp_path / "app.py"
    f.write_text(APP)
    ctx = make_ctx(tmp_path)
    read(ctx, f)
    with pytest.raises(ToolError) as err:
        EditTool().run({"file_path": str(f), "old_string": "def f4(x):", "new_string": "def f4(x)"}, ctx)
    message = str(err.value)
    assert f.read_text() == APP
    assert message.startswith(f"Edit refused: {f} would no longer parse as Python: line 13, col 10: expected ':'.")
    assert "Nothing was written." in message
    # the 3 lines around the spot, in the NEW text, numbered like Read's output, with a caret
    assert "    12\t\n    13\tdef f4(x)\n      \t         ^\n    14\t    return x + 4" in message
    assert "Fix the new_string" in message


def test_multiedit_and_write_are_guarded_too(tmp_path: Path) -> None:
    f = tmp_path / "app.py"
    f.write_text(APP)
    ctx = make_ctx(tmp_path)
    read(ctx, f)
    edits = [{"old_string": "return x + 1", "new_string": "return x + 1)"}]
    with pytest.raises(ToolError, match=r"MultiEdit refused: .* line 2, col 17: unmatched '\)'"):
        MultiEditTool().run({"file_path": str(f), "edits": edits}, ctx)
    with pytest.raises(ToolError, match="Write refused: .*would no longer parse as Python: line 1"):
        WriteTool().run({"file_path": str(f), "content": APP.replace("def f1(x):", "def f1(x:")}, ctx)
    assert f.read_text() == APP
    EditTool().run({"file_path": str(f), "old_string": "return x + 1", "new_string": "return x - 1"}, ctx)
    assert "return x - 1" in f.read_text()  # a change that parses goes through


def test_a_new_file_that_does_not_parse_is_refused_and_not_created(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match=r"Write refused: .*new\.json would not parse as JSON: line 2, col 1"):
        WriteTool().run({"file_path": "new.json", "content": '{"a": 1,\n}\n'}, ctx)
    assert not (tmp_path / "new.json").exists()
    WriteTool().run({"file_path": "empty.py", "content": ""}, ctx)  # an empty file parses everywhere
    WriteTool().run({"file_path": "ok.json", "content": '{"a": 1}\n'}, ctx)
    assert (tmp_path / "ok.json").read_text() == '{"a": 1}\n'


def test_a_file_that_did_not_parse_before_is_not_guarded(tmp_path: Path) -> None:
    f = tmp_path / "half.py"
    f.write_text("def f(:\n    return 1\n\nclass A\n    pass\n")
    ctx = make_ctx(tmp_path)
    read(ctx, f)
    EditTool().run({"file_path": str(f), "old_string": "def f(:", "new_string": "def f():"}, ctx)
    assert f.read_text().startswith("def f():")  # one step of a fix; the file still does not parse


@pytest.mark.parametrize(("name", "good", "bad", "where"), [
    ("pyproject.toml", '[project]\nname = "x"\n', '[project]\nname = \n', "line 2, col 8"),
    ("data.json", '{"a": [1, 2]}\n', '{"a": [1, 2}\n', "line 1, col 12"),
    ("ci.yml", "jobs:\n  test:\n    steps: [1, 2]\n", "jobs:\n  test:\n    steps: [1, 2\n", "line 4, col 1"),
])
def test_each_language_names_the_line_and_column(tmp_path: Path, name: str, good: str, bad: str, where: str) -> None:
    if name.endswith(".yml") and importlib.util.find_spec("yaml") is None:
        pytest.skip("PyYAML is not installed: YAML is not guarded (no dependency is added for it)")
    f = tmp_path / name
    f.write_text(good)
    with pytest.raises(ToolError, match=f"would no longer parse as .*: {where}: "):
        check_syntax("Edit", f, good, bad)
    check_syntax("Edit", f, good, good.replace("1", "3"))


def test_python_uses_the_files_own_future_imports_and_catches_compile_errors() -> None:
    py = Path("m.py")
    # `from __future__ import annotations` in ketch must not leak in: this is the file's own choice
    assert problem(py, "from __future__ import braces\n") is not None
    found = problem(py, "x = 1\nreturn x\n")  # ast.parse accepts this; compile does not
    assert found is not None and found.line == 2 and "outside function" in found.message
    assert problem(py, 'path = "C:\\d"\n') is None  # an invalid escape is a warning, not breakage
    assert problem(Path("notes.txt"), "def (") is None and problem(Path("Makefile"), "{") is None


def test_yaml_custom_tags_are_syntax_not_errors() -> None:
    if importlib.util.find_spec("yaml") is None:
        pytest.skip("PyYAML is not installed")
    assert problem(Path("t.yaml"), "Value: !Ref Bucket\nOther: !GetAtt [A, B]\n") is None


def test_big_files_are_not_parsed(tmp_path: Path) -> None:
    big = "x = 1\n" * (MAX_GUARDED_CHARS // 6 + 1)
    check_syntax("Edit", Path("big.py"), big, big + "def (\n")  # no refusal: not worth a parse per edit
