"""Folder trust: canonical paths, component-wise ancestry, a store that never trusts by accident."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ketch.security import trust as trust_mod
from ketch.security.trust import is_trusted, store_path, trust, trusted_folders, untrust


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "ketch-home"
    monkeypatch.setenv("KETCH_HOME", str(h))
    return h


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    for name in ("app", "app/sub/deeper", "app-evil", "other"):
        (w / name).mkdir(parents=True)
    return w


def test_nothing_is_trusted_at_first(work):
    assert not is_trusted(work / "app")
    assert not store_path().exists()


def test_trust_covers_the_folder_and_its_descendants_only(work):
    trust(work / "app")
    assert is_trusted(work / "app")
    assert is_trusted(work / "app" / "sub" / "deeper")
    assert is_trusted(work / "app" / "not-created-yet")
    assert not is_trusted(work)
    assert not is_trusted(work / "other")


def test_prefix_is_not_ancestry(work):
    trust(work / "app")
    assert not is_trusted(work / "app-evil")
    assert not is_trusted(str(work / "app") + "-evil")
    assert not is_trusted(str(work / "ap"))


def test_dot_dot_cannot_escape(work):
    trust(work / "app")
    assert not is_trusted(work / "app" / ".." / "app-evil")
    assert not is_trusted(f"{work}/app/sub/../../other")


def test_symlinked_folder_is_recorded_by_its_canonical_path(work, tmp_path):
    link = tmp_path / "link-to-app"
    link.symlink_to(work / "app")
    recorded = trust(link)
    assert recorded == Path(os.path.realpath(work / "app"))
    assert list(trusted_folders()) == [recorded]
    assert is_trusted(work / "app" / "sub")


def test_symlinks_are_judged_by_where_they_point(work, tmp_path):
    trust(work / "app")
    inside_to_outside = work / "app" / "escape"
    inside_to_outside.symlink_to(work / "app-evil")
    outside_to_inside = tmp_path / "alias"
    outside_to_inside.symlink_to(work / "app" / "sub")
    assert not is_trusted(inside_to_outside)
    assert is_trusted(outside_to_inside)


def test_store_is_private_and_valid_json(work, home):
    trust(work / "app")
    assert stat.S_IMODE(store_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    data = json.loads(store_path().read_text())
    (when,) = data["folders"].values()
    assert list(data["folders"]) == [os.path.realpath(work / "app")] and when.endswith("Z")
    assert [p.name for p in home.iterdir()] == ["trusted-folders.json"]  # no temp file left


def test_untrust(work):
    trust(work / "app")
    trust(work / "other")
    assert untrust(work / "app") is True
    assert not is_trusted(work / "app")
    assert is_trusted(work / "other")
    assert untrust(work / "app") is False


def test_untrusting_a_child_keeps_the_trusted_ancestor(work):
    trust(work / "app")
    assert untrust(work / "app" / "sub") is False
    assert is_trusted(work / "app" / "sub")


@pytest.mark.parametrize("content", [
    "{not json",
    "[]",
    '{"folders": ["/"]}',
    '{"folders": {"relative/path": "t"}}',
    '{"folders": {"/": 1}}',
    "\xff\xfe",
])
def test_corrupted_store_trusts_nothing_and_warns_once(work, home, capsys, content):
    home.mkdir()
    store_path().write_text(content, encoding="latin-1")
    assert not is_trusted(work / "app")
    assert not is_trusted("/")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("ketch: warning: ") for line in err)
    assert str(store_path()) in err[0]


def test_trusting_again_repairs_a_corrupted_store(work, home):
    home.mkdir()
    store_path().write_text("{oops")
    messages: list[str] = []
    trust(work / "app", warn=messages.append)
    assert len(messages) == 1
    assert is_trusted(work / "app", warn=messages.append) and len(messages) == 1


def test_warn_hook_keeps_library_quiet(work, home, capsys):
    home.mkdir()
    store_path().write_text("{oops")
    seen: list[str] = []
    assert not trust_mod.is_trusted(work, warn=seen.append)
    assert seen and capsys.readouterr().err == ""


# --- the --trust flag, through the real command ---------------------------------------------


def _stored_folders(home: Path) -> list[str]:
    path = home / "trusted-folders.json"
    return list(json.loads(path.read_text())["folders"]) if path.exists() else []


def test_trust_flag_records_the_working_folder(run_ketch, server, ketch_home, workspace):
    run_ketch(["--trust", "-p", "hi"], model=None)  # no model configured: the run stops, nothing recorded
    assert _stored_folders(ketch_home) == []
    run_ketch(["--trust", "-p", "hi"], server=server([{"text": "ok"}]))  # recorded once the run is configured
    assert _stored_folders(ketch_home) == [os.path.realpath(workspace)]


def test_no_trust_without_the_flag(run_ketch, ketch_home):
    run_ketch(["-p", "hi"], model=None)
    assert _stored_folders(ketch_home) == []


def test_trust_flag_without_a_run_records_nothing(run_ketch, ketch_home):
    run = run_ketch(["--trust"], model=None)
    assert run.returncode == 2 and _stored_folders(ketch_home) == []


@pytest.mark.parametrize("config", [".ketch", ".claude", ".mcp.json"])
def test_a_subfolder_with_its_own_project_config_does_not_inherit_trust(work, config):
    """A command inside a trusted project can make `sub/.ketch/settings.json`; running ketch in
    `sub` must not take those settings on the parent's trust."""
    trust(work)
    (work / "sub" / "deeper").mkdir(parents=True)
    (work / "other").mkdir(exist_ok=True)
    target = work / "sub" / config
    target.mkdir() if not config.endswith(".json") else target.write_text("{}")
    assert not is_trusted(work / "sub")
    assert not is_trusted(work / "sub" / "deeper")
    assert is_trusted(work / "other")
    assert is_trusted(work)
    trust(work / "sub")
    assert is_trusted(work / "sub" / "deeper")
