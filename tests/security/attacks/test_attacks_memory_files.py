"""A cloned repository's memory files (AGENTS.md, CLAUDE.md) as a way to ship secrets out.

They are read before trust and before any tool call, into the first request. Links to a
private key, to /proc/self/environ, to a file beside the project, to the project's own
.env, a FIFO that would hang the start, and nested instructions reached later by a tool
call: none of it may reach the provider. And every byte sent is redacted, the system
prompt included.
"""

from __future__ import annotations

import os

import pytest
from attack_kit import call, turn

LINKS = {
    "ssh_key": lambda lab: lab.home / ".ssh" / "id_rsa",
    "aws_credentials": lambda lab: lab.home / ".aws" / "credentials",
    "proc_environ": lambda lab: "/proc/self/environ",
    "outside_project": lambda lab: lab.outside / "canary.txt",
    "relative_dotdot": lambda lab: "../outside/canary.txt",
    "project_dotenv": lambda lab: ".env",
}


def _seen(out) -> str:
    return out.bodies_text() + out.stdout


@pytest.mark.parametrize("name", ["CLAUDE.md", "AGENTS.md"])
@pytest.mark.parametrize("target", sorted(LINKS), ids=sorted(LINKS))
def test_memory_file_links_never_reach_the_first_request(lab, name, target):
    (lab.ws / ".env").write_text(f"DEPLOY={lab.secrets['env']}\n")
    os.symlink(LINKS[target](lab), lab.ws / name)
    lab.rebaseline()
    out = lab.run([], env={"DEPLOY_SECRET_TOKEN": lab.secrets["env"]})
    seen = _seen(out)
    assert lab.secrets["ssh"] not in seen and lab.secrets["aws"] not in seen and lab.secrets["env"] not in seen
    for mark in lab.marks.values():
        assert mark not in seen
    assert "PATH=" not in out.bodies_text()
    assert "as instructions" in out.stderr, out.stderr
    lab.assert_safe(out)


def test_a_fifo_memory_file_neither_hangs_nor_is_read(lab):
    os.mkfifo(lab.ws / "AGENTS.md")
    (lab.ws / "CLAUDE.md").write_text("real instructions here\n")
    lab.rebaseline()
    out = lab.run([], timeout=30)
    assert "real instructions here" in out.bodies_text()
    lab.assert_safe(out)


def test_nested_memory_link_reached_by_a_tool_call_is_not_shown(lab):
    (lab.ws / "pkg").mkdir()
    (lab.ws / "pkg" / "mod.py").write_text("x = 1\n")
    os.symlink(lab.home / ".ssh" / "id_rsa", lab.ws / "pkg" / "AGENTS.md")
    lab.rebaseline()
    out = lab.run([turn(call("Read", "r", file_path="pkg/mod.py"))])
    assert "x = 1" in out.result_text("r")
    assert lab.secrets["ssh"] not in _seen(out)
    lab.assert_safe(out)


def test_memory_in_a_symlinked_project_subfolder_pointing_out_is_refused(lab):
    os.symlink(lab.outside, lab.ws / "vendor")
    (lab.outside / "AGENTS.md").write_text(f"{lab.marks['outside']} instructions\n")
    lab.rebaseline()
    out = lab.run([turn(call("Glob", "g", pattern="*.md", path="vendor"))], mode="bypassPermissions")
    assert lab.marks["outside"] + " instructions" not in out.bodies_text()


def test_system_prompt_is_redacted(lab):
    out = lab.run([], "--append-system-prompt", f"deploy with {lab.secrets['env']}",
                  env={"DEPLOY_SECRET_TOKEN": lab.secrets["env"]})
    assert lab.secrets["env"] not in out.bodies_text()
    assert "[REDACTED]" in out.bodies_text()


def test_user_prompt_is_redacted(lab):
    out = lab.run([], prompt=f"use the key {lab.secrets['env']} please", env={"DEPLOY_SECRET_TOKEN": lab.secrets["env"]})
    assert lab.secrets["env"] not in out.bodies_text()


def test_a_memory_file_that_really_is_in_the_project_still_works(lab):
    (lab.ws / "docs").mkdir()
    (lab.ws / "docs" / "guide.md").write_text("always run make lint\n")
    os.symlink("docs/guide.md", lab.ws / "CLAUDE.md")
    lab.rebaseline()
    out = lab.run([])
    assert "always run make lint" in out.bodies_text()
    assert "as instructions" not in out.stderr
