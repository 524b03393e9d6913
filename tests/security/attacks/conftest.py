"""The `lab` fixture every attack test takes (tests/fakes/attack_kit.py builds it).

A fixture the test modules imported by name would be redefined by every test's `lab`
parameter (ruff F811); provided here, pytest hands it over without an import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attack_kit import Lab, make_lab


@pytest.fixture
def lab(run_ketch: Any, tmp_path: Path) -> Iterator[Lab]:
    yield from make_lab(run_ketch, tmp_path)
