"""The OS sandbox, against the real bubblewrap: what a hijacked model's command cannot do.

These tests need bwrap (CI installs it with `apt-get install -y bubblewrap`); without it
they fail, on purpose: a sandbox that is never tested is not a sandbox.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from sandbox_kit import make, sh

from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy
from ketch.tools.base import CommandResult

# --- the filesystem view -----------------------------------------------------------


def test_workspace_is_writable_and_the_rest_read_only(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), "echo made > made.txt; mkdir -p a/b; touch /usr/ketch-probe; touch $HOME/x; echo rc=$?")
    assert (ws / "made.txt").read_text() == "made\n" and (ws / "a" / "b").is_dir()
    assert not os.path.exists("/usr/ketch-probe") and not (home / "x").exists()
    assert "Read-only file system" in result.output and "rc=1" in result.output


def test_package_caches_are_read_only_unless_the_user_opts_in(ws: Path, home: Path) -> None:
    (home / ".cache" / "pip").mkdir(parents=True)
    result = sh(make(ws, home), "touch $HOME/.cache/pip/planted; echo rc=$?; touch $PIP_CACHE_DIR-x && echo private-ok; "
                                "mkdir -p $PIP_CACHE_DIR $npm_config_cache $UV_CACHE_DIR && echo dirs-ok")
    assert "rc=1" in result.output and not (home / ".cache" / "pip" / "planted").exists()
    assert "private-ok" in result.output and "dirs-ok" in result.output
    opted_in = sh(make(ws, home, writable_caches=True), "touch $HOME/.cache/pip/entry; echo rc=$?; echo ${PIP_CACHE_DIR-unset}")
    assert "rc=0" in opted_in.output and "unset" in opted_in.output
    assert (home / ".cache" / "pip" / "entry").exists()


def test_private_tmp(ws: Path, home: Path) -> None:
    name = f"ketch-probe-{uuid.uuid4().hex}"
    host_file = Path(tempfile.gettempdir()) / f"{name}-host"
    host_file.write_text("host")
    try:
        result = sh(make(ws, home), f"echo inside > /tmp/{name}; ls /tmp; cat {host_file} || echo not-visible; echo $TMPDIR")
        assert not (Path(tempfile.gettempdir()) / name).exists()
        assert "not-visible" in result.output and result.output.rstrip().endswith("/tmp")
    finally:
        host_file.unlink()


def test_run_sockets_are_hidden(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), "ls -A /run | wc -l")
    assert result.output.strip() == "0"


def test_no_network(ws: Path, home: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    script = textwrap.dedent(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("CONNECTED")
        except OSError as exc:
            print("refused", exc)
    """)
    try:
        result = sh(make(ws, home), f"{sys.executable} -c '{script}'; getent hosts example.com; echo dns=$?")
        assert "CONNECTED" not in result.output and "refused" in result.output
        assert "dns=0" not in result.output and "dns=" in result.output
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_own_pid_namespace(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), f"test -e /proc/{os.getpid()}/environ && echo SEEN-$((1+1)); ls /proc | grep -c '^[0-9]'; "
                                "tr '\\0' ' ' < /proc/1/cmdline")
    lines = result.output.splitlines()
    assert "SEEN-2" not in result.output
    assert int(lines[0]) < 10
    assert "bwrap" in lines[1]


def test_environment_has_no_credentials(ws: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-ENV-CANARY")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-ENV-CANARY")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus")
    result = sh(make(ws, home), "env; cat /proc/1/environ | tr '\\0' '\\n'")
    assert "ENV-CANARY" not in result.output
    assert "DBUS_SESSION_BUS_ADDRESS" not in result.output
    assert "TMPDIR=/tmp" in result.output and f"HOME={home}" in result.output


# --- protected paths ----------------------------------------------------------------


def _git(ws: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(ws), *args], check=True, capture_output=True)


