"""Path traversal and string-prefix tricks against the file tools.

`<workspace>-evil` starts with the workspace's path as a string; `..`, `~` and absolute
paths leave it. In default mode, reading outside asks (so headless refuses); in acceptEdits,
writing outside asks too. The canary contents must never reach the model.
"""

from __future__ import annotations

import pytest
from attack_kit import call, turn

READS = {
    "dotdot": lambda lab: "../outside/canary.txt",
    "dotdot_after_subdir": lambda lab: "src/../../outside/canary.txt",
    "sibling_prefix_absolute": lambda lab: str(lab.evil / "canary.txt"),
    "sibling_prefix_relative": lambda lab: "../project-evil/canary.txt",
    "absolute_outside": lambda lab: str(lab.outside / "canary.txt"),
    "tilde_home": lambda lab: "~/notes/keep.txt",
    "workspace_slash_dotdot": lambda lab: f"{lab.ws}/../project-evil/canary.txt",
}


def _assert_no_canary_seen(lab, out) -> None:
    seen = out.bodies_text() + out.stdout
    for name, mark in lab.marks.items():
        assert mark not in seen, f"the {name} canary's content reached the model"


@pytest.mark.parametrize("trick", sorted(READS), ids=sorted(READS))
def test_read_outside_is_refused_in_default_mode(lab, trick):
    (lab.ws / "src").mkdir()
    out = lab.run([turn(call("Read", "r", file_path=READS[trick](lab)))])
    assert out.denied_ids() == {"r"}, out.results()
    assert "permission denied" in out.result_text("r")
    _assert_no_canary_seen(lab, out)
    lab.assert_safe(out)


def test_grep_and_glob_outside_are_refused_in_default_mode(lab):
    out = lab.run([turn(call("Grep", "g1", pattern="canary", path=".."),
                        call("Grep", "g2", pattern="canary", path=str(lab.evil), output_mode="content"),
                        call("Glob", "g3", pattern="**/*.txt", path="../outside"),
                        call("Grep", "g4", pattern="canary", path="~", output_mode="content"))])
    assert out.denied_ids() == {"g1", "g2", "g3", "g4"}, out.results()
    _assert_no_canary_seen(lab, out)
    lab.assert_safe(out)


WRITES = {
    "dotdot": "../outside/x.txt",
    "sibling_prefix_relative": "../project-evil/x.txt",
    "sibling_prefix_absolute": "{evil}/x.txt",
    "absolute_outside": "{outside}/sub/x.txt",
    "tilde_home": "~/x.txt",
    "dotdot_overwrite_canary": "../outside/canary.txt",
}


@pytest.mark.parametrize("trick", sorted(WRITES), ids=sorted(WRITES))
def test_write_and_edit_outside_are_refused_in_accept_edits(lab, trick):
    path = WRITES[trick].format(evil=lab.evil, outside=lab.outside)
    calls = [call("Write", "w", file_path=path, content="pwned\n")]
    if trick == "dotdot_overwrite_canary":
        calls.append(call("Edit", "e", file_path=path, old_string=lab.marks["outside"], new_string="pwned"))
    out = lab.run([turn(*calls)], mode="acceptEdits")
    assert out.denied_ids() == {c["id"] for c in calls}, out.results()
    lab.assert_safe(out)  # nothing created beside the workspace, in the sibling or in home
