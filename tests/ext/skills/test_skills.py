"""Skills: where they come from, which wins, what of them reaches the prompt, and what a hostile one cannot do."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ketch.errors import ToolError
from ketch.ext.skills.loader import MAX_DESCRIPTION_CHARS, MAX_SKILL_BYTES, front_matter, load_skills
from ketch.ext.skills.tool import SkillTool, prompt_section


def _skill(folder: Path, name: str, description: str = "does a thing", body: str = "Do it.\n",
           extra: str = "") -> Path:
    (folder / name).mkdir(parents=True, exist_ok=True)
    path = folder / name / "SKILL.md"
    path.write_text(f"---\nname: {name}\ndescription: {description}\n{extra}---\n{body}")
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    ws, kh, home = tmp_path / "ws", tmp_path / "kh", tmp_path / "home"
    for p in (ws, kh, home):
        p.mkdir()
    return {"ws": ws, "kh": kh, "home": home, "ketch": ws / ".ketch" / "skills", "claude": ws / ".claude" / "skills",
            "user": kh / "skills", "user_claude": home / ".claude" / "skills", "outside": tmp_path}


def _load(places: dict[str, Path]) -> tuple[list, list[str]]:
    warnings: list[str] = []
    return load_skills(places["ws"], places["kh"], places["home"], warnings.append), warnings


def test_skills_from_all_four_folders_sorted(places):
    for key, name in (("ketch", "a"), ("claude", "b"), ("user", "c"), ("user_claude", "d")):
        _skill(places[key], name, f"skill {name}")
    skills, warnings = _load(places)
    assert [(s.name, s.source) for s in skills] == [("a", "project"), ("b", "project"), ("c", "user"), ("d", "user")]
    assert warnings == []


def test_ketch_wins_over_claude_and_the_person_is_told(places):
    _skill(places["ketch"], "fmt", "ketch version")
    _skill(places["claude"], "fmt", "claude version")
    skills, warnings = _load(places)
    assert [s.description for s in skills] == ["ketch version"]
    assert len(warnings) == 1 and ".ketch/skills/fmt/SKILL.md is used, not .claude/skills/fmt/SKILL.md" in warnings[0]


def test_a_project_skill_wins_over_the_users_silently(places):
    _skill(places["user"], "fmt", "user version")
    _skill(places["claude"], "fmt", "project version")
    skills, warnings = _load(places)
    assert [s.description for s in skills] == ["project version"] and warnings == []


def test_the_name_defaults_to_the_folder_and_description_may_be_folded(places):
    (places["claude"] / "notes").mkdir(parents=True)
    (places["claude"] / "notes" / "SKILL.md").write_text(
        "---\ndescription: >\n  Writes release\n  notes.\nallowed-tools: Bash(rm:*)\n---\nbody\n")
    skills, _ = _load(places)
    assert [(s.name, s.description) for s in skills] == [("notes", "Writes release notes.")]


def test_a_skill_without_a_description_is_skipped_with_a_fix(places):
    (places["claude"] / "bare").mkdir(parents=True)
    (places["claude"] / "bare" / "SKILL.md").write_text("# just a body\n")
    skills, warnings = _load(places)
    assert skills == [] and "no description" in warnings[0]


def test_the_description_is_capped_and_each_prompt_line_stays_under_40_tokens(places):
    _skill(places["claude"], "short", "word " * 400)
    _skill(places["claude"], "long-" + "n" * 58, "wörd " * 400)
    skills, _ = _load(places)
    assert len(skills[1].description) == MAX_DESCRIPTION_CHARS and skills[1].description.endswith("…")
    for line in prompt_section(skills).splitlines()[1:]:
        assert line.endswith("…") and len(line.encode()) / 4 <= 40


def test_escape_sequences_never_reach_the_prompt_or_the_warnings(places):
    _skill(places["claude"], "ok", "red \x1b[31mtext\x1b[0m and \u202eflipped\x07")
    bad = places["claude"] / "evil"
    bad.mkdir()
    (bad / "SKILL.md").write_text("---\nname: evil\x1b]0;pwned\x07\ndescription: x\n---\n")
    skills, warnings = _load(places)
    section = prompt_section(skills)
    assert "\x1b" not in section and "\u202e" not in section and "\x07" not in section
    assert [s.name for s in skills] == ["ok"]
    assert len(warnings) == 1 and "\x1b" not in warnings[0] and "\\x1b" in warnings[0]


def test_a_skill_linked_out_of_the_project_is_refused(places):
    secret = places["outside"] / "secret.md"
    secret.write_text("---\nname: leak\ndescription: TOPSECRET\n---\nTOPSECRET body\n")
    (places["claude"] / "leak").mkdir(parents=True)
    os.symlink(secret, places["claude"] / "leak" / "SKILL.md")
    elsewhere = places["outside"] / "elsewhere"
    _skill(elsewhere, "folder", "TOPSECRET folder")
    os.symlink(elsewhere / "folder", places["claude"] / "folder")
    skills, warnings = _load(places)
    assert skills == [] and len(warnings) == 2
    assert all("points outside" in w for w in warnings)


def test_a_skills_folder_linked_out_of_the_project_is_refused(places):
    _skill(places["outside"] / "theirs", "x", "TOPSECRET")
    (places["ws"] / ".claude").mkdir()
    os.symlink(places["outside"] / "theirs", places["claude"])
    skills, warnings = _load(places)
    assert skills == [] and "points outside the project" in warnings[0]


def test_a_credential_named_skill_file_link_is_refused_even_inside_the_project(places):
    (places["ws"] / ".env").write_text("---\nname: env\ndescription: API_KEY=abc\n---\n")
    (places["claude"] / "env").mkdir(parents=True)
    os.symlink(places["ws"] / ".env", places["claude"] / "env" / "SKILL.md")
    skills, warnings = _load(places)
    assert skills == [] and "credential" in warnings[0]


def test_a_fifo_skill_neither_hangs_nor_is_read(places):
    (places["claude"] / "pipe").mkdir(parents=True)
    os.mkfifo(places["claude"] / "pipe" / "SKILL.md")
    _skill(places["claude"], "real")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(_load(places)), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "loading skills hung on a FIFO"
    skills, warnings = done[0]
    assert [s.name for s in skills] == ["real"] and "not a regular file" in warnings[0]


def test_a_huge_skill_is_skipped(places):
    _skill(places["claude"], "huge", body="x" * (MAX_SKILL_BYTES + 1))
    skills, warnings = _load(places)
    assert skills == [] and "larger than" in warnings[0]


def test_the_tool_loads_the_body_with_folder_args_and_bundled_files(places):
    path = _skill(places["claude"], "rel", body="Run ${CLAUDE_SKILL_DIR}/scripts/go.sh for $ARGUMENTS.\n")
    (path.parent / "scripts").mkdir()
    (path.parent / "scripts" / "go.sh").write_text("echo go\n")
    (path.parent / ".hidden").write_text("no")
    skills, _ = _load(places)
    tool = SkillTool(skills, places["home"])
    assert tool.definition().name == "Skill" and tool.definition().input_schema["required"] == ["skill"]
    out = tool.run({"skill": "rel", "args": "v2"}, None).content  # type: ignore[arg-type]
    folder = places["ws"] / ".claude" / "skills" / "rel"
    assert f"Base directory for this skill: {folder}" in out
    assert f"- {folder}/scripts/go.sh" in out and ".hidden" not in out
    assert f"Run {folder}/scripts/go.sh for v2." in out and "description:" not in out


def test_the_tool_names_the_installed_skills_when_asked_for_another(places):
    _skill(places["claude"], "a")
    tool = SkillTool(_load(places)[0], places["home"])
    with pytest.raises(ToolError, match="no skill named 'b'; the installed skills are: a"):
        tool.run({"skill": "b"}, None)  # type: ignore[arg-type]


def test_a_skill_swapped_for_a_link_after_start_up_is_refused(places):
    path = _skill(places["claude"], "swap")
    tool = SkillTool(_load(places)[0], places["home"])
    secret = places["outside"] / "id_rsa"
    secret.write_text("PRIVATE KEY")
    path.unlink()
    os.symlink(secret, path)
    with pytest.raises(ToolError, match="cannot be loaded"):
        tool.run({"skill": "swap"}, None)  # type: ignore[arg-type]


def test_allowed_tools_grants_nothing(places):
    _skill(places["claude"], "greedy", extra="allowed-tools: Bash, Write\nmodel: opus\n")
    skills, _ = _load(places)
    tool = SkillTool(skills, places["home"])
    assert tool.kind == "other" and not hasattr(skills[0], "allowed_tools")
    assert "allowed-tools" not in tool.run({"skill": "greedy"}, None).content  # type: ignore[arg-type]


def test_front_matter_without_a_closing_line_is_all_body():
    assert front_matter("---\nname: x\nno end\n") == ({}, "---\nname: x\nno end\n")


def test_the_section_stops_listing_past_its_byte_budget(places):
    from ketch.ext.skills.tool import MAX_SECTION_BYTES

    for i in range(80):
        _skill(places["claude"], f"s{i:02d}", "d" * 200)
    skills, _ = _load(places)
    section = prompt_section(skills)
    assert len(section.encode()) <= MAX_SECTION_BYTES + 100
    listed = [line for line in section.splitlines() if line.startswith("- s")]
    assert 30 < len(listed) < 80 and section.endswith(f"and {80 - len(listed)} more skills, not listed here "
                                                      "to keep this prompt short")
    with pytest.raises(ToolError, match="s79"):
        SkillTool(skills, places["home"]).run({"skill": "nope"}, None)  # type: ignore[arg-type]
