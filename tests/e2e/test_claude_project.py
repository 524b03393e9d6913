"""End-to-end: a Claude-Code-shaped project (tests/fakes/claude_project) works unchanged in the real `ketch -p`.

CLAUDE.md's `@import` reaches the system prompt, the skill's one line does too (its body does
not), the model loads the skill and Reads the file it bundles, `/x` expands from
`.claude/commands`, and `.claude/settings.json`'s deny rules apply in a folder never trusted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import tool_results

FIXTURE = Path(__file__).resolve().parents[1] / "fakes" / "claude_project"


def _system_text(body: dict) -> str:
    system = body["system"]
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


@pytest.fixture
def project(workspace: Path, tmp_path: Path) -> dict[str, str]:
    shutil.copytree(FIXTURE, workspace, dirs_exist_ok=True)
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


def test_a_claude_code_project_works_unchanged(server, run_ketch, workspace: Path, project):
    ws = workspace.resolve()
    skill_dir = ws / ".claude" / "skills" / "y"
    fake = server([
        {"tool_calls": [{"id": "s1", "name": "Skill", "input": {"skill": "y"}}]},
        {"tool_calls": [{"id": "r1", "name": "Read", "input": {"file_path": str(skill_dir / "reference.md")}}]},
        {"tool_calls": [{"id": "b1", "name": "Bash", "input": {"command": "rm -rf docs"}},
                        {"id": "r2", "name": "Read", "input": {"file_path": "docs/private.md"}}]},
        {"text": "Release notes written."},
    ])
    run = run_ketch(["-p", "/x app.py", "--output-format", "json"], server=fake, env=project)
    assert run.returncode == 0, run.stderr
    first = fake.requests[0].body
    system = _system_text(first)
    assert "Keep functions short." in system and "CONVENTIONS-MARK" in system  # the @import
    assert "- y: Writes release notes the team's way; use it when asked for release notes." in system
    assert "SKILL-BODY-MARK" not in system and "BUNDLED-MARK" not in system
    assert "Skill" in [t["name"] for t in first["tools"]]
    prompt = first["messages"][0]["content"]
    prompt = prompt if isinstance(prompt, str) else "".join(b.get("text", "") for b in prompt)
    assert "EXPAND-MARK: explain app.py in two sentences." in prompt

    results = {r["id"]: r for r in tool_results(fake.requests[-1].body, "anthropic")}
    assert "SKILL-BODY-MARK" in results["s1"]["content"] and not results["s1"]["is_error"]
    assert f"{skill_dir}/reference.md" in results["s1"]["content"]
    assert f"{skill_dir}/scripts/collect.sh" in results["s1"]["content"]
    assert "BUNDLED-MARK" in results["r1"]["content"] and not results["r1"]["is_error"]
    assert results["b1"]["is_error"] and "Bash(rm:*)" in results["b1"]["content"]
    assert results["r2"]["is_error"] and "PRIVATE-MARK" not in results["r2"]["content"]
    assert (ws / "docs" / "conventions.md").exists()
    denied = {d["tool_name"] for d in run.json()["permission_denials"]}
    assert denied == {"Bash", "Read"}
    # The project's allow rule waits for trust, and says so; `allowed-tools` is never read.
    assert "allow rule Bash(npm run lint) from .claude/settings.json (folder not trusted)" in run.stderr


def test_a_user_skill_outside_the_workspace_is_readable_without_a_question(server, run_ketch, workspace: Path,
                                                                          tmp_path: Path):
    home = tmp_path / "home"
    skill = home / ".claude" / "skills" / "notes"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: notes\ndescription: Take notes.\n---\nRead guide.md.\n")
    (skill / "guide.md").write_text("GUIDE-MARK\n")
    fake = server([
        {"tool_calls": [{"id": "s1", "name": "Skill", "input": {"skill": "notes"}}]},
        {"tool_calls": [{"id": "r1", "name": "Read", "input": {"file_path": str(skill / "guide.md")}}]},
        {"text": "ok"},
    ])
    run = run_ketch(["-p", "take notes", "--output-format", "json"], server=fake, env={"HOME": str(home)})
    assert run.returncode == 0, run.stderr
    results = {r["id"]: r for r in tool_results(fake.requests[-1].body, "anthropic")}
    assert "Read guide.md." in results["s1"]["content"]
    assert "GUIDE-MARK" in results["r1"]["content"] and run.json()["permission_denials"] == []


def test_without_skills_the_prompt_and_tools_are_unchanged_and_nothing_is_imported(server, run_ketch, tmp_path: Path):
    fake = server([{"text": "ok"}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake,
                    env={"HOME": str(tmp_path / "empty-home"), "PYTHONPROFILEIMPORTTIME": "1"})
    assert run.returncode == 0, run.stderr
    body = fake.requests[0].body
    assert "Skills (" not in _system_text(body) and "Skill" not in [t["name"] for t in body["tools"]]
    assert "ketch.ext.skills" not in run.stderr and "ketch.agent.memory_imports" not in run.stderr
    assert "ketch.cli.extensions" in run.stderr  # the import-time listing was there to read


def test_a_project_that_denies_the_skill_tool_runs_without_it(server, run_ketch, workspace: Path, project):
    (workspace / ".claude" / "settings.json").write_text('{"permissions": {"deny": ["Skill"]}}')
    fake = server([{"text": "ok"}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake, env=project)
    assert run.returncode == 0, run.stderr
    body = fake.requests[0].body
    assert "Skill" not in [t["name"] for t in body["tools"]] and "- y: " not in _system_text(body)
