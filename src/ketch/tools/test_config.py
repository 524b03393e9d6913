"""The parts of a project's configuration that decide what its tests check (the tests rule's other half).

A test can be made to pass without touching a test file: `addopts = --co` in pytest.ini only
collects, `--deselect` drops the failing test, `"test": "true"` in package.json or a Makefile
`test:` rule that runs nothing. For the tests rule (tools.tests_rule) these parts are as much
evidence as the tests: pytest's own files are test files, and in the files shared with other
settings (pyproject.toml, setup.cfg, package.json, Makefile) only the testing part is held,
so a dependency or a version may still change.
"""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Callable

# Files that configure nothing but how tests run (or run Python code at interpreter start).
PYTEST_FILES = frozenset({"pytest.ini", ".pytest.ini", "tox.ini", "noxfile.py", "sitecustomize.py",
                          "usercustomize.py"})


def _pyproject(text: str) -> object:
    import importlib

    try:
        tomllib = importlib.import_module("tomllib")  # 3.11's; on 3.10, the [tool.pytest...] tables' text
    except ImportError:
        return re.findall(r"^\[tool\.pytest[^\n]*(?:\n(?!\[).*)*", text, re.MULTILINE) or None
    try:
        tool = tomllib.loads(text).get("tool")
    except (tomllib.TOMLDecodeError, RecursionError):
        return text  # pytest cannot read it either; any change to it counts
    return tool.get("pytest") if isinstance(tool, dict) else None


def _setup_cfg(text: str) -> object:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return text
    return dict(parser["tool:pytest"]) if parser.has_section("tool:pytest") else None


def _package_json(text: str) -> object:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if not isinstance(scripts, dict):
        return None
    return {k: v for k, v in scripts.items() if k in ("test", "pretest", "posttest")}


def _makefile(text: str) -> object:
    """The `test:` rule and its recipe (tab-indented lines after it)."""
    found = re.search(r"^test\s*:.*(\n\t.*)*", text, re.MULTILINE)
    return found.group(0) if found else None


_SHARED: dict[str, Callable[[str], object]] = {
    "pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "package.json": _package_json,
    "Makefile": _makefile, "makefile": _makefile, "GNUmakefile": _makefile,
}


def is_shared_config(name: str) -> bool:
    """A file whose testing part only is held (the rest may change)."""
    return name in _SHARED


def how_tests_run(name: str, text: str) -> object:
    """What in `text` (the file `name`) decides how tests run; None when it has no such part."""
    extract = _SHARED.get(name)
    return extract(text) if extract else None
