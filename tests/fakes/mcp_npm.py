"""The reference MCP servers from npm, as `.ci/run` installs them: the argv that starts each one.

They live outside the checkout (`KETCH_TEST_NPM`, default ~/.cache/ketch-test-npm) so that no
node_modules appears in the tree the tests and the sandbox look at. Where one is missing, a test
that needs it fails under CI (CI=true: .ci/run installed them, so a skip there would be a test
that cannot fail) and is skipped elsewhere, with the command that installs it either way.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

# Exact versions checked here (initialize and tools/list over stdio, node 20). .ci/run and the README's
# test command install these; tests/ext/mcp/test_fixture_servers.py holds the three to the same pins.
PACKAGES = {
    "everything": ("@modelcontextprotocol/server-everything", "2026.8.31"),
    "filesystem": ("@modelcontextprotocol/server-filesystem", "2026.8.31"),
}


def npm_prefix() -> Path:
    return Path(os.environ.get("KETCH_TEST_NPM") or Path.home() / ".cache" / "ketch-test-npm")


def install_command() -> str:
    specs = " ".join(f"{name}@{version}" for name, version in PACKAGES.values())
    return f'npm install --prefix "${{KETCH_TEST_NPM:-$HOME/.cache/ketch-test-npm}}" --no-audit --no-fund {specs}'


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def npm_server_argv(server: str, *args: str) -> list[str]:
    """[node, the package's entry script, *args]: fails under CI and skips elsewhere if it is not installed."""
    package, version = PACKAGES[server]
    node = shutil.which("node")
    folder = npm_prefix() / "node_modules" / package
    problem = None
    if node is None:
        problem = "node is not on PATH"
    elif not (folder / "package.json").is_file():
        problem = f"{package} is not installed in {npm_prefix()}"
    else:
        meta = json.loads((folder / "package.json").read_text())
        installed = meta.get("version")
        if installed != version:
            problem = f"{package} {installed} is installed in {npm_prefix()}, the tests pin {version}"
    if problem is not None:
        message = f"{problem}: run `{install_command()}` (.ci/run does)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    bin_entry = meta["bin"] if isinstance(meta["bin"], str) else next(iter(meta["bin"].values()))
    assert node is not None
    return [node, str(folder / bin_entry), *args]


def everything_argv() -> list[str]:
    """server-everything over stdio (its first argument picks the transport: stdio, sse, streamableHttp)."""
    return npm_server_argv("everything", "stdio")


def filesystem_argv(*allowed: str | os.PathLike[str]) -> list[str]:
    """server-filesystem confined to the ALLOWED folders (at least one; the client's roots may replace them)."""
    if not allowed:
        raise ValueError("filesystem_argv needs at least one allowed folder")
    return npm_server_argv("filesystem", *(str(Path(a)) for a in allowed))
