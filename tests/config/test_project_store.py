"""Issue 15.3: "always allow in this project" lasts, without trusting anything from the project.

The rule goes to ketch's own per-project store ($KETCH_HOME/projects/<folder>/settings.json),
not into the tree: the next session (REPL or headless) applies it in a folder that was never
trusted, `/permissions` lists it and removes it, and nothing appears in the project.
"""

from __future__ import annotations

import json
from pathlib import Path

from ketch.config.project_store import project_slug


def _store(ketch_home: Path, workspace: Path) -> Path:
    return ketch_home / "projects" / project_slug(workspace.resolve()) / "settings.json"


def _write(name: str) -> dict:
    return {"tool_calls": [{"name": "Write", "input": {"file_path": f"notes/{name}", "content": "hi\n"}}]}


def test_always_allow_lasts_into_the_next_sessions_without_trust(server, term, run_ketch, ketch_home, workspace):
    (workspace / "notes").mkdir()
    t = term(server([_write("a.txt"), {"text": "Turn over."}]))
    t.wait_prompt()
    t.send("write a note\r")
    t.wait("[a] always allow Write(notes/**) in this project", where="printed")
    t.send("a")
    t.wait("Turn over.", where="printed")
    t.send("\x04")
    assert t.wait_exit() == 0
    store = _store(ketch_home, workspace)
    assert json.loads(store.read_text()) == {"project": str(workspace.resolve()),
                                             "permissions": {"allow": ["Write(notes/**)"]}}
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert not (workspace / ".ketch").exists()  # nothing in the tree
    assert not (ketch_home / "trusted-folders.json").exists()  # and the folder is still not trusted

    # Next session, headless: the remembered rule applies (headless would otherwise refuse).
    run = run_ketch(["-p", "again", "--output-format", "json"], server=server([_write("b.txt"), {"text": "ok"}]))
    assert run.returncode == 0, run.stderr
    assert run.json()["permission_denials"] == [] and (workspace / "notes" / "b.txt").exists()

    # /permissions lists it with where it is kept, and removes it.
    run = run_ketch([], server=server([]), env={"TERM": "dumb"},
                    stdin="/permissions\n/permissions remove Write(notes/**)\n/permissions\n")
    assert run.returncode == 0, run.stderr
    assert "remembered for this project (allow): Write(notes/**)" in run.stdout and str(store) in run.stdout
    assert f"removed Write(notes/**) from {store}" in run.stdout
    assert run.stdout.count("remembered for this project") == 1
    assert json.loads(store.read_text())["permissions"]["allow"] == []

    run = run_ketch(["-p", "once more", "--output-format", "json"], server=server([_write("c.txt"), {"text": "ok"}]))
    assert [d["tool_name"] for d in run.json()["permission_denials"]] == ["Write"]
    assert not (workspace / "notes" / "c.txt").exists()


def test_another_folders_store_never_lends_its_rules(server, run_ketch, ketch_home, workspace):
    """Two folders can share a slug (/x/a-b, /x/a/b): the file names its folder, and only it."""
    store = _store(ketch_home, workspace)
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"project": str(workspace.resolve()) + "-other",
                                 "permissions": {"allow": ["Write"]}}))
    run = run_ketch(["-p", "write", "--output-format", "json"], server=server([_write("x.txt"), {"text": "ok"}]))
    assert [d["tool_name"] for d in run.json()["permission_denials"]] == ["Write"]
    assert "its rules are not applied here" in run.stderr
