"""The composition root's side of skills: the cheap check, and which user skill folders Read may open unasked."""

from __future__ import annotations

import os
from pathlib import Path

from ketch.cli.extensions import _may_read_all, load_skills, skill_folders
from ketch.ext.skills import loader


def test_the_cheap_check_looks_where_the_loader_looks(tmp_path: Path):
    ws, kh, home = tmp_path / "ws", tmp_path / "kh", tmp_path / "home"
    assert skill_folders(ws, kh, home) == tuple(folder for _, folder in loader.skill_folders(ws, kh, home))


def test_no_skills_is_an_empty_plug(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    notices: list[str] = []
    plug = load_skills(tmp_path, tmp_path / "kh", notices)
    assert (plug.sections, plug.tools, plug.readable, notices) == ([], [], [], [])


def test_a_user_skill_folder_is_readable_unless_it_holds_home_or_a_credential_store(tmp_path: Path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    skills = home / ".claude" / "skills"
    (skills / "good").mkdir(parents=True)
    (skills / "good" / "SKILL.md").write_text("---\ndescription: good\n---\n")
    (home / ".ssh").mkdir()
    (home / "SKILL.md").write_text("---\ndescription: home itself\n---\n")
    os.symlink(home, skills / "home")
    (tmp_path / "ws").mkdir()
    plug = load_skills(tmp_path / "ws", tmp_path / "kh", [])
    assert plug.readable == [Path(os.path.realpath(skills / "good"))]
    assert _may_read_all(home / ".ssh" / "..", home) is False
    assert _may_read_all(home / ".config", home) is False  # holds .config/gcloud, .config/gh
    assert _may_read_all(home / ".config" / "my-skill", home) is True
