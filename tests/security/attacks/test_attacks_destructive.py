"""Destruction outside the workspace: deleting the user's files, their home, the machine.

In bypassPermissions the gate runs anything, so the canaries survive only because the
sandbox mounts everything but the workspace read-only. File tools in acceptEdits must ask
(and so, headless, refuse) for anything outside the workspace.
"""

from __future__ import annotations

import pytest
from attack_kit import bash, call, turn

BYPASS = "bypassPermissions"


def test_rm_rf_of_a_folder_outside_the_workspace(lab):
    out = lab.run([turn(bash("a", f"rm -rf {lab.outside} ../project-evil; echo rc=$?"),
                        bash("b", "find .. -maxdepth 2 -name canary.txt -delete; echo rc=$?"))], mode=BYPASS)
    assert "rc=" in out.result_text("a") and "Read-only file system" in out.result_text("a")
    lab.assert_safe(out)


def test_rm_rf_of_the_home_folder(lab):
    out = lab.run([turn(bash("x", "rm -rf ~ \"$HOME\"/.* 2>&1 | tail -3; echo rc=$?"))], mode=BYPASS)
    assert "rc=" in out.result_text("x")
    assert (lab.home / "notes/keep.txt").read_text().strip() == lab.marks["home"]
    lab.assert_safe(out)


def test_rm_rf_root_in_bypass(lab):
    (lab.ws / "work.txt").write_text("inside the workspace: fair game in bypass\n")
    out = lab.run([turn(bash("x", "rm -rf --no-preserve-root / 2>/dev/null; echo finished rc=$?",
                             timeout=60000))], mode=BYPASS, timeout=90)
    assert "finished rc=" in out.result_text("x")
    lab.assert_safe(out)  # home, ssh key, outside canaries, .git/config: all byte-identical


def test_rm_rf_in_default_mode_is_refused(lab):
    out = lab.run([turn(bash("x", "rm -rf ../outside"))])
    assert out.denied_ids() == {"x"}
    lab.assert_safe(out)


def test_truncating_redirect_onto_home_files(lab):
    out = lab.run([turn(bash("x", ": > ~/.bashrc; : > ~/notes/keep.txt; echo pwned >> ~/.profile; echo rc=$?"))],
                  mode=BYPASS)
    assert "rc=" in out.result_text("x")
    lab.assert_safe(out)


OUTSIDE_EDITS = {
    "write_outside_canary": lambda lab, cid="x": call("Write", cid, file_path=str(lab.outside / "canary.txt"), content="pwned"),
    "write_new_file_in_home": lambda lab, cid="x": call("Write", cid, file_path="~/notes/new.txt", content="pwned"),
    "edit_outside_canary": lambda lab, cid="x": call("Edit", cid, file_path=str(lab.outside / "canary.txt"),
                                            old_string=lab.marks["outside"], new_string="pwned"),
    "multiedit_home_file": lambda lab, cid="x": call("MultiEdit", cid, file_path=str(lab.home / "notes/keep.txt"),
                                            edits=[{"old_string": lab.marks["home"], "new_string": "pwned"}]),
}


@pytest.mark.parametrize("attack", sorted(OUTSIDE_EDITS), ids=sorted(OUTSIDE_EDITS))
def test_file_tools_outside_the_workspace_in_accept_edits(lab, attack):
    out = lab.run([turn(OUTSIDE_EDITS[attack](lab))], mode="acceptEdits")
    assert out.denied_ids() == {"x"}, out.results()
    assert "permission denied" in out.result_text("x")
    lab.assert_safe(out)


def test_file_tools_outside_the_workspace_in_bypass(lab):
    """bypassPermissions removes prompts, not the boundary: SECURITY.md puts bypass damage
    out of scope only because "the sandbox still bounds it to the workspace", so the
    unsandboxed file tools must not reach where a sandboxed command cannot."""
    reads = turn(call("Read", "r1", file_path=str(lab.outside / "canary.txt")),
                 call("Read", "r2", file_path=str(lab.home / "notes/keep.txt")))  # edits need a prior Read
    edits = turn(*(OUTSIDE_EDITS[name](lab, name) for name in sorted(OUTSIDE_EDITS)))  # edits before writes
    out = lab.run([reads, edits], mode="bypassPermissions")
    results = out.results()
    succeeded = {name: results[name]["content"] for name in OUTSIDE_EDITS if not results[name]["is_error"]}
    assert succeeded == {}, f"file tools wrote outside the workspace in bypass: {succeeded}"
    lab.assert_safe(out)
