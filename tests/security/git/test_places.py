"""security.git.places: the process-wide memory of `.git` entries, shared by parallel sandboxed calls."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from ketch.security.git import places


def _repo(path: Path) -> None:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def test_discover_finds_and_remembers_nested_repositories(tmp_path: Path) -> None:
    _repo(tmp_path / "ws")
    _repo(tmp_path / "ws/sub")
    found = places.discover([tmp_path / "ws"], tmp_path)
    assert {p.name for p in found.pointers} == {".git"}
    assert (tmp_path / "ws/sub/.git").resolve() in {p.resolve() for p in found.pointers}


def test_parallel_discover_and_remember_never_trip_over_each_other(tmp_path: Path) -> None:
    """Sandboxed calls run in threads: each discovers while others remember and discover."""
    root = tmp_path / "ws"
    _repo(root)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def discoverer() -> None:
        start.wait()
        try:
            for _ in range(40):
                places.discover([root], tmp_path)
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escapes
            errors.append(exc)

    def rememberer(n: int) -> None:
        start.wait()
        try:
            for i in range(2000):
                places.remember_pointer(root / f"node_modules/p{n}_{i}/.git", [root])
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escapes
            errors.append(exc)

    threads = [threading.Thread(target=discoverer) for _ in range(4)]
    threads += [threading.Thread(target=rememberer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
