"""Localization before editing: the code a failed test run points at, given to the model up front.

A small model spends its turns (a minute each, on two cores) finding the function to change,
and often picks the wrong one. The run's output already says where: frames in the workspace
outside the test files are the code under test (innermost last), and the failing test's own
frame is the test. When no code frame is named (a wrong value, not an exception), the test
says which names it calls, and its imports say where they live. Each place becomes the whole
function or class around it (Python, from the `ast`), or ±15 lines (other languages), or the
whole file when it is short (WHOLE_FILE_LINES), plus a short settings file the failure or the
code names: at most
MAX_SPANS spans and MAX_CODE_LINES lines, so it fits a small model's window.

Files are read here, by ketch, only inside the workspace and only when `readable` (the
gate's hard path policy) allows: a test's output is project text and may name any path.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ketch.agent.verify.failure import Frame, failed_tests, frames
from ketch.localmodels.profile import WHOLE_FILE_LINES
from ketch.tools.files import MAX_LINE_CHARS
from ketch.tools.tests_rule import is_test_path

MAX_SPANS = 2
MAX_CODE_LINES = 80
MAX_TEST_LINES = 30
AROUND = 15  # lines either side, where no function can be found
WHOLE = "the whole file"  # the label of such a span
MAX_FILE_BYTES = 1_000_000
# Tried only where a name can start (the look-behind): from every offset of a long `a.b.b.b...`
# a greedy run backtracks to its start, which made the search quadratic (hours on a 600 kB line).
_DATA_FILE = re.compile(r"(?<![\w./-])[\w./-]*\w\.(?:toml|json|ya?ml|ini|cfg|conf|csv)\b")
_LANG = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".ini": "ini", ".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".rb": "ruby"}
_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass
class Span:
    """Lines start..end (1-based, inclusive) of a file: a function, a class, or a window."""

    path: Path
    start: int
    end: int
    label: str = field(default="", compare=False)  # "def add", "class Config"; "" for a window
    hit: int = field(default=0, compare=False)  # the line the output named (0: found by name)


def localize(output: str, workspace: Path, readable: Callable[[Path], bool] = lambda path: True) -> str:
    """The code to change and the failing test, as text for the model; "" when nothing resolves."""
    workspace = Path(os.path.realpath(workspace))
    return render(*locate(output, workspace, readable), workspace)


def locate(output: str, workspace: Path, readable: Callable[[Path], bool]) -> tuple[list[Span], Span | None]:
    """The spans of code to show (a short file whole) and the failing test's; `workspace` real."""
    located = [(path, frame) for frame in frames(output) if (path := _resolve(frame.path, workspace, readable))]
    code = [(path, frame) for path, frame in located if not is_test_path(path, workspace)]
    spans: list[Span] = []
    for path, frame in reversed(code):  # innermost first: where it broke
        span = enclosing(path, frame.line)
        if span is not None and not any(_overlap(span, s) for s in spans):
            spans.append(span)
        if len(spans) == MAX_SPANS:
            break
    spans.reverse()
    test = _test_span(output, [(p, f) for p, f in located if is_test_path(p, workspace)], workspace, readable)
    if test is not None and len(spans) < MAX_SPANS:
        for span in called_definitions(test, workspace, readable):
            if not any(_overlap(span, s) for s in spans):
                spans.append(span)
            if len(spans) == MAX_SPANS:
                break
    spans = _whole_small_files(spans)
    named = _named_data_file(output, spans, workspace, readable)
    return [*spans, named] if named is not None else spans, test


def _named_data_file(output: str, spans: list[Span], workspace: Path, readable: Callable[[Path], bool]) -> Span | None:
    """A short settings or data file the failure or the code shown names ("config.toml"), whole.

    Why: a wrong key or value often lives in such a file, and no traceback frame points there
    (measured: a KeyError: 'port' raised in app.py, fixed in config.toml, which the model never saw)."""
    texts = [output, *(_read(span.path) or "" for span in spans)]
    for text in texts:
        for name in _DATA_FILE.findall(text):
            path = _resolve(name, workspace, readable)
            if path is None or is_test_path(path, workspace) or any(s.path == path for s in spans):
                continue
            count = len((_read(path) or "").splitlines())
            if 0 < count <= WHOLE_FILE_LINES:
                return Span(path, 1, count, WHOLE)
    return None


