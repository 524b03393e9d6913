"""The testing part of shared config files: what the tests rule holds, and what it leaves free."""

from __future__ import annotations

from pathlib import Path

from ketch.tools.test_config import how_tests_run
from ketch.tools.tests_rule import changed_evidence, evidence, is_test_path


def test_pyproject_pytest_section_is_the_part_held() -> None:
    base = '[project]\nname = "x"\n'
    with_pytest = base + '[tool.pytest.ini_options]\naddopts = "-q"\n'
    assert how_tests_run("pyproject.toml", base) is None
    assert how_tests_run("pyproject.toml", base.replace('"x"', '"y"')) is None  # metadata is free
    assert how_tests_run("pyproject.toml", with_pytest) == {"ini_options": {"addopts": "-q"}}
    dotted = base + '[tool]\npytest.ini_options = {addopts = "-q"}\n'  # the same, spelled otherwise
    assert how_tests_run("pyproject.toml", dotted) == how_tests_run("pyproject.toml", with_pytest)


def test_setup_cfg_package_json_makefile() -> None:
    assert how_tests_run("setup.cfg", "[metadata]\nname = x\n[tool:pytest]\naddopts = --co\n") == {"addopts": "--co"}
    assert how_tests_run("package.json", '{"scripts": {"test": "jest", "build": "tsc"}}') == {"test": "jest"}
    assert how_tests_run("Makefile", "all:\n\tcc x.c\ntest: all\n\t./run-tests\n\nx:\n") == "test: all\n\t./run-tests"


def test_pytest_files_and_shadowing_modules_are_test_paths(tmp_path: Path) -> None:
    for rel in ("pytest.ini", "tox.ini", "sitecustomize.py", "pytest.py", "pytest/__main__.py", "_pytest/x.py",
                "x.pth"):
        assert is_test_path(tmp_path / rel, tmp_path), rel
    assert not is_test_path(tmp_path / "src/pytest_helpers.py", tmp_path)


def test_evidence_sees_a_test_changed_by_any_route(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_a.py").write_text("assert 1\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    before = evidence(tmp_path)
    (tmp_path / "app.py").write_text("x = 2\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "y"\n')
    (tmp_path / "tests/__pycache__").mkdir()
    (tmp_path / "tests/__pycache__/test_a.cpython-311.pyc").write_bytes(b"\0")
    assert changed_evidence(before, evidence(tmp_path)) == []
    (tmp_path / "tests/test_a.py").write_text("assert True\n")
    (tmp_path / "tests/test_b.py").write_text("")
    assert changed_evidence(before, evidence(tmp_path)) == ["tests/test_a.py", "tests/test_b.py"]
