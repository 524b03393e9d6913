"""Write: read-first rule, stale-read rule, atomic replace, mode kept, parents created."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.read import ReadTool
from ketch.tools.write import WriteTool


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def test_creates_new_file_and_parents_without_read(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = WriteTool().run({"file_path": "deep/er/new.txt", "content": "a\nb\n"}, ctx)
    target = tmp_path / "deep/er/new.txt"
    assert target.read_text() == "a\nb\n"
    assert "Created" in result.content and "2 lines" in result.content
    assert ctx.state.read_files[str(target)] == os.stat(target).st_mtime_ns


def test_new_file_gets_umask_mode(tmp_path: Path) -> None:
    WriteTool().run({"file_path": "m.txt", "content": "x"}, make_ctx(tmp_path))
    old = os.umask(0)
    os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.txt").st_mode) == 0o666 & ~old


def test_refuses_existing_file_not_read(tmp_path: Path) -> None:
    f = tmp_path / "keep.txt"
    f.write_text("precious")
    with pytest.raises(ToolError, match="not been read"):
        WriteTool().run({"file_path": str(f), "content": "oops"}, make_ctx(tmp_path))
    assert f.read_text() == "precious"


def test_refuses_file_changed_since_read(tmp_path: Path) -> None:
    f = tmp_path / "keep.txt"
    f.write_text("v1")
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    f.write_text("v2 by the user")
    os.utime(f, ns=(1, 1))  # a different mtime even on coarse clocks
    with pytest.raises(ToolError, match="changed since"):
        WriteTool().run({"file_path": str(f), "content": "model"}, ctx)
    assert f.read_text() == "v2 by the user"


def test_overwrite_after_read_keeps_mode_and_is_atomic(tmp_path: Path) -> None:
    f = tmp_path / "run.sh"
    f.write_text("#!/bin/sh\necho old\n")
    f.chmod(0o751)
    inode_before = os.stat(f).st_ino
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    result = WriteTool().run({"file_path": str(f), "content": "#!/bin/sh\necho new\n"}, ctx)
    assert "Updated" in result.content
    assert f.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o751
    assert os.stat(f).st_ino != inode_before  # replaced by rename, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["run.sh"]  # no temp file left behind
    # The write counts as a read: a second write needs no new Read.
    WriteTool().run({"file_path": str(f), "content": "again"}, ctx)
    assert f.read_text() == "again"


def test_write_through_symlink_replaces_target_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(link)}, ctx)
    WriteTool().run({"file_path": str(link), "content": "new"}, ctx)
    assert link.is_symlink() and real.read_text() == "new"


def test_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="directory"):
        WriteTool().run({"file_path": "d", "content": "x"}, make_ctx(tmp_path))


def test_parent_is_a_file_gives_clear_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(ToolError, match="Cannot"):
        WriteTool().run({"file_path": "f/child.txt", "content": "x"}, make_ctx(tmp_path))


def test_unwritable_directory_gives_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ToolError, match="permission denied"):
            WriteTool().run({"file_path": "locked/x.txt", "content": "x"}, make_ctx(tmp_path))
    finally:
        locked.chmod(0o700)


def test_paths_returns_canonical_target(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "sub")
    ctx = make_ctx(tmp_path)
    assert WriteTool().paths({"file_path": "alias/x.txt"}, ctx) == [(tmp_path / "sub/x.txt").resolve()]
    with pytest.raises(ToolError):
        WriteTool().paths({}, ctx)


def test_a_write_that_changes_nothing_is_refused_so_the_model_learns_it_fixed_nothing(tmp_path: Path) -> None:
    f = tmp_path / "wc.py"
    f.write_text("import argparse\n")
    ctx = make_ctx(tmp_path)
    ReadTool().run({"file_path": str(f)}, ctx)
    before = f.stat().st_mtime_ns
    with pytest.raises(ToolError, match="already has exactly this content, so nothing would change"):
        WriteTool().run({"file_path": str(f), "content": "import argparse\n"}, ctx)
    assert f.stat().st_mtime_ns == before
