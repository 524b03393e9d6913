"""Helpers for the session tests: stored sessions made in process, live ketch processes, checks.

Sessions are written with ketch's own TranscriptWriter (the real format, without paying a
process start per session); crash tests start the real `ketch` command and wait on
observable conditions (the fake server stalling, a file appearing), never on sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY, ketch_argv

from ketch.agent import events as ev
from ketch.agent.sessions.transcript import TranscriptWriter, to_record, transcript_path
from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage

MODEL = "claude-sonnet-4-5"


def real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def make_session(home: Path, workspace: Path, turns: list[tuple[str, str]], *, session_id: str | None = None,
                 tool: bool = True, start_ts: float | None = None, model: str = MODEL) -> Path:
    """Store a finished session: for each (prompt, answer), optionally a Read call first."""
    ws = real(workspace)
    sid = session_id or str(uuid.uuid4())
    path = transcript_path(home, ws, sid)
    writer = TranscriptWriter(path, redact=lambda text: text)
    clock = iter(range(10_000))
    base = start_ts if start_ts is not None else time.time()

    def emit(event: object) -> None:
        record = to_record(event)
        assert record is not None
        record["ts"] = base + next(clock)
        writer.write(record)

    emit(ev.SessionStarted(sid, model, "anthropic", str(ws), ["Read"], "default"))
    for n, (prompt, answer) in enumerate(turns):
        emit(ev.UserPrompt(prompt))
        if tool:
            call = ToolUseBlock(f"toolu_{n}", "Read", {"file_path": "notes.txt"})
            emit(ev.AssistantMessage(Message("assistant", [TextBlock("Reading."), call]), f"m{n}a", model,
                                     "tool_use", Usage(5, 5)))
            emit(ev.ToolResults(Message("user", [ToolResultBlock(call.id, f"1\tfile body {n} SECRETWORD")])))
        emit(ev.AssistantMessage(Message("assistant", [TextBlock(answer)]), f"m{n}b", model, "end_turn", Usage(5, 5)))
    writer.close()
    return path


def session_files(home: Path) -> dict[str, Path]:
    return {p.stem: p for p in (home / "projects").rglob("*.jsonl")}


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ketch_env(home: Path, server: Any, dialect: str = "anthropic") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.update({"KETCH_HOME": str(home), "KETCH_RETRY_BASE_DELAY": "0", "NO_COLOR": "1"})
    if dialect == "anthropic":
        env.update({"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": TEST_ANTHROPIC_KEY})
    else:
        env.update({"OPENAI_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": TEST_OPENAI_KEY})
    return env


def spawn_ketch(args: list[str], *, home: Path, cwd: Path, server: Any, dialect: str = "anthropic") -> subprocess.Popen:
    model = MODEL if dialect == "anthropic" else "openai:gpt-4o"
    return subprocess.Popen(ketch_argv() + ["--model", model] + args, cwd=cwd, env=ketch_env(home, server, dialect),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen | None = None,
             timeout: float = 30) -> None:
    """Poll `condition` until it holds; fail early if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"ketch exited ({proc.returncode}) before {what}: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def assert_valid_anthropic(body: dict[str, Any]) -> None:
    """Every tool_use is answered in the next (user) message, and every result answers a call."""
    messages = body["messages"]
    assert messages[0]["role"] == "user"
    for i, message in enumerate(messages):
        blocks = message["content"] if isinstance(message["content"], list) else []
        calls = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        if message["role"] == "assistant" and calls:
            nxt = messages[i + 1]
            assert nxt["role"] == "user", f"message {i}: tool calls not followed by a user message"
            answered = [b["tool_use_id"] for b in nxt["content"] if b.get("type") == "tool_result"]
            assert sorted(answered) == sorted(calls), f"message {i}: calls {calls}, results {answered}"
        if message["role"] == "user":
            for b in blocks:
                if b.get("type") == "tool_result":
                    prev = messages[i - 1]
                    assert prev["role"] == "assistant" and any(
                        c.get("id") == b["tool_use_id"] for c in prev["content"] if c.get("type") == "tool_use")


def assert_valid_openai(body: dict[str, Any]) -> None:
    messages = [m for m in body["messages"] if m["role"] != "system"]
    for i, message in enumerate(messages):
        if message["role"] == "assistant" and message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            following = [m["tool_call_id"] for m in messages[i + 1 : i + 1 + len(ids)] if m["role"] == "tool"]
            assert sorted(following) == sorted(ids)
        if message["role"] == "tool":
            earlier = [c["id"] for m in messages[:i] if m["role"] == "assistant" for c in m.get("tool_calls") or []]
            assert message["tool_call_id"] in earlier


def texts(body: dict[str, Any]) -> str:
    """All text of a request's messages, joined (either dialect)."""
    out = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [str(b.get("text", "")) + str(b.get("content", "")) for b in content]
    return "\n".join(out)
