"""The shadow store, the checkpoint collaborator and undo/rewind, in process (no model, no ketch command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scripted import ScriptedProvider

from ketch.agent import events as ev
from ketch.agent.loop import Agent, AgentConfig
from ketch.agent.permissions import PermissionGate
from ketch.agent.undo.checkpoints import CheckpointLog, TurnCheckpoints, make_checkpoints
from ketch.agent.undo.restore import NothingToUndo, Undo
from ketch.agent.undo.shadow_store import ShadowStore, blob_sha, find_workspace, shadow_dir
from ketch.conversation import Message, ToolUseBlock
from ketch.tools.base import ToolResult, load_definition

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations only, never imported at run time


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file (and symlink target) under root except .git: the state undo must restore."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            out[rel] = (b"-> " + os.fsencode(os.readlink(path))) if path.is_symlink() else path.read_bytes()
    return out


class Turn:
    """One checkpointed turn, driven by hand: `with Turn(cp, 'sid'): change files`."""

    def __init__(self, checkpoints: TurnCheckpoints, session: str = "s1", turn: int = 1) -> None:
        self.cp, self.session, self.turn = checkpoints, session, turn
        self.event: Any = None

    def __enter__(self) -> Self:
        self.pending = self.cp.begin(self.session, self.turn, self.turn * 2 - 1, [("Write", {"file_path": "x"})])
        assert not isinstance(self.pending, ev.Notice), self.pending
        return self

    def __exit__(self, *exc: object) -> None:
        self.event = self.cp.finish(self.pending)


def checkpoints(ws: Path, home: Path) -> TurnCheckpoints:
    return make_checkpoints(ws, home, lambda text: text)


# -- the store ---------------------------------------------------------------------------------


def test_store_lives_outside_the_project_and_needs_no_repository(ws: Path, home: Path):
    (ws / "a.txt").write_text("a")
    store = ShadowStore.for_workspace(ws, home)
    assert not store.exists()  # nothing is created before the first snapshot
    store.snapshot("first")
    assert store.git_dir == shadow_dir(home, ws) and store.git_dir.is_relative_to(home / "shadow")
    assert store.git_dir.name.endswith(".git") and not (ws / ".git").exists()
    assert os.stat(store.git_dir).st_mode & 0o077 == 0  # copies of the project: the user's eyes only
    assert sorted(os.listdir(ws)) == ["a.txt"]
    assert find_workspace(home, ws / "sub" / "deeper") == ws  # `ketch undo` from a subfolder


def test_unchanged_tree_is_the_same_tree_and_changes_are_seen(ws: Path, home: Path):
    (ws / "a.txt").write_text("one")
    store = ShadowStore.for_workspace(ws, home)
    t1 = store.write_tree()
    assert ShadowStore.for_workspace(ws, home).write_tree() == t1  # a new process sees the same
    (ws / "a.txt").write_text("two")
    t2 = store.write_tree()
    assert t2 != t1
    c1, c2 = store.snapshot("1"), None
    (ws / "b.txt").write_text("b")
    os.unlink(ws / "a.txt")
    c2 = store.snapshot("2", parent=c1)
    changes = {c.path: (c.before, c.after) for c in store.changes(c1, c2)}
    assert changes["a.txt"][0].sha == blob_sha(b"two") and changes["a.txt"][1] is None
    assert changes["b.txt"][0] is None and changes["b.txt"][1].sha == blob_sha(b"b")


def test_ignored_big_and_build_files_are_not_snapshotted(ws: Path, home: Path):
    (ws / ".gitignore").write_text("*.log\n")
    (ws / "app.log").write_text("log")
    (ws / "big.bin").write_bytes(b"x" * 2000)
    for folder in ("node_modules/pkg", ".venv/lib", "src/__pycache__"):
        (ws / folder).mkdir(parents=True)
        (ws / folder / "f.py").write_text("x")
    (ws / "src" / "main.py").write_text("print()")
    nested = ws / "vendored"
    nested.mkdir()
    subprocess.run(["git", "init", "-q", str(nested)], check=True, env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull})
    (nested / "inner.txt").write_text("inner")
    store = ShadowStore(ws, shadow_dir(home, ws), size_cap=1000)
    commit = store.snapshot("s")
    listed = store.git("ls-tree", "-r", "--name-only", commit).decode().split()
    assert sorted(listed) == [".gitignore", "src/main.py"]


def test_ketch_home_inside_the_workspace_is_never_snapshotted(ws: Path):
    """`ketch` run in the home folder: its own store (and credentials) must not go into snapshots."""
    home = ws / ".ketch home"
    home.mkdir()
    (home / "credentials.json").write_text("{}")
    (ws / "a.txt").write_text("a")
    store = ShadowStore.for_workspace(ws, home)
    commit = store.snapshot("s")
    store.snapshot("again")  # the store's own new objects are not picked up either
    assert store.git("ls-tree", "-r", "--name-only", commit).decode().split() == ["a.txt"]
    assert store.git_dir.is_relative_to(home)


def test_user_git_environment_and_config_take_no_part(ws: Path, home: Path, tmp_path: Path, monkeypatch):
    """GIT_DIR/GIT_INDEX_FILE in ketch's environment, or an fsmonitor in the project's config,
    must neither redirect the shadow's git nor run anything."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "u", "GIT_AUTHOR_EMAIL": "u@x",
           "GIT_COMMITTER_NAME": "u", "GIT_COMMITTER_EMAIL": "u@x"}
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True, env=env)
    marker = tmp_path / "fsmonitor-ran"
    hook = ws / ".git" / "fsmon.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "config", "core.fsmonitor", str(hook)], cwd=ws, check=True, env=env)
    (ws / "a.txt").write_text("a")
    index_before = (ws / ".git" / "index").read_bytes() if (ws / ".git" / "index").exists() else None
    monkeypatch.setenv("GIT_DIR", str(ws / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(ws / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path))
    store = ShadowStore.for_workspace(ws, home)
    commit = store.snapshot("s")
    assert store.git("ls-tree", "-r", "--name-only", commit).decode().split() == ["a.txt"]
    assert not marker.exists()
    after = (ws / ".git" / "index").read_bytes() if (ws / ".git" / "index").exists() else None
    assert after == index_before
    assert not (ws / ".git" / "refs" / "ketch").exists()


def test_bytes_modes_and_symlinks_round_trip_despite_gitattributes(ws: Path, home: Path):
    (ws / ".gitattributes").write_text("* text eol=crlf\n*.txt filter=evil ident\n")
    (ws / "crlf.txt").write_bytes(b"a\r\nb\r\n$Id$\n")
    (ws / "lf.txt").write_bytes(b"a\nb\n")
    (ws / "run.sh").write_text("#!/bin/sh\n")
    (ws / "run.sh").chmod(0o755)
    os.symlink("lf.txt", ws / "link")
    before = tree_files(ws)
    cp = checkpoints(ws, home)
    with Turn(cp):
        (ws / "crlf.txt").write_bytes(b"changed\n")
        (ws / "lf.txt").write_bytes(b"changed\r\n")
        (ws / "run.sh").write_text("echo hacked\n")
        (ws / "run.sh").chmod(0o644)
        os.unlink(ws / "link")
        os.symlink("/etc/passwd", ws / "link")
    result = Undo.for_workspace(ws, home).undo()
    assert result.complete, (result.conflicts, result.failed)
    assert tree_files(ws) == before
    assert os.stat(ws / "run.sh").st_mode & 0o111


# -- checkpoints and undo ------------------------------------------------------------------------


def test_undo_restores_edits_creations_and_deletions(ws: Path, home: Path):
    (ws / "edit.txt").write_text("original\n")
    (ws / "gone.txt").write_text("keep me\n")
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("in a folder\n")
    (ws / "e").write_text("a file that becomes a folder\n")
    before = tree_files(ws)
    cp = checkpoints(ws, home)
    with Turn(cp) as turn:
        (ws / "edit.txt").write_text("edited\n")
        (ws / "new" / "deep").mkdir(parents=True)
        (ws / "new" / "deep" / "n.txt").write_text("new\n")
        os.unlink(ws / "gone.txt")
        (ws / "d" / "f").unlink()
        (ws / "d").rmdir()
        (ws / "d").write_text("a file where a folder was\n")
        (ws / "e").unlink()
        (ws / "e").mkdir()
        (ws / "e" / "inner").write_text("a folder where a file was\n")
    event = turn.event
    assert isinstance(event, ev.Checkpoint) and event.checkpoint == 1 and event.session_id == "s1"
    assert sorted(event.files_changed) == ["d", "d/f", "e", "e/inner", "edit.txt", "gone.txt", "new/deep/n.txt"]
    undo = Undo.for_workspace(ws, home)
    plan = undo.plan()
    assert plan.turn == 1 and plan.message_index == 1
    assert {a.path: a.action for a in plan.actions} == {
        "d": "delete", "d/f": "recreate", "e": "recreate", "e/inner": "delete", "edit.txt": "restore",
        "gone.txt": "recreate", "new/deep/n.txt": "delete"}
    result = undo.apply(plan)
    assert result.complete and result.backup
    assert tree_files(ws) == before
    assert not (ws / "new").exists()  # folders the turn made and left empty go too
    with pytest.raises(NothingToUndo, match="already undone"):
        undo.plan()


def test_turn_that_changes_nothing_is_not_a_checkpoint(ws: Path, home: Path):
    (ws / "a").write_text("a")
    cp = checkpoints(ws, home)
    with Turn(cp) as turn:
        pass
    assert turn.event.files_changed == [] and turn.event.checkpoint is None
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        Undo.for_workspace(ws, home).plan()


def test_user_edit_is_a_conflict_left_alone_unless_forced(ws: Path, home: Path):
    for name in ("a.txt", "b.txt", "d.txt"):
        (ws / name).write_text(name + " 0")
    cp = checkpoints(ws, home)
    with Turn(cp):
        for name in ("a.txt", "b.txt", "d.txt"):
            (ws / name).write_text(name + " 1")
        (ws / "c.txt").write_text("c1")
    (ws / "a.txt").write_text("user's a")  # the user edits after the turn
    os.unlink(ws / "d.txt")                # and deletes a file the turn edited
    undo = Undo.for_workspace(ws, home)
    result = undo.undo()
    assert not result.complete
    assert [(c.path, c.reason) for c in result.conflicts] == [
        ("a.txt", "changed after checkpoint 1"), ("d.txt", "deleted after checkpoint 1")]
    assert (ws / "a.txt").read_text() == "user's a" and not (ws / "d.txt").exists()
    assert (ws / "b.txt").read_text() == "b.txt 0" and not (ws / "c.txt").exists()
    # still undoable: a per-file choice overwrites only that file
    result = undo.undo(force={"a.txt"})
    assert [a.path for a in result.done] == ["a.txt"] and result.done[0].forced
    assert (ws / "a.txt").read_text() == "a.txt 0" and [c.path for c in result.conflicts] == ["d.txt"]
    assert undo.store.git("show", f"{result.backup}:a.txt") == b"user's a"  # what was overwritten is kept
    result = undo.undo(force=True)
    assert result.complete and (ws / "d.txt").read_text() == "d.txt 0"


def test_user_removing_what_the_turn_created_is_already_undone(ws: Path, home: Path):
    cp = checkpoints(ws, home)
    with Turn(cp):
        (ws / "c.txt").write_text("c1")
    os.unlink(ws / "c.txt")
    result = Undo.for_workspace(ws, home).undo()
    assert result.complete and result.done == [] and result.conflicts == []


def test_rewind_across_turns_with_user_edit_in_between(ws: Path, home: Path):
    (ws / "a.txt").write_text("a0")
    (ws / "mine.txt").write_text("m0")
    before = tree_files(ws)
    cp = checkpoints(ws, home)
    with Turn(cp, turn=1):
        (ws / "a.txt").write_text("a1")
        (ws / "one.txt").write_text("1")
    (ws / "mine.txt").write_text("user between turns")  # not the agent's: never reverted
    with Turn(cp, turn=2):
        (ws / "a.txt").write_text("a2")
        (ws / "two.txt").write_text("2")
    undo = Undo.for_workspace(ws, home)
    assert [(r.seq, r.turn) for r in undo.checkpoints()] == [(1, 1), (2, 2)]
    result = undo.rewind(1)
    assert result.complete and result.plan.turn == 1
    assert tree_files(ws) == {**before, "mine.txt": b"user between turns"}
    assert all(r.undone for r in undo.checkpoints())


def test_user_edit_between_turns_of_an_agent_file_is_a_conflict_on_rewind(ws: Path, home: Path):
    (ws / "a.txt").write_text("a0")
    cp = checkpoints(ws, home)
    with Turn(cp, turn=1):
        (ws / "a.txt").write_text("a1")
    (ws / "a.txt").write_text("user fixed a1")
    with Turn(cp, turn=2):
        (ws / "b.txt").write_text("b")
    undo = Undo.for_workspace(ws, home)
    result = undo.rewind(1)
    assert [(c.path, c.checkpoint) for c in result.conflicts] == [("a.txt", 1)]
    assert (ws / "a.txt").read_text() == "user fixed a1" and not (ws / "b.txt").exists()
    assert undo.rewind(1, force=True).complete and (ws / "a.txt").read_text() == "a0"


def test_successive_undos_walk_back_and_a_new_session_continues_numbering(ws: Path, home: Path):
    (ws / "a").write_text("0")
    cp = checkpoints(ws, home)
    for n in (1, 2):
        with Turn(cp, turn=n):
            (ws / "a").write_text(str(n))
    undo = Undo.for_workspace(ws, home)
    assert undo.undo().plan.checkpoints[0].seq == 2 and (ws / "a").read_text() == "1"
    resumed = checkpoints(ws, home)  # a resumed session in a new process
    with Turn(resumed, turn=3) as turn:
        (ws / "a").write_text("3")
    assert turn.event.checkpoint == 3
    assert undo.undo().plan.checkpoints[0].seq == 3 and (ws / "a").read_text() == "1"
    assert undo.undo().plan.checkpoints[0].seq == 1 and (ws / "a").read_text() == "0"


def test_file_changed_between_plan_and_apply_is_not_overwritten(ws: Path, home: Path):
    (ws / "a").write_text("0")
    cp = checkpoints(ws, home)
    with Turn(cp):
        (ws / "a").write_text("1")
    undo = Undo.for_workspace(ws, home)
    plan = undo.plan()
    (ws / "a").write_text("typed while the question was on screen")
    result = undo.apply(plan)
    assert [c.reason for c in result.conflicts] == ["changed while undoing"]
    assert (ws / "a").read_text() == "typed while the question was on screen"


def test_restore_never_writes_through_a_symlinked_folder(ws: Path, home: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("outside, not the workspace's")
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("inside")
    cp = checkpoints(ws, home)
    with Turn(cp):
        (ws / "d" / "f").unlink()
        (ws / "d").rmdir()
        os.symlink(outside, ws / "d")
    result = Undo.for_workspace(ws, home).undo()
    assert result.complete
    assert (ws / "d").is_dir() and not (ws / "d").is_symlink() and (ws / "d" / "f").read_text() == "inside"
    assert [(f.name, f.read_text()) for f in outside.iterdir()] == [("f", "outside, not the workspace's")]


def test_sessions_are_chosen_by_latest_or_prefix(ws: Path, home: Path):
    (ws / "a").write_text("0")
    cp = checkpoints(ws, home)
    with Turn(cp, session="aaaa-1111"):
        (ws / "a").write_text("1")
    with Turn(cp, session="bbbb-2222"):
        (ws / "b").write_text("2")
    undo = Undo.for_workspace(ws, home)
    assert undo.latest_session() == "bbbb-2222"
    assert undo.undo(session_id="aaaa").plan.session_id == "aaaa-1111"
    assert (ws / "a").read_text() == "0" and (ws / "b").exists()
    assert undo.undo().plan.session_id == "bbbb-2222" and not (ws / "b").exists()
    with pytest.raises(NothingToUndo, match="every checkpoint in .* is already undone"):
        undo.plan()
    with pytest.raises(NothingToUndo, match="no checkpoints of session"):
        undo.plan(session_id="cccc")


def test_torn_log_line_is_skipped(ws: Path, home: Path):
    (ws / "a").write_text("0")
    cp = checkpoints(ws, home)
    with Turn(cp):
        (ws / "a").write_text("1")
    with open(cp.log.path, "a") as f:
        f.write('{"kind": "checkpoint", "session_id": "s1", "se')
    assert [r.seq for r in CheckpointLog.of(cp.store).read()] == [1]


def test_snapshot_failure_turns_undo_off_with_one_notice(ws: Path, home: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(ws))  # no git to be found
    cp = checkpoints(ws, home)
    first = cp.begin("s1", 1, 1, [("Bash", {"command": "make"})])
    assert isinstance(first, ev.Notice) and "undo is off" in first.message and "git" in first.message
    assert cp.begin("s1", 2, 3, [("Bash", {"command": "make"})]) is None


# -- the loop hook ------------------------------------------------------------------------------


class WriteFile:
    name, kind = "Write", "edit"

    def definition(self):  # type: ignore[no-untyped-def]
        return load_definition("Write")

    def run(self, tool_input: dict, ctx: Any) -> ToolResult:
        (ctx.workspace / tool_input["file_path"]).write_text(tool_input["content"])
        return ToolResult("ok")


class ReadFile:
    name, kind = "Read", "read"

    def definition(self):  # type: ignore[no-untyped-def]
        return load_definition("Read")

    def run(self, tool_input: dict, ctx: Any) -> ToolResult:
        return ToolResult("content")


def test_loop_snapshots_only_around_turns_that_may_change_files(ws: Path, home: Path):
    from ketch.conversation import TextBlock

    replies = [
        Message("assistant", [ToolUseBlock("r1", "Read", {"file_path": "a.txt"})]),
        Message("assistant", [ToolUseBlock("w1", "Write", {"file_path": "a.txt", "content": "new"})]),
        Message("assistant", [TextBlock("done")]),
    ]
    (ws / "a.txt").write_text("old")
    gate = PermissionGate(mode="bypassPermissions", allow=[], deny=[], workspace=ws)
    config = AgentConfig(model="m", provider_name="scripted", system_prompt="s", workspace=ws, gate=gate)
    agent = Agent(provider=ScriptedProvider(replies), tools=[ReadFile(), WriteFile()], config=config,
                  session_id="loop-session", checkpoints=checkpoints(ws, home))
    events = list(agent.run("go"))
    marks = [e for e in events if isinstance(e, ev.Checkpoint)]
    assert len(marks) == 1
    mark = marks[0]
    assert (mark.turn, mark.message_index, mark.files_changed, mark.checkpoint) == (2, 3, ["a.txt"], 1)
    assert isinstance(agent.messages[mark.message_index].content[0], ToolUseBlock)
    # the checkpoint follows the turn's last result and precedes the next request's reply
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Checkpoint") == kinds.index("ToolFinished", kinds.index("ToolFinished") + 1) + 1
    from ketch.agent.sessions.transcript import to_record

    record = to_record(mark)
    assert record is not None and record["type"] == "checkpoint" and record["after"] == mark.after
    assert Undo.for_workspace(ws, home).undo().complete and (ws / "a.txt").read_text() == "old"


def test_loop_without_checkpoints_takes_no_snapshot(ws: Path, home: Path):
    replies = [Message("assistant", [ToolUseBlock("w1", "Write", {"file_path": "a.txt", "content": "x"})]),
               Message("assistant", [])]
    gate = PermissionGate(mode="bypassPermissions", allow=[], deny=[], workspace=ws)
    config = AgentConfig(model="m", provider_name="scripted", system_prompt="s", workspace=ws, gate=gate)
    agent = Agent(provider=ScriptedProvider(replies), tools=[WriteFile()], config=config, session_id="s")
    assert not any(isinstance(e, ev.Checkpoint) for e in agent.run("go"))
    assert not home.exists()


def test_repeated_undo_walks_back_across_sessions(ws: Path, home: Path):
    (ws / "a").write_text("0")
    for n, session in enumerate(("first", "second"), start=1):
        with Turn(checkpoints(ws, home), session=session):
            (ws / "a").write_text(str(n))
    undo = Undo.for_workspace(ws, home)
    assert undo.undo().plan.session_id == "second" and (ws / "a").read_text() == "1"
    assert undo.undo().plan.session_id == "first" and (ws / "a").read_text() == "0"


class WriteThenInterrupt(WriteFile):
    """Writes, then the user presses Ctrl-C while the tool is still running."""

    def run(self, tool_input: dict, ctx: Any) -> ToolResult:
        super().run(tool_input, ctx)
        raise KeyboardInterrupt


def test_turn_interrupted_by_ctrl_c_is_still_checkpointed(ws: Path, home: Path):
    (ws / "a.txt").write_text("old")
    replies = [Message("assistant", [ToolUseBlock("w1", "Write", {"file_path": "a.txt", "content": "half-done"})])]
    gate = PermissionGate(mode="bypassPermissions", allow=[], deny=[], workspace=ws)
    config = AgentConfig(model="m", provider_name="scripted", system_prompt="s", workspace=ws, gate=gate)
    agent = Agent(provider=ScriptedProvider(replies), tools=[WriteThenInterrupt()], config=config,
                  session_id="s", checkpoints=checkpoints(ws, home))
    with pytest.raises(KeyboardInterrupt):
        list(agent.run("go"))
    assert (ws / "a.txt").read_text() == "half-done"
    assert Undo.for_workspace(ws, home).undo().complete and (ws / "a.txt").read_text() == "old"


def test_prune_forgets_old_sessions_keeps_recent_ones_and_snapshots_go_on(ws: Path, home: Path):
    import time as _time

    from ketch.agent.undo.prune import prune

    (ws / "stable.txt").write_text("never changes, so only the index and old trees list it\n")
    cp = checkpoints(ws, home)
    with Turn(cp, "old-session"):
        (ws / "big.txt").write_text("old content " * 5000)
    with Turn(cp, "new-session"):
        (ws / "kept.txt").write_text("recent\n")
    store = cp.store
    log = CheckpointLog.of(store)
    text = log.path.read_text()  # age the old session's checkpoint by 40 days
    old_ts = next(r.ts for r in log.read() if r.session_id == "old-session")
    log.path.write_text(text.replace(f'"ts": {old_ts}', f'"ts": {old_ts - 40 * 86400}'))
    os.unlink(ws / "big.txt")
    result = prune(store, 30, now=_time.time())
    assert (result.sessions, result.checkpoints, result.kept_sessions) == (1, 1, 1)
    assert {r.session_id for r in log.read()} == {"new-session"}
    refs = store.git("for-each-ref", "--format=%(refname)").decode().split()
    assert refs == ["refs/ketch/sessions/new-session"]
    assert store.git("count-objects", "-v").decode().count("garbage: 0")  # nothing half-deleted
    # The store still works: the index's blobs survived gc, a new snapshot and an undo succeed.
    with Turn(cp, "third"):
        (ws / "stable.txt").write_text("changed at last\n")
    undo = Undo.for_workspace(ws, home)
    assert undo.apply(undo.plan(session_id="third")).complete
    assert (ws / "stable.txt").read_text().startswith("never changes")
    assert undo.apply(undo.plan(session_id="new-session")).complete and not (ws / "kept.txt").exists()
    # Forget everything: no ref reaches any blob now, only the store's own index lists them.
    assert prune(store, 0).sessions == 2 and store.git("for-each-ref").strip() == b""
    with Turn(cp, "fourth"):  # the snapshot before it is written from that index: its blobs must exist
        (ws / "stable.txt").write_text("changed again\n")
    assert undo.apply(undo.plan(session_id="fourth")).complete
    assert (ws / "stable.txt").read_text().startswith("never changes")


def test_ketch_undo_prune_from_the_shell(ws: Path, home: Path, monkeypatch, capsys):
    from ketch.cli import undo as undo_cli

    cp = checkpoints(ws, home)
    with Turn(cp, "s1"):
        (ws / "a.txt").write_text("a\n")
    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.chdir(ws)
    assert undo_cli.main(["--prune", "30"]) == 0
    assert "forgot 0 checkpoint(s) of 0 session(s)" in capsys.readouterr().out
    assert undo_cli.main(["--prune", "0"]) == 0
    assert "forgot 1 checkpoint(s) of 1 session(s)" in capsys.readouterr().out
    assert undo_cli.main(["--prune", "-1"]) == 2
