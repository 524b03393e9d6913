"""Paths a small model gets slightly wrong: a lost leading slash or the workspace's folder repeated
are resolved to the file inside the workspace, or named; an error never shows the path doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool
from ketch.tools.glob import GlobTool
from ketch.tools.grep import GrepTool
from ketch.tools.paths import missing, resolve
from ketch.tools.read import ReadTool
from ketch.tools.write import WriteTool


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """/tmp/.../work/proj with src/app.py in it."""
    root = (tmp_path / "work" / "proj").resolve()
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 1\n")
    return root


def lost_slash(path: Path) -> str:
    return str(path).lstrip("/")


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def test_a_lost_leading_slash_and_a_repeated_workspace_folder_resolve_inside(ws: Path) -> None:
    app = ws / "src" / "app.py"
    assert resolve(lost_slash(app), ws) == app
    assert resolve("proj/src/app.py", ws) == app  # the workspace's own folder written again
    assert resolve("work/proj/src/app.py", ws) == app
    assert resolve("src/app.py", ws) == app and resolve(str(app), ws) == app
    # a new file: the whole workspace written without its slash, and nothing called like its first part here
    assert resolve(lost_slash(ws / "src" / "new.py"), ws) == ws / "src" / "new.py"
    assert resolve(lost_slash(ws / "pkg" / "new.py"), ws) == ws / "pkg" / "new.py"
    assert resolve("proj/new.py", ws) == ws / "proj" / "new.py"  # may be a new subfolder: taken as written


def test_a_path_that_exists_as_written_wins(ws: Path) -> None:
    (ws / "proj" / "src").mkdir(parents=True)
    (ws / "proj" / "src" / "app.py").write_text("x = 2\n")
    assert resolve("proj/src/app.py", ws) == ws / "proj" / "src" / "app.py"


def test_outside_the_workspace_is_never_resolved_nor_named(ws: Path, tmp_path: Path) -> None:
    """Naming it would tell whether a file exists where nothing may be read (~/.ssh/id_rsa)."""
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    written = lost_slash(outside)
    assert resolve(written, ws) == ws / written  # as before: the gate sees the path as written
    shown = missing(ws / written, ws)
    assert str(outside) not in shown.replace(written, "")
    assert shown == missing(ws / lost_slash(tmp_path / "absent.txt"), ws).replace("absent.txt", "secret.txt")


def test_an_ambiguous_path_names_both_candidates(tmp_path: Path) -> None:
    ws = (tmp_path / "a" / "a").resolve()
    ws.mkdir(parents=True)
    (ws / "x.py").write_text("1\n")
    (ws / "a").mkdir()
    (ws / "a" / "x.py").write_text("2\n")
    path = resolve("a/a/x.py", ws)  # /…/a/a/x.py (workspace written again) or /…/a/a/a/x.py
    assert path == ws / "a" / "a" / "x.py" and not path.exists()
    assert missing(path, ws) == f"a/a/x.py (did you mean {ws / 'x.py'} or {ws / 'a' / 'x.py'}?)"


def test_errors_of_every_tool_show_the_path_as_meant_never_doubled(ws: Path) -> None:
    ctx = make_ctx(ws)
    doubled = str(ws) + str(ws)
    calls = [
        (ReadTool(), {"file_path": lost_slash(ws / "src" / "gone.py")}, ws / "src" / "gone.py"),
        (EditTool(), {"file_path": lost_slash(ws / "src" / "gone.py"), "old_string": "a", "new_string": "b"},
         ws / "src" / "gone.py"),
        (ReadTool(), {"file_path": lost_slash(ws / "nodir" / "gone.py")}, ws / "nodir" / "gone.py"),
        (GrepTool(), {"pattern": "x", "path": lost_slash(ws / "nodir")}, ws / "nodir"),
        (GlobTool(), {"pattern": "*.py", "path": lost_slash(ws / "nodir")}, ws / "nodir"),
    ]
    for tool, call, meant in calls:
        with pytest.raises(ToolError) as err:
            tool.run(call, ctx)
        message = str(err.value)
        assert doubled not in message and "does not exist: " + str(meant) in message, message
    with pytest.raises(ToolError) as err:  # the workspace's last folder repeated, nothing like it here
        ReadTool().run({"file_path": "proj/src/gone.py"}, ctx)
    assert str(err.value) == (f"File does not exist: proj/src/gone.py (looked for in the workspace {ws}; "
                              "give an absolute path)")


def test_the_tools_act_on_the_resolved_file(ws: Path) -> None:
    ctx = make_ctx(ws)
    app = ws / "src" / "app.py"
    assert "def main" in ReadTool().run({"file_path": lost_slash(app)}, ctx).content
    EditTool().run({"file_path": "proj/src/app.py", "old_string": "return 1", "new_string": "return 2"}, ctx)
    assert "return 2" in app.read_text()
    WriteTool().run({"file_path": lost_slash(ws / "src" / "util.py"), "content": "X = 1\n"}, ctx)
    assert (ws / "src" / "util.py").read_text() == "X = 1\n" and not (ws / lost_slash(ws)).exists()
    assert str(app) in GlobTool().run({"pattern": "*.py", "path": lost_slash(ws / "src")}, ctx).content


def test_the_resolved_path_still_passes_the_execution_time_checks(ws: Path) -> None:
    """Resolving picks a path; the checks run on it as on any other (here: a protected file)."""
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    checked: list[Path] = []

    def check(kind: str, path: Path) -> None:
        checked.append(path)
        if ".git" in path.parts:
            raise ToolError(f"permission denied: {path} is protected")

    ctx = make_ctx(ws)
    ctx.check_opened = check
    with pytest.raises(ToolError, match="protected"):
        EditTool().run({"file_path": lost_slash(ws / ".git" / "config"), "old_string": "[core]",
                        "new_string": "[core]\n\thooksPath = /tmp"}, ctx)
    assert checked == [ws / ".git" / "config"] and (ws / ".git" / "config").read_text() == "[core]\n"
