"""The exact lines that keep a finding's files out of the next release, in the artifact's own
packer's words: `.npmignore` for npm, `MANIFEST.in` or pyproject for Python, `.dockerignore`.

Checks say what is wrong and list the paths; this adds how to exclude them, so the advice is
written once for every kind of finding.
"""

from __future__ import annotations

import dataclasses
import re

from ketch.audit.model import ArtifactInfo, Finding, Kind

_EXCLUDABLE = frozenset({Kind.SOURCE, Kind.WEIGHTS, Kind.SHOULD_NOT_SHIP, Kind.LARGE_BINARY})
_BY_SUFFIX = (".map", ".pyc", ".pyo", ".DS_Store", ".swp", ".bak", ".orig", ".log")
_SDIST_ROOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*-\d[^/]*/")
_MAX_PATTERNS = 12


def with_fixes(finding: Finding, info: ArtifactInfo) -> Finding:
    """The finding with its exclusion lines appended to `fix` (unchanged for kinds that need none)."""
    if finding.kind not in _EXCLUDABLE:
        return finding
    paths = [p for p in finding.facts.get("paths", []) if isinstance(p, str)] or [finding.path]
    lines = exclusion_lines(info, paths)
    if not lines:
        return finding
    fix = f"{finding.fix.rstrip('.')}. {lines[0].upper()}{lines[1:]}" if finding.fix else lines
    return dataclasses.replace(finding, fix=fix)


def exclusion_lines(info: ArtifactInfo, paths: list[str]) -> str:
    history = [p for p in paths if p.startswith("git-history:")]
    patterns = _patterns(info, [p for p in paths if not p.startswith("git-history:")])
    said: list[str] = []
    if patterns:
        quoted = ", ".join(f'"{p}"' for p in patterns)
        if info.ecosystem == "npm":
            said.append("add to .npmignore: " + " | ".join(patterns)
                        + ' (or list only what ships in package.json "files"; check with `npm pack --dry-run`)')
        elif info.ecosystem == "python-wheel":
            said.append(f"pyproject.toml: [tool.hatch.build.targets.wheel] exclude = [{quoted}] — or for setuptools "
                        f'[tool.setuptools.exclude-package-data] "*" = [{quoted}]')
        elif info.ecosystem == "python-sdist":
            said.append("MANIFEST.in: " + " | ".join(f"global-exclude {p}" if "/" not in p else f"exclude {p}"
                                                    for p in patterns)
                        + f" — or pyproject.toml: [tool.hatch.build.targets.sdist] exclude = [{quoted}]")
        elif info.ecosystem == "docker":
            said.append("add to .dockerignore: " + " | ".join(f"**/{p}" if "/" not in p else p for p in patterns))
        else:
            said.append("keep out of what you publish (.npmignore, MANIFEST.in or .dockerignore): "
                        + " | ".join(patterns))
    if history:
        files = sorted({p.split("!/", 1)[-1] for p in history})[:_MAX_PATTERNS]
        said.append("it is in git history: rotate it, then `git filter-repo --invert-paths "
                    + " ".join(f"--path {f}" for f in files) + "` and force-push")
    return "; ".join(said)


def _patterns(info: ArtifactInfo, paths: list[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        shipped = _shipped_path(info, path)
        if not shipped:
            continue
        name = shipped.rsplit("/", 1)[-1]
        suffix = next((s for s in _BY_SUFFIX if name.endswith(s)), "")
        pattern = f"*{suffix}" if suffix else shipped
        if pattern not in found:
            found.append(pattern)
    if len(found) > _MAX_PATTERNS:
        found = found[:_MAX_PATTERNS] + [f"… {len(found) - _MAX_PATTERNS} more"]
    return found


def _shipped_path(info: ArtifactInfo, path: str) -> str:
    """The path as the packer sees it: the outermost member (a nested archive is excluded whole),
    without a map's `#source` part and without the packer's root folder."""
    outer = path.split("!/", 1)[0].split("#", 1)[0]
    if info.ecosystem == "npm":
        outer = outer.removeprefix("package/")
    elif info.ecosystem == "python-sdist":
        outer = _SDIST_ROOT.sub("", outer, count=1)
    return outer
