"""CLAUDE.md `@path` imports: what is imported, from where, how deep, and what a repository cannot import."""

from __future__ import annotations

import os
from pathlib import Path

from ketch.agent.memory_imports import MAX_DEPTH, MAX_IMPORT_BYTES, import_paths
from ketch.agent.prompt import read_memory


def test_imports_outside_code_are_found():
    text = "See @docs/a.md and @~/me.md.\n`@not/span.md` mail me@x.org\n```\n@not/fenced.md\n```\n@b\\ c.md\n"
    assert import_paths(text) == ["docs/a.md", "~/me.md.", "b c.md"]


def test_a_relative_import_is_read_relative_to_the_importing_file(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "CLAUDE.md").write_text("Top.\n@docs/a.md\n")
    (tmp_path / "docs" / "a.md").write_text("A says @b.md\n")
    (tmp_path / "docs" / "b.md").write_text("B text\n")
    name, text = read_memory(tmp_path)  # type: ignore[misc]
    assert name == "CLAUDE.md"
    assert text.index("Top.") < text.index("A says") < text.index("B text")
    assert "(imported from @docs/a.md)" in text


def test_imports_stop_after_five_levels(tmp_path: Path):
    for i in range(MAX_DEPTH + 2):
        (tmp_path / f"f{i}.md").write_text(f"level {i} @f{i + 1}.md\n")
    (tmp_path / "CLAUDE.md").write_text("@f0.md\n")
    notices: list[str] = []
    _, text = read_memory(tmp_path, notices=notices)  # type: ignore[misc]
    assert f"level {MAX_DEPTH - 1}" in text and f"level {MAX_DEPTH}" not in text
    assert any("more than 5 levels" in n for n in notices)


def test_a_cycle_is_read_once(tmp_path: Path):
    (tmp_path / "CLAUDE.md").write_text("main @a.md\n")
    (tmp_path / "a.md").write_text("A @CLAUDE.md @a.md\n")
    _, text = read_memory(tmp_path)  # type: ignore[misc]
    assert text.count("A @CLAUDE.md") == 1 and text.count("main") == 1


def test_a_project_cannot_import_from_outside_or_from_home(tmp_path: Path):
    ws, outside, home = tmp_path / "ws", tmp_path / "outside", tmp_path / "home"
    for p in (ws, outside, home):
        p.mkdir()
    (outside / "canary.md").write_text("OUTSIDE-CANARY\n")
    (home / "notes.md").write_text("HOME-CANARY\n")
    os.symlink(outside / "canary.md", ws / "style.md")
    (ws / "CLAUDE.md").write_text(f"@style.md @../outside/canary.md @{outside}/canary.md @~/notes.md\n")
    notices: list[str] = []
    _, text = read_memory(ws, notices=notices)  # type: ignore[misc]
    assert "CANARY" not in text
    assert len(notices) == 3 and all("points outside" in n for n in notices)  # ~/ is not even tried


def test_the_users_own_memory_may_import_from_home_but_not_credentials(tmp_path: Path, monkeypatch):
    kh, home = tmp_path / "kh", tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    kh.mkdir()
    (home / ".ssh" / "id_rsa").write_text("PRIVATE\n")
    (home / "notes.md").write_text("my own notes\n")
    (kh / "AGENTS.md").write_text("@~/notes.md @~/.ssh/id_rsa\n")
    notices: list[str] = []
    _, text = read_memory(kh, notices=notices, home=home)  # type: ignore[misc]
    assert "my own notes" in text and "PRIVATE" not in text
    assert notices and "credential" in notices[0]


def test_an_imported_file_is_size_capped_and_a_fifo_is_skipped(tmp_path: Path):
    (tmp_path / "big.md").write_text("x" * (MAX_IMPORT_BYTES + 1))
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "CLAUDE.md").write_text("@big.md @pipe.md ok\n")
    notices: list[str] = []
    _, text = read_memory(tmp_path, notices=notices)  # type: ignore[misc]
    assert "xxxx" not in text and any("larger than" in n for n in notices)
