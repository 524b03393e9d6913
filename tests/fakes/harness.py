"""What every end-to-end test shares: the test API keys, the real `ketch` command, a run's result."""

from __future__ import annotations

import json
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEST_ANTHROPIC_KEY = "sk-ant-test-5f1c9a7e2b4d"
TEST_OPENAI_KEY = "sk-openai-test-8e2a6c0d4f"


def ketch_argv() -> list[str]:
    """The installed `ketch` script beside this interpreter (not a version-manager shim)."""
    exe = Path(sysconfig.get_path("scripts")) / "ketch"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ketch")
    return [found] if found else [sys.executable, "-m", "ketch"]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def tool_results(request_body: dict, dialect: str) -> list[dict]:
    """The tool results a request carries, normalised to {id, content, is_error}."""
    out = []
    for msg in request_body["messages"]:
        if dialect == "anthropic" and msg["role"] == "user" and isinstance(msg["content"], list):
            for block in msg["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    if isinstance(content, list):
                        content = "".join(c.get("text", "") for c in content)
                    out.append({"id": block["tool_use_id"], "content": content, "is_error": block.get("is_error", False)})
        elif dialect == "openai" and msg["role"] == "tool":
            out.append({"id": msg["tool_call_id"], "content": msg["content"], "is_error": None})
    return out
