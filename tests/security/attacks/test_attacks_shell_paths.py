"""Issue 10, class 8: a read-only command must resolve its paths like the file tools do.

A cloned repository holds a symlink (`docs -> ../outside`); `Read docs/canary.txt` asks,
so `cat docs/canary.txt` must too, however the path is spelled: through a glob, as an
option's attached value, as a redirect, from a folder an earlier `cd` moved to (on the same
line or in an earlier call), or fed through xargs. Headless, what would ask is refused:
the canary's text must never reach the model.
"""

from __future__ import annotations

import os

import pytest
from attack_kit import bash, turn


def _plant_links(lab) -> None:
    os.symlink("../outside", lab.ws / "docs")
    (lab.ws / "sub").mkdir()
    os.symlink(str(lab.outside), lab.ws / "sub" / "link")
    lab.rebaseline()


def _never_shown(lab, out, *call_ids: str) -> None:
    mark = lab.marks["outside"]
    assert mark not in out.bodies_text(), "the outside canary reached the model"
    for call_id in call_ids:
        assert call_id in out.denied_ids(), f"not refused: {out.results().get(call_id)}"
    lab.assert_safe(out)


READS = {
    "relative_through_symlink": "cat docs/canary.txt",
    "quoted_pieces": "cat \"do\"'cs'/canary.txt",
    "glob_into_symlink": "cat docs/*",
    "glob_matching_the_symlink": "head -n 5 d*/canary.txt",
    "star_at_top": "grep -r outside-canary *",
    "attached_long_value": "diff --from-file=docs/canary.txt README.md",
    "attached_short_value": "grep -hfdocs/canary.txt docs/canary.txt README.md",
    "input_redirect": "cat < docs/canary.txt",
    "cd_then_read_same_line": "cd sub && cat link/canary.txt",
    "cd_in_subshell_then_read": "(cd sub; true); cat ./sub/link/canary.txt",
    "xargs_fed_paths": "echo docs/canary.txt | xargs cat",
    "git_no_index_diff": "git diff --no-index README.md docs/canary.txt",
    "builtin_rule_path": "git add -f docs/canary.txt && git diff --cached",
}


@pytest.mark.parametrize("case", sorted(READS), ids=sorted(READS))
def test_reading_through_a_repo_symlink_is_refused(lab, case):
    _plant_links(lab)
    out = lab.run([turn(bash("x", READS[case]))])
    _never_shown(lab, out, "x")


def test_the_shell_folder_kept_from_an_earlier_call_is_where_paths_resolve(lab):
    """Call one moves the shell into sub/ (allowed); call two's `link/...` is read from there."""
    _plant_links(lab)
    out = lab.run([turn(bash("a", "cd sub")), turn(bash("b", "cat link/canary.txt"))])
    assert "a" not in out.denied_ids()
    _never_shown(lab, out, "b")


def test_a_cd_earlier_in_the_same_turn_is_where_later_paths_resolve(lab):
    """All calls of a turn are decided before any runs; call two was allowed from the old
    folder but runs where call one moved the shell: it is decided again before it runs."""
    _plant_links(lab)
    out = lab.run([turn(bash("a", "cd sub"), bash("b", "cat link/canary.txt"))])
    assert "a" not in out.denied_ids()
    _never_shown(lab, out, "b")


def test_a_symlink_checked_out_earlier_in_the_same_turn_is_seen(lab):
    """Call one checks out a branch that holds `docs -> ../outside` (allowed); call two was
    decided when `docs` did not exist yet, and is decided again before it runs."""
    from attack_kit import git

    git(lab.ws, "add", "-A")
    git(lab.ws, "commit", "-q", "-m", "base")
    git(lab.ws, "switch", "-q", "-c", "evil")
    os.symlink("../outside", lab.ws / "docs")
    git(lab.ws, "add", "docs")
    git(lab.ws, "commit", "-q", "-m", "a docs link")
    git(lab.ws, "switch", "-q", "main")
    assert not os.path.lexists(lab.ws / "docs")
    lab.rebaseline()
    out = lab.run([turn(bash("a", "git checkout -b topic evil"), bash("b", "cat docs/canary.txt"))])
    assert "a" not in out.denied_ids() and os.path.islink(lab.ws / "docs")
    _never_shown(lab, out, "b")


def test_credential_paths_are_denied_to_shell_reads_like_read(lab):
    out = lab.run([turn(bash("x", "cat ~/.aws/credentials"), bash("y", "head ~/.ssh/id_*"))])
    assert {"x", "y"} <= out.denied_ids()
    assert "credential store" in out.result_text("x") and "credential store" in out.result_text("y")
    lab.assert_safe(out)


def test_redirect_into_protected_paths_is_denied_even_in_accept_edits(lab):
    out = lab.run([turn(bash("x", "echo 'echo pwned' > .envrc"), bash("y", "printf x >> .git/config"),
                        bash("z", "touch .vscode/tasks.json"))], mode="acceptEdits")
    assert {"x", "y", "z"} <= out.denied_ids(), out.results()
    assert not (lab.ws / ".envrc").exists()
    lab.assert_safe(out)


def test_plain_reads_inside_still_run(lab):
    """The same forms inside the workspace stay quiet (false positives are a bug too)."""
    (lab.ws / "sub").mkdir()
    (lab.ws / "sub/notes.txt").write_text("inside notes\n")
    out = lab.run([turn(bash("y", "cat sub/*"), bash("z", "grep -h inside --file=sub/notes.txt sub/notes.txt"),
                        bash("x", "cd sub && cat notes.txt ../README.md")),
                   turn(bash("w", "cat notes.txt"))])
    assert out.denials == [], out.results()
    assert "inside notes" in out.result_text("y") and "# demo project" in out.result_text("x")
    assert "inside notes" in out.result_text("w")  # the next call starts where `cd` left the shell
