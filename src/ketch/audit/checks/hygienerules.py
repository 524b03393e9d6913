"""Which member paths should not ship, by rule: names matched on path segments, never on substrings.

A member path is `outer!/inner` with a root folder that depends on the ecosystem (`package/`
in an npm tarball, `name-1.0/` in an sdist), so a rule asks about the segments of the innermost
level: its file name, and the folders above it. `classify` says which rule an entry falls under
and what to report — the file, or the folder (`.git/`, `.claude/`) the file sits in, so a
repository of 200 objects is one item, not 200.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketch.audit.model import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity      # when its contents do not say otherwise (see hygiene.py)
    enables: str
    fix: str
    per_item: bool = False  # one finding per item (a .git folder) instead of one per rule


_EXCLUDE = "Exclude these paths from the artifact (the files list, .npmignore, MANIFEST.in or the build config)."
RULES = {r.id: r for r in (
    Rule("env-file", ".env files", Severity.HIGH, "anyone can read the environment the developers ran with: "
         "keys, database URLs, internal hosts", "Exclude them and rotate every value that was set in one."),
    Rule("env-example", "example .env files", Severity.INFO, "nothing, if they hold placeholders only",
         "Check that they hold no real values."),
    Rule("credential-config", "registry and login config (.npmrc, .pypirc, .netrc)", Severity.MEDIUM,
         "anyone can read registry settings and, if a token or password is in them, publish as you",
         "Exclude them; rotate any token or password they held."),
    Rule("vcs", "version-control folder", Severity.HIGH, "anyone can read the history: deleted files, "
         "old secrets, author names and unreleased branches", "Exclude the folder; if a secret was ever "
         "committed, rotate it.", per_item=True),
    Rule("agent-files", "agent instruction and config files", Severity.LOW, "anyone can read how the team "
         "drives its coding agents: internal commands, paths, conventions, sometimes roadmap",
         _EXCLUDE),
    Rule("editor-config", "editor settings folders", Severity.LOW, "outsiders see local settings and paths",
         _EXCLUDE),
    Rule("os-junk", "OS metadata files (.DS_Store, Thumbs.db, ._*)", Severity.LOW,
         "a .DS_Store lists the names of files in its folder, shipped or not", _EXCLUDE),
    Rule("backup", "backup and editor swap files", Severity.LOW, "old versions of files, as they were "
         "before someone removed something from them", _EXCLUDE),
    Rule("key-file", "key and certificate files", Severity.LOW, "with a private key body: anyone can "
         "impersonate its owner or decrypt what it protects", "Exclude them; rotate any private key that shipped."),
    Rule("pyc-in-sdist", "compiled Python in a source distribution", Severity.LOW,
         "bytecode that may not match the source beside it, and its constants", _EXCLUDE),
    Rule("node-modules", "node_modules inside the package", Severity.LOW, "installed dependencies shipped "
         "again (unless bundled on purpose)", "Exclude node_modules unless bundleDependencies needs it."),
    Rule("test-output", "coverage reports and tool caches", Severity.LOW, "source paths and file "
         "listings of the build machine", _EXCLUDE),
    Rule("core-dump", "core dumps", Severity.MEDIUM, "a process's memory: whatever secrets it held",
         "Exclude them and treat any credential the process held as exposed."),
    Rule("log-file", "log files", Severity.LOW, "paths, hostnames and sometimes tokens from a developer's run",
         _EXCLUDE),
    Rule("database", "database files", Severity.MEDIUM, "the data in them: users, records, local state",
         _EXCLUDE),
    Rule("link-outside", "links that point outside the artifact", Severity.MEDIUM, "an installer or extractor "
         "that follows the link reads or writes outside the package (a symlink to /etc/passwd)",
         "Replace the link with the file it points to, or drop it."),
)}

_OUTRANKS_FOLDERS = {"env-file", "credential-config", "key-file", "core-dump", "database"}
_VCS = {".git", ".svn", ".hg", ".bzr"}
_AGENT_NAMES = {"claude.md", "claude.local.md", "agents.md", "gemini.md", ".cursorrules", ".windsurfrules",
                ".mcp.json", ".clinerules", ".roomodes"}
_AGENT_DIRS = {".claude", ".cursor", ".codex", ".gemini", ".windsurf", ".roo", ".clinerules"}
_EDITOR_DIRS = {".vscode", ".idea"}
_CACHE_DIRS = {".nyc_output", "htmlcov", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}
_COVERAGE_NAMES = {".coverage", "lcov.info", "coverage-final.json", ".eslintcache"}
_OS_JUNK = {".ds_store", "thumbs.db", "desktop.ini"}
_BACKUP = re.compile(r"(~|\.bak|\.orig|\.swp|\.swo|\.old|\.rej)$|^#.+#$", re.IGNORECASE)
_ENV_EXAMPLE = re.compile(r"^\.env\.(example|sample|template|dist|defaults|schema)$", re.IGNORECASE)
_KEY_NAME = re.compile(r"^id_(rsa|dsa|ecdsa|ed25519)$|\.(pem|key|p12|pfx|jks|keystore)$", re.IGNORECASE)
_CORE_NAME = re.compile(r"^core(\.\d+)?$|\.(core|dmp|mdmp)$", re.IGNORECASE)
_DB_NAME = re.compile(r"\.(sqlite3?|db3?)$", re.IGNORECASE)


def split(path: str) -> tuple[str, list[str]]:
    """The outer levels (with their trailing `!/`) and the innermost level's segments."""
    outer, _, inner = path.rpartition("!/")
    prefix = outer + "!/" if outer else ""
    return prefix, [s for s in inner.split("/") if s not in ("", ".")]


