"""Write never silently guts a file: fragments and pasted tool output are refused, rewrites pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool
from ketch.tools.fragment_guard import check_whole_file, fragment, tell_tales
from ketch.tools.read import ReadTool
from ketch.tools.write import WriteTool

OLD = "".join(f"def step{i}(x):\n    return x * {i}\n\n" for i in range(1, 11))  # 30 lines
PY = Path("app.py")


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


@pytest.fixture
def seen(tmp_path: Path) -> tuple[Path, ToolContext]:
    f = tmp_path / "app.py"
    f.write_text(OLD)
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    return f, ctx


def write(ctx: ToolContext, f: Path, content: str) -> str:
    return WriteTool().run({"file_path": str(f), "content": content}, ctx).content


def test_a_write_keeping_3_of_30_lines_is_refused_and_says_what_to_do(seen) -> None:
    f, ctx = seen
    with pytest.raises(ToolError) as err:
        write(ctx, f, "def step4(x):\n    return x * 4\n\n")
    message = str(err.value)
    assert f.read_text() == OLD
    assert message.startswith(f"Write refused: {f} would lose its content: it would keep only 2 of the file's 30 lines")
    assert "Nothing was written." in message and "use Edit instead" in message
    assert "must be the complete new file" in message


@pytest.mark.parametrize("pasted", [
    "     4\tdef step2(x):\n     5\t    return x * 2\n",  # Read's numbered lines
    "   4→def step2(x):\n   5→    return x * 2\n",  # Claude Code's
    "Replaced 2 occurrences in /w/app.py:\ndef step2(x):\n    return x + 2\n",
    "The file /w/app.py has been updated.\ndef step2(x):\n    return x + 2\n",
    "def step2(x):\n    return x + 2\n...\n",
    "def step2(x):\n    return x + 2\n# ... rest of the file ...\n",
    "// ... existing code ...\ndef step2(x):\n    return x + 2\n",
    "def step2(x):\n    return x + 2\n# rest of the code unchanged\n",
])
def test_pasted_tool_output_and_elisions_are_refused_even_in_a_long_write(seen, pasted: str) -> None:
    f, ctx = seen
    content = OLD.replace("def step2(x):\n    return x * 2\n", pasted)  # as long as the file: not a fragment
    with pytest.raises(ToolError, match="Write refused: .* would lose its content: (line-number|a tool's|an elision)"):
        write(ctx, f, content)
    assert f.read_text() == OLD


def test_real_rewrites_pass(seen) -> None:
    f, ctx = seen
    short = "import math\n\n\ndef step(x, n):\n    return math.prod([x, n])\n"  # short, but new content
    assert "Updated" in write(ctx, f, short)
    assert f.read_text() == short
    longer = short + "".join(f"\n\ndef g{i}():\n    return {i}\n" for i in range(20))
    assert "Updated" in write(ctx, f, longer)  # and one that grows
    assert "Updated" in write(ctx, f, "")  # emptying a file on purpose is not a fragment of it


def test_what_the_old_file_already_had_is_not_a_tell_tale() -> None:
    tsv = "".join(f"{i}\tname{i}\n" for i in range(40))
    assert tell_tales(tsv, tsv + "41\tname41\n", Path("data.tsv")) == []
    stub = "class P(Protocol):\n    def f(self) -> int:\n        ...\n"
    assert tell_tales("x = 1\n", stub, PY) == []  # Python's Ellipsis as a body is code, not an elision
    assert tell_tales("a\n", "a\n...\n", Path("notes.md")) != []
    assert tell_tales("print('...')\n", "print('...')\nprint(1)\n", PY) == []


def test_small_files_and_short_outputs_follow_the_thresholds() -> None:
    nine = "".join(f"line {i}\n" for i in range(9))
    assert fragment(nine, "line 1\n") is None  # under 10 lines: a short rewrite is as likely
    ten = nine + "line 9\n"
    assert fragment(ten, "line 1\nline 2\nline 3\n") == (3, 10)
    assert fragment(ten, "line 1\nline 2\nline 3\nline 4\n") is None  # 40% kept: not "much shorter"
    assert fragment(ten, "line 1\nnew a\nnew b\n") is None  # mostly new lines: a rewrite
    check_whole_file(PY, ten, "line 1\nline 2\nline 3\nline 4\nline 5\n")


def test_edit_is_not_held_to_the_whole_file_rule(seen) -> None:
    f, ctx = seen
    body = OLD[: OLD.index("def step4")]
    EditTool().run({"file_path": str(f), "old_string": OLD[len(body):], "new_string": ""}, ctx)
    assert f.read_text() == body  # Edit deleting most of a file is a visible, deliberate change
