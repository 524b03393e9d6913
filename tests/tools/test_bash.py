"""Bash: output and exit codes, persistent cwd, fresh environment, timeouts, capping."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import CommandResult, SessionState, ToolContext, ToolError
from ketch.tools.bash import MAX_OUTPUT_CHARS, BashTool, wrap


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def bash(ctx: ToolContext, command: str, **extra: object):  # type: ignore[no-untyped-def]
    return BashTool().run({"command": command, **extra}, ctx)


def test_output_and_success(tmp_path: Path) -> None:
    result = bash(make_ctx(tmp_path), "echo hello; echo oops >&2")
    assert not result.is_error
    assert result.content == "hello\noops"


def test_no_output(tmp_path: Path) -> None:
    assert bash(make_ctx(tmp_path), "true").content == "(no output)"


def test_nonzero_exit_is_error_with_code(tmp_path: Path) -> None:
    result = bash(make_ctx(tmp_path), "echo partial; exit 3")
    assert result.is_error
    assert result.content == "partial\nExit code 3"


def test_runs_in_workspace_initially(tmp_path: Path) -> None:
    assert bash(make_ctx(tmp_path), "pwd -P").content == str(tmp_path.resolve())


def test_cwd_persists_between_calls(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    ctx = make_ctx(tmp_path)
    bash(ctx, "cd sub")
    assert bash(ctx, "pwd -P").content == str((tmp_path / "sub").resolve())
    bash(ctx, "cd deeper && exit 4")  # the trap still reports the directory after `exit`
    assert ctx.state.bash_cwd == (tmp_path / "sub" / "deeper").resolve()


def test_failed_command_keeps_its_exit_code_after_cd(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    ctx = make_ctx(tmp_path)
    result = bash(ctx, "cd sub; false")
    assert result.is_error and result.content == "Exit code 1"
    assert ctx.state.bash_cwd == (tmp_path / "sub").resolve()


def test_environment_does_not_persist(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    bash(ctx, "export KETCH_TEST_VAR=1; shopt -s nullglob; alias ll=ls")
    assert bash(ctx, 'echo "[${KETCH_TEST_VAR:-unset}]"; alias ll 2>/dev/null || echo no-alias').content == (
        "[unset]\nno-alias"
    )


def test_deleted_cwd_falls_back_to_workspace(tmp_path: Path) -> None:
    (tmp_path / "gone").mkdir()
    ctx = make_ctx(tmp_path)
    bash(ctx, "cd gone")
    (tmp_path / "gone").rmdir()
    result = bash(ctx, "pwd -P")
    assert result.content.startswith(str(tmp_path.resolve()) + "\n")
    assert "no longer exists" in result.content
    assert ctx.state.bash_cwd == tmp_path


def test_leaving_the_workspace_resets_cwd(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    ctx = make_ctx(ws)
    result = bash(ctx, "cd .. && pwd -P")
    assert result.content.startswith(str(tmp_path.resolve()))
    assert "reset" in result.content
    assert bash(ctx, "pwd -P").content == str(ws.resolve())


def test_timeout_kills_and_reports(tmp_path: Path) -> None:
    result = bash(make_ctx(tmp_path), "echo started; sleep 5", timeout=300)
    assert result.is_error
    assert result.content.startswith("started\n")
    assert "timed out after 0.3 s" in result.content


def test_timeout_is_capped_at_ten_minutes(tmp_path: Path) -> None:
    seen: dict[str, float] = {}

    def fake_runner(argv, *, cwd, timeout_s, cancel=None, max_output_chars=30000):  # type: ignore[no-untyped-def]
        seen["timeout_s"] = timeout_s
        seen["max_output_chars"] = max_output_chars
        return CommandResult(exit_code=0, output="ok\n")

    ctx = ToolContext(workspace=tmp_path, state=SessionState(), runner=fake_runner)
    bash(ctx, "true", timeout=10_000_000)
    assert seen == {"timeout_s": 600.0, "max_output_chars": MAX_OUTPUT_CHARS}
    bash(ctx, "true")
    assert seen["timeout_s"] == 120.0


def test_cancellation_is_reported(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.cancel.set()
    result = bash(ctx, "sleep 5")
    assert result.is_error and "cancelled" in result.content


def test_cancel_from_another_thread(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    timer = threading.Timer(0.2, ctx.cancel.set)
    timer.start()
    try:
        result = bash(ctx, "sleep 5")
    finally:
        timer.cancel()
    assert "cancelled" in result.content


def test_output_is_capped_keeping_head_and_tail(tmp_path: Path) -> None:
    # The tool keeps up to MAX_OUTPUT_CHARS (the loop trims what the model sees and stores the rest).
    result = bash(make_ctx(tmp_path), f"echo FIRST; head -c {MAX_OUTPUT_CHARS + 50000} /dev/zero | tr '\\0' x; echo; echo LAST")
    assert len(result.content) < MAX_OUTPUT_CHARS + 1000
    assert result.content.startswith("FIRST") and result.content.endswith("LAST")
    assert "cut from the middle" in result.content


def test_wrap_leaves_command_untouched_after_trap() -> None:
    script = wrap("cat <<EOF\nno terminator", "/tmp/it's here")
    assert script.startswith("trap ") and script.endswith("; cat <<EOF\nno terminator")


def test_unterminated_heredoc_still_works(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    (tmp_path / "sub").mkdir()
    result = bash(ctx, "cd sub; cat <<EOF\nline one")
    assert "line one" in result.content.splitlines()
    assert ctx.state.bash_cwd == (tmp_path / "sub").resolve()


def test_bash_line_numbers_match_the_command(tmp_path: Path) -> None:
    result = bash(make_ctx(tmp_path), "true\nno_such_command_xyz")
    assert result.is_error and "line 2: no_such_command_xyz" in result.content


def test_empty_command_and_bad_timeout(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="empty"):
        bash(make_ctx(tmp_path), "   ")
    with pytest.raises(ToolError, match="timeout"):
        bash(make_ctx(tmp_path), "true", timeout=-5)
    with pytest.raises(ToolError, match="`timeout`"):
        bash(make_ctx(tmp_path), "true", timeout="soon")


def test_secrets_are_not_in_the_child_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-secret")
    assert "sk-test-secret" not in bash(make_ctx(tmp_path), "env").content
