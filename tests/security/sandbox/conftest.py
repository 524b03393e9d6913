"""What the sandbox tests share: bwrap is required, a fake home with canaries, a workspace."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is required for the sandbox tests: apt-get install -y bubblewrap")


@pytest.fixture
def home() -> Path:
    """A fake home outside /tmp (which is private inside the sandbox), so it stays visible."""
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else Path(tempfile.gettempdir())
    path = Path(tempfile.mkdtemp(prefix="ketch-test-home-", dir=base))
    (path / ".ssh").mkdir()
    (path / ".ssh" / "id_rsa").write_text("PRIVATE-KEY-CANARY\n")
    (path / ".aws").mkdir()
    (path / ".aws" / "credentials").write_text("aws_secret_access_key = AWS-CANARY\n")
    (path / ".netrc").write_text("machine example.com password NETRC-CANARY\n")
    (path / ".bashrc").write_text("# original bashrc\n")
    (path / ".ketch").mkdir()
    (path / ".ketch" / "credentials.json").write_text('{"anthropic": "KETCH-CREDENTIAL-CANARY"}\n')
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path
