"""Paths no tool may write, and credential stores no tool may read (DESIGN.md §5.4, §5.6).

One list serves both the file tools (checked on canonical paths) and the sandbox (mounted
read-only or masked), so a shell command and a file tool can never disagree about them.
Protection holds whether or not the file exists yet: a hook or settings file that an
attacker creates is as dangerous as one it modifies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketch.security.git.places import GitPlaces

# git_places and host_programs are imported where they are used: a run that never touches a
# file or starts a command does not pay for them at start.

# Relative to every project root (the workspace and any extra writable root).
PROJECT_PROTECTED = (
    ".ketch",            # project settings, local settings, hooks, commands
    ".mcp.json",         # MCP servers start processes
    ".git/hooks",        # run by the user's own git later
    ".git/config",       # core.hooksPath, core.fsmonitor, aliases, credential helpers
    ".git/modules",      # submodules' own git dirs: their hooks and config run like the above
    ".git/commondir",    # git reads config and hooks from the folder this file names
    ".git/worktrees",    # linked worktrees' commondir/config files, used by git elsewhere
    ".claude",           # Claude Code's project settings and hooks
    ".cursor",           # Cursor's MCP servers and rules
    ".gemini",           # Gemini CLI's settings and MCP servers
    ".vscode",           # tasks.json / settings.json run commands in the editor
    ".idea",             # JetBrains run configurations
    ".envrc",            # direnv runs it on cd
    # Other editors' and agents' project files whose commands run on the host when the
    # person opens the folder with that tool (tasks, MCP servers, hooks, lint/test commands).
    ".devcontainer", ".codex", ".opencode", "opencode.json", "opencode.jsonc", ".zed", ".continue",
    ".windsurf", ".roo", ".kiro", ".amazonq", ".aider.conf.yml",
)

# Project configuration ketch (or Claude Code) reads from whatever folder it is started in:
# refused to file tools at any depth, and a folder that has its own does not inherit an
# ancestor's trust (security.trust), so a command that makes one cannot grant anything.
ANY_DEPTH_CONFIG = frozenset({".ketch", ".claude", ".mcp.json"})

# Relative to a project root that is itself a git folder (the main repository's `.git`,
# added so that a linked worktree can commit): the same files, one level up.
GIT_DIR_PROTECTED = ("hooks", "config", "modules", "commondir")

# Relative to the user's home: shell start-up files and other code that runs later.
HOME_PROTECTED = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv",
    ".zprofile", ".zlogin", ".config/fish", ".inputrc", ".gitconfig", ".config/git", ".ssh",
    ".claude", ".claude.json", ".config/autostart", ".local/share/applications",
    # Also run at login or by the user's editor and session, without asking.
    ".bash_aliases", ".pam_environment", ".xprofile", ".xsessionrc", ".config/environment.d",
    ".config/systemd", ".vimrc", ".config/nvim", ".emacs", ".emacs.d",
)

# Relative to the user's home: credential stores hidden from sandboxed commands entirely.
HOME_SECRETS = (
    ".ssh", ".aws", ".azure", ".config/gcloud", ".gnupg", ".netrc", ".git-credentials",
    ".config/gh", ".docker/config.json", ".kube", ".pypirc", ".npmrc", ".cargo/credentials.toml",
    ".config/hub",
    # Session cookies and keys of the desktop: X11 cookies, keyring stores, password managers.
    ".Xauthority", ".ICEauthority", ".local/share/keyrings", ".local/share/python_keyring",
    ".local/share/kwalletd", ".password-store", ".config/op",
    # More tools' tokens, including other coding agents' own credentials.
    ".cargo/credentials", ".gem/credentials", ".vault-token", ".terraform.d/credentials.tfrc.json",
    ".config/rclone", ".s3cfg", ".boto", ".oci", ".claude/.credentials.json", ".codex/auth.json",
    # Database, registry and build-tool credentials; tokens of model hubs and assistants.
    ".pgpass", ".my.cnf", ".mylogin.cnf", ".config/containers/auth.json", ".m2/settings.xml",
    ".m2/settings-security.xml", ".gradle/gradle.properties", ".terraformrc", ".config/pip/pip.conf",
    ".pip/pip.conf", ".yarnrc.yml", ".config/composer/auth.json", ".composer/auth.json", ".databrickscfg",
    ".dbt/profiles.yml", ".config/doctl", ".fly", ".cache/huggingface/token", ".huggingface/token",
    ".config/github-copilot", ".gemini", ".config/gemini",
    # Shell and REPL histories (commands typed with passwords), and browsers' cookie stores.
    ".bash_history", ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".sqlite_history",
    ".node_repl_history", ".local/share/fish/fish_history", ".mozilla", ".config/google-chrome",
    ".config/chromium", ".config/BraveSoftware", ".thunderbird",
)

# The entries above that are directories, so that protecting one that does not exist yet
# makes an empty directory, not an empty file, appear in its place (see security.sandbox).
DIRECTORY_ENTRIES = frozenset({
    "hooks", "modules",
    ".ketch", ".git/hooks", ".git/modules", ".git/worktrees", ".claude", ".cursor", ".gemini", ".vscode", ".idea",
    ".devcontainer", ".codex", ".opencode", ".zed", ".continue", ".windsurf", ".roo", ".kiro", ".amazonq",
    ".config/environment.d", ".config/systemd", ".config/nvim", ".emacs.d",
    ".config/fish", ".config/git", ".ssh", ".config/autostart", ".local/share/applications",
    ".aws", ".azure", ".config/gcloud", ".gnupg", ".config/gh", ".kube", ".config/hub",
    ".local/share/keyrings", ".local/share/python_keyring", ".local/share/kwalletd",
    ".password-store", ".config/op", ".config/rclone", ".oci",
    ".config/doctl", ".fly", ".config/github-copilot", ".config/gemini", ".mozilla",
    ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".thunderbird",
})


@dataclass(frozen=True)
class ProtectedSet:
    """Canonical paths that are never writable, and credential paths never readable.

    Besides the fixed lists, git's own places are found on disk at each check (see
    security.git_places): a nested repository, a hooksPath folder or an included config
    may appear between two calls. Any path with a `.git` component is refused too, so a
    file tool can never create a nested repository's config, hooks or `.git` pointer.
    """

    no_write: tuple[Path, ...]
    no_read: tuple[Path, ...]
    roots: tuple[Path, ...] = ()
    home: Path | None = None

    def blocks_write(self, path: Path) -> Path | None:
        """The protected path that covers `path` (itself or an ancestor), if any."""
        if hit := _covering(path, self.no_write):
            return hit
        if ".git" in path.parts:
            return Path(*path.parts[: path.parts.index(".git") + 1])
        for i, part in enumerate(path.parts):
            if part in ANY_DEPTH_CONFIG:  # a subfolder's own settings: `ketch` run there would read them
                return Path(*path.parts[: i + 1])
        if self.home is None or not any(_covering(path, (root,)) for root in self.roots):
            return None
        from ketch.security.git.places import discover

        return _covering(path, _both(list(discover(list(self.roots), self.home).protected)))

    def blocks_read(self, path: Path) -> Path | None:
        return _covering(path, self.no_read)


@dataclass(frozen=True)
class SandboxEntries:
    """The same lists, unresolved, for the OS sandbox: literal absolute paths and their kind.

    The sandbox resolves symlinks itself at each call (a link can change between calls) and
    needs to know, for a path that does not exist yet, whether to hold its place with an
    empty directory or an empty file.
    """

    no_write: tuple[tuple[Path, bool], ...]  # (path, is_directory)
    no_read: tuple[Path, ...]
    roots: tuple[Path, ...] = ()
    home: Path | None = None

    def current(self) -> tuple[SandboxEntries, GitPlaces]:
        """These entries plus git's places as found on disk now (redone at each call)."""
        if self.home is None:
            from ketch.security.git.places import GitPlaces

            return self, GitPlaces()
        from ketch.security.git.places import discover

        places = discover(list(self.roots), self.home)
        found = tuple((p, is_dir) for p, is_dir in places.protected.items())
        merged = tuple(dict.fromkeys([*self.no_write, *found]))
        return SandboxEntries(no_write=merged, no_read=self.no_read), places


