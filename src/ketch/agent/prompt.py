"""Build the system prompt: a short package-data template, the environment, project memory.

Kept lean on purpose (DESIGN.md §6: fixed overhead ≤ 5k tokens): every token here is
paid on every request of every session.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

MEMORY_FILES = ("AGENTS.md", "CLAUDE.md")
MAX_MEMORY_CHARS = 20000
MAX_MEMORY_BYTES = 256 * 1024  # larger is not instructions; also bounds what a bad repo makes us read
MAX_LISTED = 40  # entries of the working folder named in a template that asks for {files}


def find_git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def read_memory(folder: Path, *, root: Path | None = None, notices: list[str] | None = None,
                home: Path | None = None) -> tuple[str, str] | None:
    """The folder's AGENTS.md, else CLAUDE.md: (file name, text with its `@path` imports), trimmed to a budget.

    `root`: where the file must really be (the project, or ketch's home for the user's own
    file); a link elsewhere, a special file or a credential is skipped, with a notice
    (security.prompt_files: this text reaches the provider before any tool call or trust).
    `home`: given only for the person's own memory, which may import `@~/...` files.
    """
    from ketch.security.prompt_files import Refused, read_prompt_file

    for name in MEMORY_FILES:
        path = folder / name
        text = read_prompt_file(path, root or folder, max_bytes=MAX_MEMORY_BYTES)
        if isinstance(text, Refused):
            if notices is not None:
                notices.append(f"{path} as instructions ({text.reason})")
            continue
        if text is None:
            continue
        if "@" in text:
            from ketch.agent.memory_imports import ImportScope, expand_imports

            text = expand_imports(text, path, ImportScope(root or folder, home=home, notices=notices))
        if len(text) > MAX_MEMORY_CHARS:
            text = text[:MAX_MEMORY_CHARS] + f"\n[... {name} cut at {MAX_MEMORY_CHARS} characters ...]"
        return name, text.strip()
    return None


def folder_listing(workspace: Path, limit: int = MAX_LISTED) -> str:
    """The working folder's visible entries, sorted, folders with a trailing slash: `{files}`.

    Why: a small model told only "the working directory is X" invents a path to read
    (measured: qwen2.5-coder-0.5b and smollm2-135m asked to summarise a project both read
    `path/to/file`, the reply format's example); shown the names, it opens README.md. Names
    only, never content, and stat-free (d_type from the directory read) so start-up stays cheap.
    """
    import os

    try:
        with os.scandir(workspace) as it:
            entries = sorted((_printable(e.name) + ("/" if e.is_dir(follow_symlinks=False) else "")
                              for e in it if not e.name.startswith(".")), key=str.lower)
    except OSError:
        return "(cannot be listed)"
    if not entries:
        return "(empty)"
    shown = ", ".join(entries[:limit])
    return shown + (f", ... ({len(entries) - limit} more)" if len(entries) > limit else "")


def _printable(name: str) -> str:
    """A file name as one line: a line break or other control character in a repository's file name
    is shown escaped (`\\n`), so the name cannot add lines of its own to the system prompt, where
    the listing now follows ketch's tools and reply format (red team, session 10)."""
    return name if name.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _platform() -> str:
    """`platform.system() platform.release()` ("Linux 6.1.0-18-amd64"), from os.uname: importing
    `platform` costs ~1.5 ms of start-up, and on Linux and macOS both read uname."""
    uname = os.uname()
    return f"{uname.sysname} {uname.release}".strip()


def build_system_prompt(workspace: Path, *, override: str | None = None, append: str | None = None,
                        today: datetime.date | None = None, user_home: Path | None = None,
                        template: str = "system.md", notices: list[str] | None = None,
                        extra_sections: Sequence[str] = ()) -> str:
    """`user_home`: ketch's own folder, whose AGENTS.md holds the user's instructions for all projects.
    `template`: the prompt file under ketch/prompts (system_small.md for small local models).
    `notices`: collects one line per memory file that was skipped, and why.
    `extra_sections`: text the composition root adds after the memory (the installed skills'
    list); the prompt knows nothing of where it came from."""
    if override is not None:
        base = override
    else:
        text = (resources.files("ketch") / "prompts" / template).read_text(encoding="utf-8")
        git_root = find_git_root(workspace)
        base = text.format(
            cwd=str(workspace),
            platform=_platform(),
            date=(today or datetime.date.today()).isoformat(),
            git=f"yes (root {git_root})" if git_root else "no",
            files=folder_listing(workspace) if "{files}" in text else "",
        ).strip()
        user_memory = read_memory(user_home, notices=notices, home=Path.home()) if user_home is not None else None
        if user_memory:
            name, text = user_memory
            base += f"\n\nThe user's own instructions ({name}, for every project):\n<user-instructions>\n{text}\n</user-instructions>"
        memory = read_memory(workspace, notices=notices)
        if memory:
            name, text = memory
            base += f"\n\nProject instructions from {name} (follow them):\n<project-instructions>\n{text}\n</project-instructions>"
        for section in extra_sections:
            base += "\n\n" + section.strip()
    if append:
        base += "\n\n" + append
    return base


def nested_memory(path: Path, workspace: Path, seen: set[Path]) -> list[tuple[Path, str]]:
    """AGENTS.md (or CLAUDE.md) files in the folders between the workspace and `path`, not yet
    shown: a subproject's instructions reach the model when it starts working there."""
    try:
        rel = path.relative_to(workspace)
    except ValueError:
        return []
    found = []
    folder = workspace
    for part in rel.parts[:-1] if not path.is_dir() else rel.parts:
        folder = folder / part
        if folder in seen:
            continue
        seen.add(folder)
        memory = read_memory(folder, root=workspace)
        if memory:
            found.append((folder / memory[0], memory[1]))
    return found
