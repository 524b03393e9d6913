"""Code the model plants where ketch (or the person's shell) will run it outside the sandbox.

ketch runs `git` (undo snapshots) and `bwrap` on the host. A project venv, `node_modules/.bin`
or a direnv `PATH_add` on PATH put folders the model can write ahead of /usr/bin: a planted
`.venv/bin/git` must never be what ketch runs, and PATH folders inside the project, like the
folders ketch's own code loads from, are not writable by tools at all. `python -m ketch`
never imports from the working folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from attack_kit import bash, call, turn

from ketch.security import host_programs


def _plant(folder: Path, name: str, canary: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho planted >> {canary}\nexec /usr/bin/{name} \"$@\"\n")
    script.chmod(0o755)


@pytest.mark.parametrize("folder", [".venv/bin", "node_modules/.bin", "bin"])
def test_planted_git_and_bwrap_on_path_are_never_run_by_ketch(lab, folder):
    canary = lab.outside / "planted-ran"
    bin_dir = lab.ws / folder
    for name in ("git", "bwrap"):
        _plant(bin_dir, name, canary)
    lab.rebaseline()
    path = f"{bin_dir}:{os.environ['PATH']}"
    out = lab.run([turn(call("Write", "w", file_path="new.txt", content="x\n"), bash("b", "echo hi"))],
                  mode="acceptEdits", env={"PATH": path})
    assert out.results()["w"]["is_error"] is False, out.results()
    assert "hi" in out.result_text("b"), out.results()
    assert not canary.exists(), "ketch ran a program planted inside the project on the host"


def test_relative_and_empty_path_entries_are_never_searched(lab, tmp_path):
    canary = lab.outside / "planted-ran"
    _plant(lab.ws, "git", canary)
    lab.rebaseline()
    out = lab.run([turn(call("Write", "w", file_path="new.txt", content="x\n"))], mode="acceptEdits",
                  env={"PATH": f".::{os.environ['PATH']}"})
    assert out.results()["w"]["is_error"] is False
    assert not canary.exists()


def test_path_folders_inside_the_project_are_not_writable_by_tools(lab):
    bin_dir = lab.ws / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    lab.rebaseline()
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = lab.run([turn(call("Write", "w", file_path=".venv/bin/git", content="#!/bin/sh\nid\n"),
                        bash("b", "printf '#!/bin/sh\\nid\\n' > .venv/bin/ls; chmod +x .venv/bin/ls"))],
                  "--allowedTools", "Bash(printf:*)", "Bash(chmod:*)", mode="acceptEdits", env=env)
    assert out.results()["w"]["is_error"], out.results()
    assert "protected" in out.result_text("w")
    assert not (bin_dir / "git").exists()
    assert not (bin_dir / "ls").exists()


def test_ketchs_own_import_folders_inside_the_project_are_not_writable(lab):
    lib = lab.ws / "lib"
    lib.mkdir()
    lab.rebaseline()
    env = {"PYTHONPATH": f"{lib}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep)}
    out = lab.run([turn(call("Write", "w", file_path="lib/zz_evil.pth", content="import os; os.system('id')\n"),
                        bash("b", "echo 'import os' > lib/keyring.py"))],
                  "--allowedTools", "Bash(echo:*)", mode="acceptEdits", env=env)
    assert out.results()["w"]["is_error"], out.results()
    assert list(lib.iterdir()) == []


def test_python_dash_m_ketch_never_imports_from_the_working_folder(tmp_path):
    (tmp_path / "argparse.py").write_text("raise SystemExit('imported the workspace argparse')\n")
    (tmp_path / "httpx.py").write_text("raise SystemExit('imported the workspace httpx')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env["KETCH_HOME"] = str(tmp_path / "kh")
    for args in (["--version"], ["-p", "hi", "--model", "openai:x"]):
        proc = subprocess.run([sys.executable, "-m", "ketch", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert "imported the workspace" not in proc.stdout + proc.stderr


def test_lookup_skips_folders_inside_writable_roots(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    (ws / "bin").mkdir(parents=True)
    (ws / "bin" / "git").write_text("#!/bin/sh\n")
    (ws / "bin" / "git").chmod(0o755)
    outside_bin = tmp_path / "usrbin"
    outside_bin.mkdir()
    os.symlink(ws / "bin" / "git", outside_bin / "git")  # a link from outside into the project
    real_git = Path("/usr/bin/git")
    monkeypatch.setenv("PATH", f"{ws / 'bin'}:{outside_bin}:{real_git.parent}")
    host_programs.pin_writable_roots([ws])
    try:
        assert host_programs.find("git") == str(real_git)
    finally:
        host_programs.pin_writable_roots([Path.cwd()])


def test_code_folders_protect_only_what_is_inside_a_root(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"/usr/bin:{tmp_path / 'ws' / 'tools'}")
    found = host_programs.protected_code_folders([tmp_path / "ws"])
    assert tmp_path / "ws" / "tools" in found
    assert all(p.parts[: len((tmp_path / "ws").parts)] == (tmp_path / "ws").parts for p in found)
    # A prefix that contains the root (a workspace under /usr) never swallows the workspace.
    assert Path("/") not in host_programs.protected_code_folders([Path("/usr/src/app")])