def sandbox_entries(project_roots: list[Path], home: Path, ketch_home: Path) -> SandboxEntries:
    """Protected and secret paths for the sandbox of a session, in list order."""
    no_write: list[tuple[Path, bool]] = []
    for root in project_roots:
        no_write += [(Path(os.path.abspath(root / rel)), rel in DIRECTORY_ENTRIES) for rel in _project_protected(root)]
    no_write += [(Path(os.path.abspath(home / rel)), rel in DIRECTORY_ENTRIES) for rel in HOME_PROTECTED]
    no_write.append((Path(os.path.abspath(ketch_home)), True))
    from ketch.security.host_programs import protected_code_folders

    no_write += [(p, p.is_dir()) for p in protected_code_folders(project_roots) if p.exists()]
    no_read = [Path(os.path.abspath(home / rel)) for rel in HOME_SECRETS]
    no_read.append(Path(os.path.abspath(ketch_home)))
    return SandboxEntries(no_write=tuple(dict.fromkeys(no_write)), no_read=tuple(dict.fromkeys(no_read)),
                          roots=tuple(project_roots), home=home)


def _project_protected(root: Path) -> tuple[str, ...]:
    """PROJECT_PROTECTED, or GIT_DIR_PROTECTED when the root is a git folder itself."""
    if os.path.isfile(root / "HEAD") and os.path.isdir(root / "objects") and os.path.isdir(root / "refs"):
        return GIT_DIR_PROTECTED
    return PROJECT_PROTECTED


