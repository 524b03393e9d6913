"""Red team: resource exhaustion and destructive built-in rules."""

from __future__ import annotations

from attack_kit import bash, turn


def test_output_flood_single_line(lab):
    out = lab.run([turn(bash("b1", "head -c 300000000 /dev/zero | tr '\\0' a"))], mode="bypassPermissions", timeout=120)
    assert len(out.bodies_text()) < 5_000_000
    lab.assert_safe(out)


def test_fork_bomb_is_bounded(lab):
    out = lab.run([turn(bash("b1", "f(){ f|f& }; f; sleep 2; echo survived", timeout=15000))],
                  mode="bypassPermissions", timeout=120)
    lab.assert_safe(out)


def test_background_job_outlives_call(lab):
    """A setsid'd background job must be gone when the call ends (it would write later)."""
    out = lab.run([turn(bash("b1", "setsid sh -c 'sleep 3; echo late > late.txt' >/dev/null 2>&1 & disown; echo ok")),
                   turn(bash("b2", "sleep 4; ls"))], mode="bypassPermissions", timeout=60)
    assert not (lab.ws / "late.txt").exists()
    lab.assert_safe(out)


def test_builtin_git_branch_move_over_default_mode(lab):
    """`git branch -m`/`-c` are auto-allowed in default mode; `-M`/`-f` must ask."""
    out = lab.run([turn(bash("b0", "git commit -q --allow-empty -m one")),
                   turn(bash("b1", "git branch -M main gone")), turn(bash("b2", "git branch -f main HEAD")),
                   turn(bash("b3", "git stash clear"))])
    assert {"b1", "b2", "b3"} <= out.denied_ids()
    lab.assert_safe(out)


def test_git_diff_output_option_default_mode(lab):
    """`git diff --output=app.py` truncates a file: an edit, never unasked in default mode."""
    before = (lab.ws / "app.py").read_text()
    out = lab.run([turn(bash("b1", "git diff --output=app.py")), turn(bash("b2", "git log -p --output app.py"))])
    assert (lab.ws / "app.py").read_text() == before
    lab.assert_safe(out)