def classify(path: str, ecosystem: str) -> tuple[str, str] | None:
    """(rule id, item path) for the rule the member falls under; the item is a folder or the file.

    The outermost matching folder stands for everything in it (a `.git/` inside `node_modules/`
    is part of the node_modules item), except that a file that may hold secrets (.env, .npmrc, a
    key) is its own item anywhere but inside a repository folder.
    """
    prefix, segs = split(path)
    if not segs:
        return None
    is_dir = path.endswith("/")
    file_rule = None if is_dir else _file_rule(segs[-1], segs, ecosystem)
    for i, seg in enumerate(segs if is_dir else segs[:-1]):
        rule = _folder_rule(seg, i, segs, ecosystem)
        if rule and not (file_rule in _OUTRANKS_FOLDERS and rule != "vcs"):
            end = i + 2 if seg.lower() == "coverage" else i + 1  # coverage/lcov-report/, not the folder
            return rule, prefix + "/".join(segs[:end]) + "/"
    return (file_rule, path) if file_rule else None


def _folder_rule(seg: str, i: int, segs: list[str], ecosystem: str) -> str | None:
    low = seg.lower()
    if low in _VCS:
        return "vcs"
    if low in _AGENT_DIRS or low.startswith(".aider"):
        return "agent-files"
    if low in _EDITOR_DIRS:
        return "editor-config"
    if low in _CACHE_DIRS or (low == "coverage" and i + 1 < len(segs) and segs[i + 1] == "lcov-report"):
        return "test-output"
    if low == "__pycache__" and ecosystem == "python-sdist":
        return "pyc-in-sdist"
    if low == "node_modules" and ecosystem == "npm":
        return "node-modules"
    return None


def _file_rule(name: str, segs: list[str], ecosystem: str) -> str | None:
    low = name.lower()
    if low in _VCS:
        return "vcs"  # a submodule's gitlink file: it names where the repository lives
    if low == "copilot-instructions.md" and len(segs) >= 2 and segs[-2] == ".github":
        return "agent-files"
    if low in _AGENT_NAMES or low.startswith(".aider"):
        return "agent-files"
    if _ENV_EXAMPLE.match(name):
        return "env-example"
    if low == ".env" or low.startswith(".env.") or low == ".envrc":
        return "env-file"
    if low in (".npmrc", ".pypirc", ".netrc", "_netrc", ".yarnrc", ".yarnrc.yml", ".git-credentials"):
        return "credential-config"
    if low in _OS_JUNK or name.startswith("._"):
        return "os-junk"
    if _KEY_NAME.search(name):
        return "key-file"
    if ecosystem == "python-sdist" and low.endswith((".pyc", ".pyo")):
        return "pyc-in-sdist"
    if low in _COVERAGE_NAMES or low.startswith(".coverage."):
        return "test-output"
    if _CORE_NAME.search(name):
        return "core-dump"  # only if its bytes say so (hygiene.py)
    if low.endswith(".log"):
        return "log-file"
    if _DB_NAME.search(name):
        return "database"
    if _BACKUP.search(name):
        return "backup"
    return None