def _covering(path: Path, roots: tuple[Path, ...]) -> Path | None:
    parts = path.parts
    for root in roots:
        rparts = root.parts
        if parts[: len(rparts)] == rparts:
            return root
    return None


def _canonical(path: Path) -> Path:
    return Path(os.path.realpath(path))


def protected_set(project_roots: list[Path], home: Path, ketch_home: Path) -> ProtectedSet:
    """Build the set for a session. Symlinked entries are protected at both ends."""
    no_write: list[Path] = []
    for root in project_roots:
        for rel in _project_protected(root):
            no_write.append(root / rel)
    no_write += [home / rel for rel in HOME_PROTECTED]
    no_write.append(ketch_home)
    from ketch.security.host_programs import protected_code_folders

    no_write += protected_code_folders(project_roots)
    no_read = [home / rel for rel in HOME_SECRETS]
    no_read.append(ketch_home)
    return ProtectedSet(no_write=_both(no_write), no_read=_both(no_read),
                        roots=tuple(_canonical(r) for r in project_roots), home=home)


class LazyProtectedSet:
    """`protected_set(...)` built at the first check, not at start: canonicalising ~120 paths
    and finding the code folders costs ~10 ms that a run without file access never needs."""

    def __init__(self, project_roots: list[Path], home: Path, ketch_home: Path) -> None:
        self._args = (list(project_roots), home, ketch_home)
        self._built: ProtectedSet | None = None

    def get(self) -> ProtectedSet:
        if self._built is None:
            self._built = protected_set(*self._args)
        return self._built

    def blocks_write(self, path: Path) -> Path | None:
        return self.get().blocks_write(path)

    def blocks_read(self, path: Path) -> Path | None:
        return self.get().blocks_read(path)


def _both(paths: list[Path]) -> tuple[Path, ...]:
    """Both the literal and the canonical form: a protected path may itself be a symlink."""
    out: dict[Path, None] = {}
    for p in paths:
        out[Path(os.path.abspath(p))] = None
        out[_canonical(p)] = None
    return tuple(out)
