"""The labelled artifacts of `ketch audit`: each built artifact or committed real package with the
kinds of finding it must produce (above low), so precision and recall per kind can be counted.

Positives are built by audit_artifacts (the issue's fixtures); negatives are real, clean packages
from npm and PyPI committed in tests/data/audit/real/, whose findings must all be low or below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import audit_artifacts as art

REAL = Path(__file__).resolve().parent.parent / "data" / "audit" / "real"
KINDS = ("weights", "credential", "source", "secret-guess", "roadmap", "internal", "should-not-ship")


def _folder(*builders: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def build(dest: Path) -> Path:
        folder = dest / "_".join(b.__name__ for b in builders)
        folder.mkdir()
        for b in builders:
            b(folder)
        return folder
    return build


def _claude_new(dest: Path) -> Path:
    return art.claude_like(dest)[1]


# builder or committed file name -> the kinds it must produce above low
POSITIVES: dict[str, tuple[Callable[[Path], Path], frozenset[str]]] = {
    "claude-like 1.0.88": (_claude_new, frozenset({"source", "roadmap"})),
    "inline map bundle": (art.inline_map_bundle, frozenset({"source"})),
    "wheel with .env and AWS key": (art.wheel_with_env, frozenset({"credential", "should-not-ship"})),
    "sdist with a .pyc token": (art.sdist_with_pyc_token, frozenset({"credential"})),
    "GGUF and safetensors": (_folder(art.gguf_model, art.safetensors_model), frozenset({"weights"})),
    "package shipping CLAUDE.md": (art.package_with_claude_md, frozenset({"should-not-ship"})),
    "internal host and a person's home folder": (art.package_with_internal_layout, frozenset({"internal"})),
    "a random value under a secret-like name": (art.wheel_with_guessable_secret, frozenset({"secret-guess"})),
}
REAL_POSITIVES = {"mitt-3.0.1.tgz": frozenset({"source"})}


def clean_packages() -> list[Path]:
    return sorted(p for p in REAL.iterdir() if p.name not in REAL_POSITIVES)


def labelled(dest: Path) -> list[tuple[str, Path, frozenset[str]]]:
    """Every labelled artifact, built into `dest`: (label, path, expected kinds)."""
    out = []
    for label, (build, kinds) in POSITIVES.items():
        sub = dest / label.replace(" ", "_").replace(".", "")
        sub.mkdir()
        out.append((label, build(sub), kinds))
    out.extend((name, REAL / name, kinds) for name, kinds in REAL_POSITIVES.items())
    out.extend((p.name, p, frozenset()) for p in clean_packages())
    return out


def score(results: list[tuple[str, frozenset[str], set[str]]]) -> dict[str, tuple[int, int, int]]:
    """Per kind: (true positives, false positives, false negatives) over (label, expected, found) rows."""
    table: dict[str, tuple[int, int, int]] = {}
    for kind in KINDS:
        tp = sum(1 for _, want, got in results if kind in want and kind in got)
        fp = sum(1 for _, want, got in results if kind not in want and kind in got)
        fn = sum(1 for _, want, got in results if kind in want and kind not in got)
        table[kind] = (tp, fp, fn)
    return table