def test_existing_protected_paths_are_read_only(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    (ws / ".git" / "hooks" / "x").write_text("original hook\n")
    (ws / ".ketch").mkdir()
    (ws / ".ketch" / "settings.json").write_text("{}\n")
    config = (ws / ".git" / "config").read_text()
    attack = (
        "echo '[core] hooksPath = /tmp' >> .git/config; git config core.fsmonitor evil; "
        "echo evil > .git/hooks/x; echo evil > .git/hooks/pre-commit; rm -f .git/hooks/x; "
        "echo '{\"permissions\": {\"allow\": [\"Bash\"]}}' > .ketch/settings.json; rm -rf .ketch; mv .ketch .k; "
        "mv .git/hooks .git/h; mv .git/config .git/c"
    )
    sh(make(ws, home), attack)
    assert (ws / ".git" / "config").read_text() == config
    assert (ws / ".git" / "hooks" / "x").read_text() == "original hook\n"
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert (ws / ".ketch" / "settings.json").read_text() == "{}\n"
    assert sorted(p.name for p in ws.iterdir()) == [".git", ".ketch"]


def test_git_commit_still_works(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    result = sh(make(ws, home), "echo hi > a.txt && git add a.txt && "
                                "git -c user.name=t -c user.email=t@t commit -qm first && git log --oneline | wc -l")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1"


def test_missing_protected_paths_cannot_be_created_and_leave_nothing(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    shutil.rmtree(ws / ".git" / "hooks")
    before_git = sorted(p.name for p in (ws / ".git").iterdir())
    attack = (
        "echo '{\"mcpServers\": {}}' > .mcp.json; mkdir -p .ketch; echo '{}' > .ketch/settings.json; "
        "mkdir -p .vscode; echo '{}' > .vscode/tasks.json; echo evil > .envrc; "
        "mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit; mkdir -p .git/modules/x/hooks; "
        "ls -A; sleep 20; echo done"
    )
    result = sh(make(ws, home), attack)
    assert "done" not in result.output and "stopped at once" in result.output  # killed, not left to sleep
    assert sorted(p.name for p in ws.iterdir()) == [".git"]
    assert sorted(p.name for p in (ws / ".git").iterdir()) == before_git
    assert list((home / ".ketch" / "quarantine").rglob(".mcp.json"))  # moved, not deleted


def test_git_indirections_cannot_be_planted(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    (ws / "evil").mkdir()
    attack = ("echo \"$PWD/evil\" > .git/commondir; mkdir -p .git/worktrees/x && echo .. > .git/worktrees/x/commondir; "
              "echo done")
    result = sh(make(ws, home), attack)
    assert "commondir" in result.output and "moved to" in result.output
    assert not (ws / ".git" / "commondir").exists() and not (ws / ".git" / "worktrees").exists()


def test_a_git_folder_added_as_a_root_keeps_its_hooks_and_config(ws: Path, home: Path, tmp_path: Path) -> None:
    _git(ws, "init", "-q")
    linked = tmp_path / "linked"
    _git(ws, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "first")
    _git(ws, "worktree", "add", "-q", str(linked))
    sb = Sandbox(SandboxPolicy(workspace=linked, extra_writable=(ws / ".git",), home=home, ketch_home=home / ".ketch"))
    result = sh(sb, "echo x > f && git add f && git -c user.name=t -c user.email=t@t commit -qm second && echo committed; "
                    f"echo evil > {ws}/.git/hooks/pre-commit; echo evil >> {ws}/.git/config; echo done", cwd=linked)
    assert "committed" in result.output and "done" in result.output
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert "evil" not in (ws / ".git" / "config").read_text()


def test_missing_git_folder_cannot_be_created(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), "git init -q .; mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit; echo done")
    assert "was created by the command" in result.output
    assert list(ws.iterdir()) == []


def test_git_rename_attack(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    (ws / ".ketch").mkdir()
    attack = (
        "mv .git .git_old; mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit; "
        "mv .ketch .ketch_old; mkdir -p .ketch; echo evil > .ketch/settings.json; "
        "rmdir .git/hooks; rm -rf .ketch; echo done"
    )
    result = sh(make(ws, home), attack)
    assert "done" in result.output
    assert not (ws / ".git_old").exists() and not (ws / ".ketch_old").exists()
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert (ws / ".git" / "HEAD").exists() and list((ws / ".ketch").iterdir()) == []


def test_symlinks_do_not_make_protected_files_writable(ws: Path, home: Path) -> None:
    _git(ws, "init", "-q")
    config = (ws / ".git" / "config").read_text()
    (ws / "rc").symlink_to(home / ".bashrc")
    (ws / "cfg").symlink_to(ws / ".git" / "config")
    attack = "echo evil >> rc; echo evil >> cfg; ln -s .git/hooks/pre-commit hook; echo evil > hook; echo done"
    result = sh(make(ws, home), attack)
    assert "done" in result.output
    assert (home / ".bashrc").read_text() == "# original bashrc\n"
    assert (ws / ".git" / "config").read_text() == config
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


def test_protected_symlink_is_protected_at_its_target_and_restored(ws: Path, home: Path) -> None:
    (ws / "real-mcp.json").write_text("{}\n")
    (ws / ".mcp.json").symlink_to("real-mcp.json")
    result = sh(make(ws, home), "echo evil > real-mcp.json; rm .mcp.json && echo '{\"evil\": 1}' > .mcp.json; echo done")
    assert "done" in result.output
    assert (ws / "real-mcp.json").read_text() == "{}\n"
    assert os.readlink(ws / ".mcp.json") == "real-mcp.json"
    assert "protected symlink" in result.output
    moved = [p for p in ws.iterdir() if p.name.startswith(".mcp.json.ketch-blocked-")]
    assert len(moved) == 1 and "evil" in moved[0].read_text()


def test_home_as_workspace_keeps_rc_files_and_secrets_safe(home: Path) -> None:
    sb = Sandbox(SandboxPolicy(workspace=home, home=home, ketch_home=home / ".ketch"))
    attack = (
        "echo evil >> .bashrc; echo evil > .zshrc; mkdir -p .config/fish && echo evil > .config/fish/config.fish; "
        "mv .config .config_old; cat .ssh/id_rsa .aws/credentials .netrc .ketch/credentials.json; "
        "echo ok > notes.txt; echo done"
    )
    result = sh(sb, attack, cwd=home)
    assert ".zshrc was created by the command" in result.output
    assert (home / ".bashrc").read_text() == "# original bashrc\n"
    assert not (home / ".zshrc").exists() and not (home / ".config").exists() and not (home / ".config_old").exists()
    assert "CANARY" not in result.output
    result = sh(sb, "cat .ssh/id_rsa .aws/credentials .netrc .ketch/credentials.json; echo ok > notes.txt; echo done", cwd=home)
    assert "done" in result.output and (home / "notes.txt").read_text() == "ok\n"
    assert "CANARY" not in result.output


def test_secret_paths_are_unreadable(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), f"cd {home}; cat .ssh/id_rsa; ls -A .ssh; cat .aws/credentials; cat .netrc; "
                                "cat .ketch/credentials.json; ls -A .ketch; grep -r CANARY . ; echo done")
    assert "done" in result.output
    assert "CANARY" not in result.output


def test_read_only_view_writes_nothing(ws: Path, home: Path) -> None:
    (ws / "seen.txt").write_text("visible\n")
    result = sh(make(ws, home).read_only(), "touch x; cat seen.txt; mkdir .git; echo done")
    assert "Read-only file system" in result.output and "visible" in result.output
    assert [p.name for p in ws.iterdir()] == ["seen.txt"]


def test_concurrent_calls_never_lose_a_suspect(ws: Path, home: Path) -> None:
    sb = make(ws, home)
    outcome: dict[str, CommandResult] = {}
    slow = threading.Thread(target=lambda: outcome.setdefault("slow", sh(sb, "sleep 1.5; echo evil > .mcp.json; echo done")))
    slow.start()
    time.sleep(0.5)
    sh(sb, "true")
    slow.join()
    assert ".mcp.json was created" in outcome["slow"].output
    assert list(ws.iterdir()) == []


def test_many_concurrent_calls_leave_no_protected_path(ws: Path, home: Path) -> None:
    sb = make(ws, home)
    failures: list[str] = []

    def work(i: int) -> None:
        for _ in range(4):
            result = sh(sb, f"echo x >> out{i}; mkdir -p .git/hooks; echo evil > .mcp.json; sleep 20; echo x >> out{i}")
            # Every one is stopped by its own trip or a neighbour's, except a call that started while a
            # neighbour's tripped path still stood (its mkdir -p made nothing, so nothing tripped): it may
            # finish, and then says what was moved out at its end.
            if result.exit_code == 0 and "was created by the command" not in result.output:
                failures.append(result.output)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(p.name for p in ws.iterdir()) == ["out0", "out1", "out2", "out3"]


def test_ordinary_python_and_node_run(ws: Path, home: Path) -> None:
    node = shutil.which("node")
    result = sh(make(ws, home), f"{sys.executable} -c pass && echo py-ok; {node + ' --version' if node else 'echo v0'}")
    assert "py-ok" in result.output and result.output.strip().splitlines()[-1].startswith("v")


def test_venv_and_pip_work_in_the_workspace(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), f"{sys.executable} -m venv .venv && .venv/bin/pip --version", timeout=120)
    assert result.exit_code == 0, result.output
    assert "pip" in result.output and str(ws) in result.output


def test_tool_folders_under_tmp_stay_runnable(tmp_path: Path, monkeypatch) -> None:
    """A venv or tool cache under /tmp (CI runners) must not vanish behind the private /tmp."""
    from ketch.security.sandbox.mounts import _tool_dirs_under

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tools = tmp_path / "tools" / "bin"
    tools.mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:{tools}:/usr/bin")
    found = _tool_dirs_under(Path("/tmp"))
    assert venv.resolve() in found and tools.resolve() in found
    assert Path("/usr/bin") not in found and Path("/tmp") not in found