def _whole_small_files(spans: list[Span]) -> list[Span]:
    """Each span in a file of at most WHOLE_FILE_LINES lines becomes that whole file, once.

    Why: the function a traceback names is often not the only place to change (measured: asked
    for a --verbose flag, qwen2.5-coder-1.5b was shown `main` and kept passing `verbose` to
    parse_args, never seeing build_parser three lines above). A small file costs little more."""
    out: list[Span] = []
    for span in spans:
        text = _read(span.path) or ""
        count = len(text.splitlines())
        if count <= WHOLE_FILE_LINES:
            span = Span(span.path, 1, max(count, 1), WHOLE, span.hit)
        if not any(_overlap(span, s) for s in out):
            out.append(span)
    return out


def enclosing(path: Path, line: int) -> Span | None:
    """The innermost function or class around `line` (Python), else the lines around it."""
    text = _read(path)
    if text is None:
        return None
    count = len(text.splitlines())
    if not 1 <= line <= max(count, 1):
        return None
    if path.suffix == ".py":
        tree = _parse_text(text)
        best: _Def | None = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, _Def) and _first_line(node) <= line <= (node.end_lineno or node.lineno) \
                    and (best is None or node.lineno > best.lineno):
                best = node
        if best is not None:
            return Span(path, _first_line(best), best.end_lineno or best.lineno, _label(best), line)
    return Span(path, max(1, line - AROUND), min(count, line + AROUND), "", line)


def called_definitions(test: Span, workspace: Path, readable: Callable[[Path], bool]) -> list[Span]:
    """The definitions of what the test function uses that its module imports from the workspace,
    in the order the test first uses them."""
    tree = _parse(test.path)
    if tree is None:
        return []
    function = next((n for n in ast.walk(tree) if isinstance(n, _Def) and _first_line(n) == test.start), None)
    if function is None:
        return []
    imported = _imports(tree, test.path, workspace, readable)
    uses: list[tuple[int, int, Path, str]] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in imported and imported[node.id][1]:
            uses.append((node.lineno, node.col_offset, *imported[node.id]))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported \
                and not imported[node.value.id][1]:  # module.name
            uses.append((node.lineno, node.col_offset, imported[node.value.id][0], node.attr))
    spans: list[Span] = []
    for _line, _col, module, name in sorted(uses, key=lambda use: use[:2]):
        span = _definition(module, name)
        if span is not None and span not in spans:
            spans.append(span)
    return spans


