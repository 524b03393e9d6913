"""The house plan (DESIGN.md §1), checked: no import crosses a never-arrow, no two packages import each other.

Every `ketch.*` import counts, lazy ones inside functions included, and so does a string naming
a ketch module (`importlib.import_module("ketch.cli.auth")`, `python -m ketch.x`): an arrow is an
arrow however it is spelled.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ketch"

# Which part of the house each package is (DESIGN.md §1). Modules directly under ketch/ are Words.
PART = {"cli": "Face", "ui": "Screens", "agent": "Loop", "tools": "Tools", "providers": "Wire",
        "localmodels": "Wire", "security": "Guard", "config": "Settings", "ext": "Extensions",
        "audit": "Audit", "prompts": "Words"}
PARTS = set(PART.values()) | {"Words"}

NEVER = {("Loop", "Screens"), ("Loop", "Face"), ("Loop", "Extensions"),
         ("Tools", "Wire"), ("Tools", "Screens"), ("Tools", "Loop"),
         ("Wire", "Tools"), ("Wire", "Screens"), ("Wire", "Loop"),
         ("Guard", "Loop"), ("Guard", "Screens"), ("Guard", "Wire"), ("Guard", "Tools"),
         ("Screens", "Face"), ("Screens", "Wire"),  # a front end reaches the model only through the Agent
         ("Extensions", "Screens"),
         ("Audit", "Loop"), ("Audit", "Screens"), ("Audit", "Wire")}
NEVER |= {(p, "Face") for p in PARTS - {"Face"}}  # arrows point down only, and Face is the top
NEVER |= {("Settings", p) for p in PARTS - {"Settings", "Words"}}  # Settings: data only
NEVER |= {("Words", p) for p in PARTS - {"Words"}}  # the shared vocabulary points to nothing


def _module_name(path: Path) -> str:
    parts = ("ketch", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p) for p in SRC.rglob("*.py")}


def _package(dotted: str) -> str:
    """The top-level package a module belongs to; `ketch` for the Words modules beside them."""
    if dotted == "ketch.__main__":  # `python -m ketch`: the command
        return "cli"
    parts = dotted.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in PART) else "ketch"


def _part(dotted: str) -> str:
    return PART.get(_package(dotted), "Words")


def _imports(source: str, here: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, module) for each ketch module the module `here` reaches: imports anywhere, module names in strings."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + is_package]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "ketch" and name in MODULES:
                yield node.lineno, name


def _edges() -> list[tuple[str, str, str]]:
    """(importing module, imported module, where) for every ketch import."""
    return [(_module_name(p), name, f"{p.relative_to(SRC)}:{line}")
            for p in sorted(SRC.rglob("*.py"))
            for line, name in _imports(p.read_text(encoding="utf-8"), _module_name(p), p.name == "__init__.py")]


def test_every_package_has_a_part():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(PART), f"add the new package to PART and DESIGN.md §1: {packages - set(PART)}"


def test_no_import_crosses_a_never_arrow():
    crossings = [f"{where}: {_part(src)} -> {_part(dst)} ({dst})"
                 for src, dst, where in _edges() if (_part(src), _part(dst)) in NEVER]
    assert crossings == []


def test_no_two_packages_import_each_other():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for src, dst, at in _edges():
        a, b = _package(src), _package(dst)
        if a != b:
            graph[a].add(b)
            where.setdefault((a, b), at)
    cycles = []
    for start in list(graph):  # a depth-first walk from each package, looking for a way back to it
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join(f"{x} ({where[(x, y)]})" for x, y in zip(trail, trail[1:] + [start])))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
    assert cycles == []


def test_the_checker_sees_lazy_imports_relative_imports_and_module_names_in_strings():
    source = ("def f():\n    from ketch.agent import loop\n"
              "def g():\n    from ..ui import repl\n"
              "RUN = ['python', '-m', 'ketch.cli.auth']\n")
    found = [name for _, name in _imports(source, "ketch.security.probe")]
    assert found == ["ketch.agent", "ketch.agent.loop", "ketch.ui", "ketch.ui.repl", "ketch.cli.auth"]
    assert [(_part("ketch.security.probe"), _part(n)) in NEVER for n in found] == [True] * 5


def test_no_tool_imports_another_tools_module():
    """What tools share lives in tools/files.py, ripgrep.py, target.py...; only the registry lists the tools."""
    tools = {"ketch.tools." + n for n in ("bash", "edit", "glob", "grep", "read", "todo", "write")}
    reaching = [f"{where} -> {dst}" for src, dst, where in _edges()
                if src.startswith("ketch.tools.") and src != "ketch.tools.registry" and dst in tools and dst != src]
    assert reaching == []


def test_tests_mirror_src():
    """The test of ketch/x/y.py lives under tests/x/: every test folder names a package (or is a shared one)."""
    tests = Path(__file__).resolve().parent
    shared = {"e2e", "fakes", "data", "attacks", "__pycache__"}  # whole runs, shared fakes, recorded data, threats
    strays = [str(d.relative_to(tests)) for d in tests.rglob("*") if d.is_dir() and d.name not in shared
              and not any(p in shared for p in d.relative_to(tests).parts)
              and not (SRC / d.relative_to(tests)).is_dir()]
    assert strays == []


def test_no_module_is_over_400_lines():
    """DESIGN.md §1: a module past ~400 lines is asking to be split."""
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_the_loop_reads_on_one_screen():
    tree = ast.parse((SRC / "agent" / "loop.py").read_text(encoding="utf-8"))
    run = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "run")
    assert run.end_lineno is not None and run.end_lineno - run.lineno + 1 <= 60
