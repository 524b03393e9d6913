"""How many threads the embedded model generates with: one per physical core it may use."""

from pathlib import Path

from ketch.providers.local.provider import physical_cores, thread_counts


def _topology(root: Path, siblings: dict[int, str]) -> Path:
    for cpu, group in siblings.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "thread_siblings_list").write_text(group + "\n")
    return root


def test_two_hardware_threads_of_one_core_count_once(tmp_path: Path) -> None:
    topology = _topology(tmp_path, {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"})
    assert physical_cores([0, 1, 2, 3], topology) == 2


def test_cores_without_smt_each_count(tmp_path: Path) -> None:
    topology = _topology(tmp_path, {0: "0", 1: "1"})
    assert physical_cores([0, 1], topology) == 2


def test_only_the_cores_this_process_may_use(tmp_path: Path) -> None:
    topology = _topology(tmp_path, {0: "0", 1: "1", 2: "2", 3: "3"})
    assert physical_cores([2], topology) == 1


def test_unreadable_topology_falls_back_to_half(tmp_path: Path) -> None:
    assert physical_cores([0, 1, 2, 3], tmp_path / "missing") == 2
    assert physical_cores([0], tmp_path / "missing") == 1


def test_the_environment_overrides_generation(monkeypatch) -> None:
    monkeypatch.setenv("KETCH_LOCAL_THREADS", "3")
    assert thread_counts()[0] == 3
