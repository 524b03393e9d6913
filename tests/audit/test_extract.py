"""--extract: hostile source paths stay inside the destination; nothing is written through a symlink."""

from __future__ import annotations

import os

import pytest
from fixtures import kairos_release

from ketch.audit.checks.mapfile import parse_map
from ketch.audit.extract import extract_sources, safe_relative
from ketch.errors import AuditError, UsageError

HOSTILE = ["../../etc/x", "/abs/path", "C:\\x", "a/../../b", "webpack://@acme/app/./src/main.ts",
           "file:///home/alice/p/q.ts", "bad\x00na\x1bme.ts", "..", "C:\\Users\\bob\\..\\..\\evil.ts"]


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(("source", "relative"), [
    ("../../etc/x", "etc/x"), ("/abs/path", "abs/path"), ("C:\\x", "x"), ("a/../../b", "a/b"),
    ("webpack://@acme/app/./src/main.ts", "@acme/app/src/main.ts"), ("file:///home/alice/p/q.ts", "home/alice/p/q.ts"),
    ("bad\x00na\x1bme.ts", "badname.ts"), ("..", "unnamed"), ("C:\\Users\\bob\\..\\..\\evil.ts", "Users/bob/evil.ts"),
])
def test_a_source_path_becomes_a_plain_relative_path(source, relative):
    assert safe_relative(source) == relative


def test_a_hostile_map_writes_only_inside_the_destination(tmp_path):
    dest = tmp_path / "out" / "what-they-see"
    summary = extract_sources(((s, f"// {i}\n") for i, s in enumerate(HOSTILE)), dest)
    assert tree(tmp_path) == sorted(f"out/what-they-see/{p}" for p in [
        "etc/x", "abs/path", "x", "a/b", "@acme/app/src/main.ts", "home/alice/p/q.ts", "badname.ts", "unnamed",
        "Users/bob/evil.ts"])
    assert (summary.files, summary.renamed, summary.sanitized) == (9, 0, 9)
    assert summary.bytes == sum(len(f"// {i}\n") for i in range(9))


def test_a_symlink_planted_in_the_destination_is_refused_and_nothing_is_written(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "etc").symlink_to(outside)
    with pytest.raises(AuditError, match="not empty"):
        extract_sources([("etc/x", "pwned")], dest)
    assert list(outside.iterdir()) == []
    link = tmp_path / "link"
    link.symlink_to(outside)
    with pytest.raises(AuditError, match="symlink"):
        extract_sources([("x", "pwned")], link)
    assert list(outside.iterdir()) == [] and issubclass(AuditError, UsageError)


def test_a_symlink_raced_in_after_the_check_is_stepped_around(tmp_path, monkeypatch):
    from ketch.audit import extract
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    opened = extract._open_destination

    def plant(path):
        fd = opened(path)
        os.symlink(outside, "src", dir_fd=fd)
        os.symlink(outside / "main.ts", "top.ts", dir_fd=fd)
        return fd

    monkeypatch.setattr(extract, "_open_destination", plant)
    summary = extract_sources([("src/main.ts", "a"), ("top.ts", "b")], dest)
    assert list(outside.iterdir()) == []
    assert summary.renamed == 2 and (dest / "src~2" / "main.ts").read_text() == "a"
    assert (dest / "top~2.ts").read_text() == "b"


def test_duplicates_after_sanitizing_take_a_suffix_and_a_file_never_becomes_a_folder(tmp_path):
    summary = extract_sources([("/a/x.ts", "1"), ("../a/x.ts", "2"), ("a/x.ts", "3"), ("a/x.ts/y", "4")], tmp_path)
    assert tree(tmp_path) == ["a/x.ts", "a/x~2.ts", "a/x~3.ts", "a/x~4.ts/y"]
    assert [(tmp_path / p).read_text() for p in ("a/x.ts", "a/x~2.ts", "a/x~3.ts", "a/x~4.ts/y")] == ["1", "2", "3", "4"]
    assert summary.renamed == 3


def test_limits_stop_with_one_line(tmp_path):
    with pytest.raises(AuditError, match=r"^--extract stopped at 2 files in .*: raise the limit or choose fewer maps$"):
        extract_sources([("a", "1"), ("b", "2"), ("c", "3")], tmp_path / "n", max_files=2)
    with pytest.raises(AuditError, match="stopped at 10 bytes"):
        extract_sources([("a", "12345"), ("b", "123456")], tmp_path / "m", max_bytes=10)
    assert tree(tmp_path / "m") == ["a"]


def test_the_2_1_88_map_rebuilds_its_sources(tmp_path):
    parsed = parse_map(dict(kairos_release())["package/cli.js.map"])
    summary = extract_sources(parsed.contents, tmp_path / "x")
    assert tree(tmp_path / "x") == ["node_modules/lodash/identity.js", "src/main.ts", "src/tools/index.ts"]
    assert "feature('KAIROS')" in (tmp_path / "x" / "src" / "main.ts").read_text()
    assert summary.files == 3
