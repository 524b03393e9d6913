"""`ketch audit` on real packages fetched by name from the real registries (marked `registry`: the
only tests that leave 127.0.0.1; .ci/run runs them with `-m registry`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.registry


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ketch", "audit", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_mitt_maps_rebuild_its_typescript_source(tmp_path: Path) -> None:
    out = tmp_path / "mitt-src"
    proc = audit("npm:mitt@3.0.1", "--format", "json", "--extract", str(out))
    assert proc.returncode == 0, proc.stderr  # MIT with a public repository: medium, below --fail-on high
    [report] = json.loads(proc.stdout)["reports"]
    assert report["name"] == "mitt" and report["version"] == "3.0.1"
    [summary] = [f for f in report["findings"] if f["rule"] == "source/summary"]
    assert summary["severity"] == "medium" and summary["facts"]["maps"] == 3 and summary["facts"]["files"] == 1
    assert "export default function mitt" in (out / "src" / "index.ts").read_text()


def test_a_clean_pypi_package_sdist_and_wheel(tmp_path: Path) -> None:
    proc = audit("pypi:six==1.16.0", "--format", "json", "--fail-on", "low")
    reports = json.loads(proc.stdout)["reports"]
    assert {r["ecosystem"] for r in reports} == {"python-sdist", "python-wheel"}
    assert proc.returncode == 0, [f for r in reports for f in r["findings"]]


def test_against_the_previous_npm_release(tmp_path: Path) -> None:
    proc = audit("npm:mitt@3.0.1", "--against", "npm:mitt@3.0.0", "--format", "json", "--fail-on", "never")
    [change] = json.loads(proc.stdout)["changes"]
    assert change["before"] == "npm:mitt@3.0.0" and change["bytes_before"] > 0
