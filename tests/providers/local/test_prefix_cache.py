"""Finding the saved KV state that shares the most leading tokens with a new prefix."""

from pathlib import Path

from ketch.providers.local.prefix_cache import nearest, saved_tokens


def _state(path: Path, tokens: list[int], version: int = 10) -> Path:
    head = b"nsgg" + version.to_bytes(4, "little") + len(tokens).to_bytes(4, "little")
    path.write_bytes(head + b"".join(t.to_bytes(4, "little", signed=True) for t in tokens) + b"state...")
    return path


def test_the_header_gives_the_tokens(tmp_path: Path) -> None:
    assert saved_tokens(_state(tmp_path / "a.state", [5, 6, 7])) == [5, 6, 7]


def test_a_file_that_is_not_a_state_gives_nothing(tmp_path: Path) -> None:
    (tmp_path / "junk.state").write_bytes(b"not a state at all")
    cut = tmp_path / "cut.state"
    cut.write_bytes(b"nsgg" + (10).to_bytes(4, "little") + (1000).to_bytes(4, "little") + b"\0" * 8)
    huge = tmp_path / "huge.state"
    huge.write_bytes(b"nsgg" + (10).to_bytes(4, "little") + (2**31).to_bytes(4, "little"))
    assert saved_tokens(tmp_path / "junk.state") == saved_tokens(cut) == saved_tokens(huge) == []
    assert saved_tokens(tmp_path / "missing.state") == []


def test_the_longest_shared_run_of_this_models_states_wins(tmp_path: Path) -> None:
    _state(tmp_path / "m1-a.state", [1, 2, 3, 9])
    best = _state(tmp_path / "m1-b.state", [1, 2, 3, 4, 8])
    _state(tmp_path / "m2-c.state", [1, 2, 3, 4, 5])  # another model, context or build: never used
    assert nearest(tmp_path, "m1", [1, 2, 3, 4, 5, 6]) == (best, 4)
    assert nearest(tmp_path, "m1", [7]) == (None, 0)