def _imports(tree: ast.Module, test_file: Path, workspace: Path,
             readable: Callable[[Path], bool]) -> dict[str, tuple[Path, str]]:
    """Local name → (module file in the workspace, imported name; "" for a whole module)."""
    found: dict[str, tuple[Path, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _module_file(node.module or "", node.level, test_file, workspace, readable)
            if module is not None:
                for alias in node.names:
                    found[alias.asname or alias.name] = (module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module = _module_file(alias.name, 0, test_file, workspace, readable)
                if module is not None:
                    found[alias.asname or alias.name.split(".")[0]] = (module, "")
    return found


def _module_file(module: str, level: int, test_file: Path, workspace: Path,
                 readable: Callable[[Path], bool]) -> Path | None:
    parts = [p for p in module.split(".") if p]
    if level:
        bases = [test_file.parents[level - 1]] if level <= len(test_file.parents) else []
    else:
        bases = [workspace, workspace / "src", test_file.parent]
    for base in bases:
        for candidate in (base.joinpath(*parts).with_suffix(".py") if parts else None,
                          base.joinpath(*parts, "__init__.py")):
            if candidate is not None and (path := _resolve(str(candidate), workspace, readable)):
                return path
    return None


def _definition(module: Path, name: str) -> Span | None:
    tree = _parse(module)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, _Def) and node.name == name:
            return Span(module, _first_line(node), node.end_lineno or node.lineno, _label(node))
        if isinstance(node, ast.Assign | ast.AnnAssign):  # a constant: VERSION = "1.2.0"
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return Span(module, node.lineno, node.end_lineno or node.lineno, f"{name} =")
    return None


def _test_span(output: str, test_frames: list[tuple[Path, Frame]], workspace: Path,
               readable: Callable[[Path], bool]) -> Span | None:
    """The failing test function: its frame (the outermost in a test file), else pytest's summary line."""
    if test_frames:
        first, frame = test_frames[0]
        return enclosing(first, frame.line)
    for file, name in failed_tests(output):
        path = _resolve(file, workspace, readable)
        tree = _parse(path) if path is not None else None
        if path is None or tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return Span(path, _first_line(node), node.end_lineno or node.lineno, _label(node))
    return None


def render(spans: list[Span], test: Span | None, workspace: Path) -> str:
    """The spans as fenced blocks under headers, the code first, within MAX_CODE_LINES."""
    parts: list[str] = []
    budget = MAX_CODE_LINES
    for span in spans:
        block = _block(span, budget, workspace)
        if block is None:
            break
        budget -= block[1]
        intro = "The code the failure points at" if not parts else "And"
        parts.append(f"{intro}: {block[0]}")
    if test is not None:
        block = _block(test, MAX_TEST_LINES, workspace)
        if block is not None:
            parts.append(f"The failing test (evidence of what the code must do; do not edit it): {block[0]}")
    return "\n\n".join(parts)


def _block(span: Span, budget: int, workspace: Path) -> tuple[str, int] | None:
    """`span` as a fenced block under a header naming its file and lines, cut to `budget` lines."""
    text = _read(span.path)
    if text is None or budget < 5:
        return None
    start, end = span.start, span.end
    if end - start + 1 > budget:  # too long: the lines around the one named, else its beginning
        start = max(span.start, min(span.hit - budget // 2, span.end - budget + 1)) if span.hit else span.start
        end = start + budget - 1
    lines = [_cut(line) for line in text.splitlines()[start - 1:end]]
    rel = span.path.relative_to(workspace).as_posix()
    what = f", {span.label}" if span.label else ""
    where = f" (the traceback points at line {span.hit})" if span.hit and span.label else ""
    fence = "```" + _LANG.get(span.path.suffix, "")
    return f"{rel}, lines {start}-{start + len(lines) - 1}{what}{where}:\n{fence}\n" + "\n".join(lines) + "\n```", \
        len(lines)


def _cut(line: str) -> str:
    """A line as Read shows it: a minified or hostile one-line file must not fill a small model's window."""
    return line if len(line) <= MAX_LINE_CHARS else f"{line[:MAX_LINE_CHARS]}... [line truncated: {len(line)} characters]"


def _resolve(name: str, workspace: Path, readable: Callable[[Path], bool]) -> Path | None:
    """The file `name` means, if it is a regular file inside the workspace that may be read."""
    try:
        path = Path(os.path.realpath(workspace / name))
        path.relative_to(workspace)
    except (ValueError, OSError):
        return None
    if not path.is_file() or "site-packages" in path.parts or not readable(path):
        return None
    return path


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return None if len(data) > MAX_FILE_BYTES else data.decode("utf-8", errors="replace")


def _parse(path: Path) -> ast.Module | None:
    text = _read(path)
    return _parse_text(text) if text is not None else None


def _parse_text(text: str) -> ast.Module | None:
    """The module's tree; None when it does not parse, or nests too deep for Python's parser
    (a repository's `a.b.b.b...` or `----1` raises RecursionError or MemoryError, not SyntaxError)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _first_line(node: _Def) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _label(node: _Def) -> str:
    return f"{'class' if isinstance(node, ast.ClassDef) else 'def'} {node.name}"


def _overlap(a: Span, b: Span) -> bool:
    return a.path == b.path and a.start <= b.end and b.start <= a.end
