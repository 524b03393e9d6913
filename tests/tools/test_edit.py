"""Edit and MultiEdit: exact unique matching, helpful misses, all-or-nothing batches."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool, MultiEditTool, closest_region
from ketch.tools.read import ReadTool

SOURCE = """import os


def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


@pytest.fixture
def seen(tmp_path: Path) -> tuple[Path, ToolContext]:
    """A file the model has already read."""
    f = tmp_path / "m.py"
    f.write_text(SOURCE)
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    return f, ctx


def edit(ctx: ToolContext, f: Path, old: str, new: str, **extra: object) -> str:
    return EditTool().run({"file_path": str(f), "old_string": old, "new_string": new, **extra}, ctx).content


def test_unique_replacement_with_snippet(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    out = edit(ctx, f, "return a - b", "return a - b  # minus")
    assert f.read_text() == SOURCE.replace("return a - b", "return a - b  # minus")
    assert "     9\t    return a - b  # minus" in out
    assert "     8\tdef sub(a, b):" in out
    assert "     1\t" not in out  # only the region near the change


def test_edit_requires_read_first(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(SOURCE)
    with pytest.raises(ToolError, match="not been read"):
        edit(make_ctx(tmp_path), f, "import os", "import sys")
    assert f.read_text() == SOURCE


def test_edit_refuses_file_changed_since_read(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    f.write_text(SOURCE + "# user edit\n")
    os.utime(f, ns=(1, 1))
    with pytest.raises(ToolError, match="changed since"):
        edit(ctx, f, "import os", "import sys")


def test_consecutive_edits_need_no_reread(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    edit(ctx, f, "import os", "import sys")
    edit(ctx, f, "import sys", "import re")
    assert f.read_text().startswith("import re\n")


def test_multiple_matches_refused_with_count(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match=r"2 times.*replace_all"):
        edit(ctx, f, "(a, b)", "(x, y)")
    assert f.read_text() == SOURCE


def test_replace_all(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    out = edit(ctx, f, "(a, b)", "(x, y)", replace_all=True)
    assert f.read_text().count("(x, y)") == 2 and "(a, b)" not in f.read_text()
    assert "2 occurrences" in out


def test_identical_strings_refused(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match="identical"):
        edit(ctx, f, "import os", "import os")


def test_not_found_shows_closest_region_with_line_numbers(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError) as info:
        edit(ctx, f, "def sub(a, b):\n  return a-b", "def sub(a, b):\n    return b - a")
    message = str(info.value)
    assert "not found" in message
    assert "lines 8-9" in message
    assert "     8\tdef sub(a, b):" in message and "     9\t    return a - b" in message
    assert f.read_text() == SOURCE


def test_not_found_whitespace_only_difference_is_named(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match="only in whitespace"):
        edit(ctx, f, "def add(a, b):\n        return a + b", "x")


def test_not_found_without_similar_region(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match="no similar region"):
        edit(ctx, f, "zzzzqqqq", "x")


def test_closest_region_in_large_file_uses_anchors() -> None:
    lines = [f"value_{i} = compute({i}, 'padding text to make the line longer')" for i in range(20000)]
    lines[12345] = "    if ready and not done:"
    text = "\n".join(lines) + "\n"
    found = closest_region(text, "value_12344 = compute(12344, 'padding text to make the line longer')\n  if ready and not done:")
    assert found is not None and found[0] == 12345


def test_empty_old_string_creates_missing_file(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    out = edit(ctx, tmp_path / "new/file.py", "", "print('hi')\n")
    assert (tmp_path / "new/file.py").read_text() == "print('hi')\n"
    assert "Created" in out


def test_empty_old_string_on_nonempty_file_refused(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match="already has content"):
        edit(ctx, f, "", "x")


def test_missing_file_with_old_string_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        edit(make_ctx(tmp_path), tmp_path / "nope.py", "a", "b")


def test_crlf_file_matches_plain_newlines_and_stays_crlf(tmp_path: Path) -> None:
    f = tmp_path / "w.txt"
    f.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    edit(ctx, f, "one\ntwo", "uno\ndos")
    assert f.read_bytes() == b"uno\r\ndos\r\nthree\r\n"


def test_undecodable_bytes_survive_an_edit(tmp_path: Path) -> None:
    f = tmp_path / "latin.txt"
    f.write_bytes(b"caf\xe9\nkeep\n")
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    edit(ctx, f, "keep", "kept")
    assert f.read_bytes() == b"caf\xe9\nkept\n"


def test_edit_keeps_mode(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    f.chmod(0o700)
    ctx.state.read_files[str(f)] = os.stat(f).st_mtime_ns  # chmod does not change mtime; be explicit
    edit(ctx, f, "import os", "import sys")
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o700


def test_multiedit_applies_in_order(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    out = MultiEditTool().run(
        {
            "file_path": str(f),
            "edits": [
                {"old_string": "import os", "new_string": "import sys"},
                {"old_string": "import sys", "new_string": "import sys, re"},  # sees the first edit
                {"old_string": "a, b", "new_string": "p, q", "replace_all": True},
            ],
        },
        ctx,
    ).content
    text = f.read_text()
    assert text.startswith("import sys, re\n") and text.count("(p, q)") == 2
    assert "Applied 3 edits" in out


def test_multiedit_is_all_or_nothing(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    mtime = os.stat(f).st_mtime_ns
    with pytest.raises(ToolError) as info:
        MultiEditTool().run(
            {
                "file_path": str(f),
                "edits": [
                    {"old_string": "import os", "new_string": "import sys"},
                    {"old_string": "(a, b)", "new_string": "(x, y)"},  # two matches
                ],
            },
            ctx,
        )
    message = str(info.value)
    assert "edits[1]" in message and "2 times" in message and "unchanged" in message
    assert f.read_text() == SOURCE and os.stat(f).st_mtime_ns == mtime


def test_multiedit_identical_pair_names_index(seen: tuple[Path, ToolContext]) -> None:
    f, ctx = seen
    with pytest.raises(ToolError, match=r"edits\[0\].*identical"):
        MultiEditTool().run({"file_path": str(f), "edits": [{"old_string": "x", "new_string": "x"}]}, ctx)


def test_multiedit_creates_file_with_empty_first_old_string(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    MultiEditTool().run(
        {
            "file_path": "n.py",
            "edits": [{"old_string": "", "new_string": "a = 1\n"}, {"old_string": "a = 1", "new_string": "a = 2"}],
        },
        ctx,
    )
    assert (tmp_path / "n.py").read_text() == "a = 2\n"


def test_multiedit_requires_read_and_validates_items(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(SOURCE)
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="not been read"):
        MultiEditTool().run({"file_path": str(f), "edits": [{"old_string": "a", "new_string": "b"}]}, ctx)
    with pytest.raises(ToolError, match=r"edits\[0\]\.new_string"):
        MultiEditTool().run({"file_path": str(f), "edits": [{"old_string": "a"}]}, ctx)
    with pytest.raises(ToolError, match="at least 1"):
        MultiEditTool().run({"file_path": str(f), "edits": []}, ctx)


def test_edit_tools_report_paths(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    target = (tmp_path / "x.py").resolve()
    assert EditTool().paths({"file_path": "x.py"}, ctx) == [target]
    assert MultiEditTool().paths({"file_path": str(target), "edits": []}, ctx) == [target]


def test_small_model_profile_may_edit_unread_files_by_exact_match(tmp_path: Path) -> None:
    from ketch.security.sandbox.bwrap import run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext
    from ketch.tools.edit import EditTool

    target = tmp_path / "config.py"
    target.write_text("TIMEOUT = 30\n")
    ctx = ToolContext(workspace=tmp_path, state=SessionState(edit_requires_read=False), runner=run_unsandboxed)
    result = EditTool().run({"file_path": "config.py", "old_string": "TIMEOUT = 30", "new_string": "TIMEOUT = 60"}, ctx)
    assert not result.is_error and target.read_text() == "TIMEOUT = 60\n"
    # a file it did read must still not have changed since
    ctx.state.read_files[str(target.resolve())] = 1
    import pytest as _pytest

    from ketch.tools.base import ToolError
    with _pytest.raises(ToolError, match="changed since"):
        EditTool().run({"file_path": "config.py", "old_string": "60", "new_string": "90"}, ctx)
    strict = ToolContext(workspace=tmp_path, state=SessionState(), runner=run_unsandboxed)
    with _pytest.raises(ToolError, match="has not been read"):
        EditTool().run({"file_path": "config.py", "old_string": "60", "new_string": "90"}, strict)
