"""ketch audits its own release: the wheel and sdist `python -m build` makes from this checkout's
tracked files must have nothing at medium or above (marked `registry`: the isolated build fetches
setuptools from PyPI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.registry
ROOT = Path(__file__).resolve().parent.parent.parent


def test_ketch_wheel_and_sdist_have_nothing_at_medium(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], capture_output=True, check=True,
                   timeout=600)
    artifacts = sorted(out.iterdir())
    assert sorted(p.suffix for p in artifacts) == [".gz", ".whl"]
    proc = subprocess.run([sys.executable, "-m", "ketch", "audit", *map(str, artifacts), "--fail-on", "medium"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
