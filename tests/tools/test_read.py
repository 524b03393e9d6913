"""Read: numbered lines, ranges, limits, refusals, and the read record Write/Edit rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.read import ReadTool


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def read(ctx: ToolContext, **input: object) -> str:
    result = ReadTool().run(dict(input), ctx)
    assert not result.is_error
    return result.content


def test_numbered_like_cat_n_and_records_mtime(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("alpha\n\tbeta\ngamma")
    ctx = make_ctx(tmp_path)
    out = read(ctx, file_path=str(f))
    assert out == "     1\talpha\n     2\t\tbeta\n     3\tgamma"
    assert ctx.state.read_files[str(f)] == os.stat(f).st_mtime_ns


def test_relative_path_is_taken_from_workspace_and_canonical(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("x\n")
    (tmp_path / "link.txt").symlink_to(real)
    ctx = make_ctx(tmp_path)
    assert read(ctx, file_path="link.txt") == "     1\tx"
    assert list(ctx.state.read_files) == [str(real.resolve())]


def test_crlf_line_endings_are_not_shown(tmp_path: Path) -> None:
    f = tmp_path / "w.txt"
    f.write_bytes(b"one\r\ntwo\r\n")
    assert read(make_ctx(tmp_path), file_path=str(f)) == "     1\tone\n     2\ttwo"


def test_offset_and_limit(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = read(make_ctx(tmp_path), file_path=str(f), offset=4, limit=3)
    lines = out.split("\n")
    assert lines[:3] == ["     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "of 10" in out and "offset=7" in out


def test_limit_reaching_end_has_no_continuation_note(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("a\nb\nc\n")
    assert read(make_ctx(tmp_path), file_path=str(f), offset=2, limit=2) == "     2\tb\n     3\tc"


def test_default_limit_is_2000_lines(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    f.write_text("x\n" * 2500)
    out = read(make_ctx(tmp_path), file_path=str(f))
    assert "  2000\tx" in out and "  2001\t" not in out
    assert "of 2500" in out and "offset=2001" in out


def test_long_lines_are_cut_with_marker(tmp_path: Path) -> None:
    f = tmp_path / "long.txt"
    f.write_text("y" * 5000 + "\nshort\n")
    out = read(make_ctx(tmp_path), file_path=str(f))
    first = out.split("\n")[0]
    assert first.startswith("     1\t" + "y" * 2000)
    assert "y" * 2001 not in first and "truncated" in first and "5000" in first
    assert out.split("\n")[1] == "     2\tshort"


def test_empty_file_is_reported_and_recorded(tmp_path: Path) -> None:
    f = tmp_path / "empty.txt"
    f.write_text("")
    ctx = make_ctx(tmp_path)
    assert "empty" in read(ctx, file_path=str(f))
    assert str(f) in ctx.state.read_files


def test_offset_past_end(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("a\nb\n")
    out = read(make_ctx(tmp_path), file_path=str(f), offset=9)
    assert "2 lines" in out and "past the end" in out


def test_a_latin1_file_reads_as_its_characters_with_a_note(tmp_path: Path) -> None:
    f = tmp_path / "latin.txt"
    f.write_bytes(b"caf\xe9\n")
    out = read(make_ctx(tmp_path), file_path=str(f))
    assert out.startswith("     1\tcaf\u00e9\n")
    assert "not UTF-8" in out and "cp1252" in out


def test_utf16_and_bom_files_read_as_text(tmp_path: Path) -> None:
    f = tmp_path / "u16.txt"
    f.write_bytes("\ufeffh\u00e9llo\r\nworld\r\n".encode("utf-16-le"))
    out = read(make_ctx(tmp_path), file_path=str(f))
    assert out.startswith("     1\th\u00e9llo\n     2\tworld")
    g = tmp_path / "bom.txt"
    g.write_bytes(b"\xef\xbb\xbfx = 1\n")
    assert read(make_ctx(tmp_path), file_path=str(g)) == "     1\tx = 1"


def test_refuses_directory_with_hint(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="directory.*Glob"):
        ReadTool().run({"file_path": str(tmp_path)}, make_ctx(tmp_path))


def test_missing_file_suggests_near_name(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("k: v\n")
    with pytest.raises(ToolError, match="does not exist.*config.yaml"):
        ReadTool().run({"file_path": "config.yml"}, make_ctx(tmp_path))


def test_refuses_binary_and_names_type(tmp_path: Path) -> None:
    png = tmp_path / "img.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    with pytest.raises(ToolError, match="PNG image"):
        ReadTool().run({"file_path": str(png)}, make_ctx(tmp_path))
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"abc\x00def")
    with pytest.raises(ToolError, match="binary"):
        ReadTool().run({"file_path": str(blob)}, make_ctx(tmp_path))


def test_refuses_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ToolError, match="not a regular file"):
        ReadTool().run({"file_path": str(fifo)}, make_ctx(tmp_path))


def test_refuses_device(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="not a regular file"):
        ReadTool().run({"file_path": "/dev/null"}, make_ctx(tmp_path))


def test_large_file_needs_offset_and_limit(tmp_path: Path) -> None:
    f = tmp_path / "huge.log"
    f.write_text(("z" * 99 + "\n") * 3000)  # 300 KB, 3000 lines
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError) as info:
        ReadTool().run({"file_path": str(f)}, ctx)
    message = str(info.value)
    assert "offset" in message and "limit" in message and "3000 lines" in message
    assert str(f) not in ctx.state.read_files
    out = read(ctx, file_path=str(f), offset=2999, limit=5)
    assert out.startswith("  2999\t") and "  3000\t" in out


def test_permission_denied_is_a_tool_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    f = tmp_path / "secret.txt"
    f.write_text("s")
    f.chmod(0)
    with pytest.raises(ToolError, match="Permission denied"):
        ReadTool().run({"file_path": str(f)}, make_ctx(tmp_path))


def test_bad_input_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="`offset`"):
        ReadTool().run({"file_path": "x", "offset": "ten"}, make_ctx(tmp_path))
    with pytest.raises(ToolError, match="file_path"):
        ReadTool().run({}, make_ctx(tmp_path))


def test_output_is_bounded_even_for_a_wide_range(tmp_path: Path) -> None:
    f = tmp_path / "wide.txt"
    f.write_text(("w" * 1500 + "\n") * 1000)  # 1.5 MB
    out = read(make_ctx(tmp_path), file_path=str(f), offset=1, limit=1000)
    assert len(out) < 110_000
    assert "Use offset=" in out and "of 1000" in out
