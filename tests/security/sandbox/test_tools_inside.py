"""Tools through the sandbox, and failing closed when the sandbox cannot start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sandbox_kit import make

from ketch.errors import SandboxUnavailable
from ketch.security.sandbox import probe as sandbox_probe
from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy, run_unsandboxed
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.bash import BashTool
from ketch.tools.glob import GlobTool
from ketch.tools.grep import GrepTool


def ctx_for(runner: object, workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=runner)  # type: ignore[arg-type]


def test_missing_bwrap_fails_closed(ws: Path, home: Path) -> None:
    sb = Sandbox(SandboxPolicy(workspace=ws, home=home), bwrap=str(ws / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable) as info:
        sb(["true"], cwd=ws, timeout_s=5)
    message = str(info.value)
    assert "not installed" in message and "apt-get install bubblewrap" in message and "--sandbox off" in message
    with pytest.raises(SandboxUnavailable):
        sb.check()  # remembered, and still failing closed


def test_tools_turn_an_unavailable_sandbox_into_an_error_result(ws: Path, home: Path) -> None:
    (ws / "a.py").write_text("needle\n")
    ctx = ctx_for(Sandbox(SandboxPolicy(workspace=ws, home=home), bwrap=str(ws / "no-such-bwrap")), ws)
    for tool, args in ((BashTool(), {"command": "touch pwned"}), (GrepTool(), {"pattern": "needle"}),
                       (GlobTool(), {"pattern": "*.py"})):
        with pytest.raises(ToolError, match="bubblewrap"):  # the loop turns ToolError into an error result
            tool.run(args, ctx)
    assert not (ws / "pwned").exists()


def test_bwrap_errors_are_explained(ws: Path, home: Path) -> None:
    fake = ws / "fake-bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "bubblewrap 0.8.0"; exit 0; fi\n'
        'echo "bwrap: Creating new namespace failed: Operation not permitted" >&2; exit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox(SandboxPolicy(workspace=ws, home=home), bwrap=str(fake)).check()
    message = str(info.value)
    assert "Operation not permitted" in message and "--sandbox off" in message


def test_bash_cwd_persists_through_the_sandbox(ws: Path, home: Path) -> None:
    (ws / "sub" / "deeper").mkdir(parents=True)
    sb = make(ws, home)
    ctx = ctx_for(sb, ws)
    BashTool().run({"command": "cd sub"}, ctx)
    assert BashTool().run({"command": "pwd -P"}, ctx).content == str((ws / "sub").resolve())
    BashTool().run({"command": "cd deeper && exit 4"}, ctx)
    assert ctx.state.bash_cwd == (ws / "sub" / "deeper").resolve()
    assert os.listdir(sb.state_dir) == []


def test_bash_survives_a_hostile_cwd_file(ws: Path, home: Path) -> None:
    sb = make(ws, home)
    ctx = ctx_for(sb, ws)
    hostile = 'for f in "$KETCH_STATE"/ketch-cwd-*; do rm -f "$f"; mkfifo "$f"; done; cd /'
    command = hostile.replace("$KETCH_STATE", str(sb.state_dir))
    result = BashTool().run({"command": command, "timeout": 2000}, ctx)
    assert result.is_error  # the trap blocks on the FIFO until the timeout; ketch does not
    assert ctx.state.bash_cwd in (None, ws)
    (ws / "target").mkdir()
    link_attack = f'for f in "{sb.state_dir}"/ketch-cwd-*; do rm -f "$f"; ln -s {home}/.bashrc "$f"; done'
    BashTool().run({"command": link_attack}, ctx)
    assert ctx.state.bash_cwd in (None, ws)


def test_grep_and_glob_run_in_the_read_only_view(ws: Path, home: Path) -> None:
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("needle = 1\n")
    ctx = ctx_for(make(ws, home).read_only(), ws)
    assert "a.py" in GrepTool().run({"pattern": "needle"}, ctx).content
    assert GlobTool().run({"pattern": "**/*.py"}, ctx).content.endswith("a.py")


def test_grep_cannot_read_credentials(ws: Path, home: Path) -> None:
    ctx = ctx_for(make(ws, home), ws)
    result = GrepTool().run({"pattern": "CANARY", "path": str(home), "output_mode": "content"}, ctx)
    assert result.content == "No matches found"


def test_unsandboxed_runner_is_explicit(ws: Path) -> None:
    result = run_unsandboxed(["bash", "-c", "echo plain"], cwd=ws, timeout_s=5)
    assert result.output == "plain\n" and result.exit_code == 0


@pytest.fixture(autouse=True)
def _fresh_probe_cache() -> None:
    yield
    sandbox_probe.forget()
