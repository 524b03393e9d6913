"""The files each scope's servers live in: reading them, and editing them for `ketch mcp`.

    user     $KETCH_HOME/settings.json                   the person's own
    local    $KETCH_HOME/projects/<slug>/settings.json    the person's own, for this folder only
    project  <workspace>/.mcp.json                        the repository's (Claude Code's file)

The person's files are read plainly and a problem in them is a ConfigError: they wrote them.
A project's file is someone else's: it is read only through the prompt-file rule (its real
path inside the project, not a symlink out of it, a regular file, size-capped), and a problem
in it is a notice. An edit keeps every other key, is written atomically, and never replaces a
file that could not be parsed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ketch.errors import ConfigError

FileScope = Literal["local", "user", "project"]
PROJECT_FILE = ".mcp.json"
MAX_OWN_BYTES = 1024 * 1024
MAX_PROJECT_BYTES = 256 * 1024


def scope_path(scope: FileScope, workspace: Path) -> Path:
    from ketch.config.project_store import remembered_path
    from ketch.config.settings import user_settings_path

    if scope == "user":
        return user_settings_path()
    if scope == "local":
        return remembered_path(workspace)
    return Path(os.path.realpath(workspace)) / PROJECT_FILE


def parse_object(text: str, path: Path | str) -> dict[str, Any]:
    """The file's JSON object; ValueError (one line: where, what to fix) when it is not one."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a JSON object")  # noqa: TRY004 - bad data, not a bad call
    return data


def read_own(path: Path) -> dict[str, Any] | None:
    """One of the person's files (settings, --mcp-config FILE); None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_OWN_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_OWN_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_OWN_BYTES // 1024} KB; is it the right file?")
    try:
        return parse_object(data.decode("utf-8-sig"), path)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: save it as UTF-8 JSON") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def read_local(workspace: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The folder's remembered settings and a notice when they belong to another folder."""
    path = scope_path("local", workspace)
    data = read_own(path)
    owner = str(Path(os.path.realpath(workspace)))
    if data is not None and data.get("project") != owner:
        return None, f"{path} belongs to {data.get('project')!r}, not {owner}: its MCP servers are not used here"
    return data, None


def read_project(workspace: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The project's .mcp.json, or None and a notice saying why it was not read (None, None: no file)."""
    from ketch.security.prompt_files import Refused, read_prompt_file

    path = Path(workspace) / PROJECT_FILE
    text = read_prompt_file(path, Path(workspace), max_bytes=MAX_PROJECT_BYTES)
    if text is None:
        return None, None
    if isinstance(text, Refused):
        return None, f"{path} not read: {text.reason}"
    try:
        return parse_object(text, path), None
    except ValueError as exc:
        return None, str(exc)


def project_file_exists(workspace: Path) -> bool:
    return os.path.lexists(Path(workspace) / PROJECT_FILE)


def servers_of(data: dict[str, Any] | None) -> dict[str, Any]:
    """The `mcpServers` object of a file's data ({} when absent); ValueError when it is not an object."""
    servers = (data or {}).get("mcpServers")
    if servers is None:
        return {}
    if not isinstance(servers, dict):
        raise ValueError('"mcpServers" must be an object mapping server names to entries')  # noqa: TRY004
    return servers


# --- editing, for `ketch mcp add/remove` ----------------------------------------------------


def edit_servers(scope: FileScope, workspace: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Apply `change` to the scope file's `mcpServers` object and write the file back; return it.

    ConfigError (nothing written) when the file cannot be read or parsed, belongs to another
    folder, or is a project file that leads out of the project.
    """
    path = scope_path(scope, workspace)
    if scope == "project":
        data, problem = read_project(workspace)
        if problem:
            raise ConfigError(f"{problem}; fix or remove it first (it was left as it is)")
        target = Path(os.path.realpath(path))  # a symlink inside the project: write what it points to
    else:
        data = _read_for_edit(path)
        target = Path(os.path.realpath(path))
        if scope == "local":
            owner = str(Path(os.path.realpath(workspace)))
            data = data if data is not None else {"project": owner}
            if data.get("project") != owner:
                raise ConfigError(f"{path} belongs to {data.get('project')!r}, not {owner}; "
                                  "fix its \"project\" or remove the file (it was left as it is)")
    data = data if data is not None else {}
    try:
        servers = servers_of(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc} (it was left as it is)") from None
    data["mcpServers"] = servers
    change(servers)
    _write(target, data, private=scope != "project", folders=2 if scope == "local" else 1)
    return path


def _read_for_edit(path: Path) -> dict[str, Any] | None:
    try:
        return read_own(path)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; fix it first (it was left as it is)") from None


def _write(path: Path, data: dict[str, Any], *, private: bool, folders: int) -> None:
    from ketch.atomic_write import write_atomic

    if private:  # $KETCH_HOME, projects/ and projects/<slug>/: the person's only
        for folder in reversed(path.parents[:folders]):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = 0o600 if private else 0o644
    try:
        mode = os.stat(path).st_mode & 0o777  # keep the mode the person gave an existing file
    except FileNotFoundError:
        pass
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), mode=mode)
