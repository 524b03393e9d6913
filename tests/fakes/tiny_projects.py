"""Tiny real projects for the closed-loop tests (tests/agent/verify): files written, pytest run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def project(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (path → text) under `root`; return `root`."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run(root: Path, *argv: str) -> str:
    """Run this interpreter with `argv` in `root` (no PYTEST_* settings of the outer run); its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run([sys.executable, *argv], check=False, cwd=root, capture_output=True, text=True, env=env,
                          timeout=120)
    return done.stdout + done.stderr


def pytest_output(root: Path, *args: str) -> str:
    return run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args)
