"""The environment a tool's child process gets (DESIGN.md §5.6).

Credentials never reach a child: variables are filtered by name and by value
(security.secret_env), so a key exported in the user's shell stays in the ketch process.
"""

from __future__ import annotations

import os
from pathlib import Path

from ketch.security.secret_env import is_secret

_ALWAYS_KEEP = {"SSH_AUTH_SOCK"}

# Pointers to the user's desktop session: its message bus (keyring, systemd --user, which
# can start programs outside any sandbox), its runtime folder, its agents and displays.
# The sandbox hides what they point to; dropping them also keeps tools from waiting on it.
_SESSION_POINTERS = (
    "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "GPG_AGENT_INFO", "DISPLAY", "WAYLAND_DISPLAY",
    "XAUTHORITY", "SSH_AGENT_PID", "TMUX", "TMUX_PANE", "STY", "KITTY_LISTEN_ON",
)


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The user's environment, minus anything secret."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k in _ALWAYS_KEEP or not is_secret(k, v)}
    env.pop("SSH_AUTH_SOCK", None)  # an agent socket is a credential too
    env.setdefault("PAGER", "cat")
    env.setdefault("GIT_PAGER", "cat")
    env["KETCH_AGENT"] = "1"
    return env


_PROXY_VARS = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "npm_config_proxy", "npm_config_https_proxy", "CARGO_HTTP_PROXY",
)


# Where package managers keep their download and build caches. Pointed at the session's
# private cache, so installs still cache, and nothing they write is used outside the sandbox.
_CACHE_VARS = {
    "PIP_CACHE_DIR": "pip", "UV_CACHE_DIR": "uv", "npm_config_cache": "npm", "YARN_CACHE_FOLDER": "yarn",
    "npm_config_store_dir": "pnpm-store", "BUN_INSTALL_CACHE_DIR": "bun", "GOCACHE": "go-build",
    "POETRY_CACHE_DIR": "poetry", "PIPENV_CACHE_DIR": "pipenv",
}


def sandbox_env(home: Path, proxy_port: int | None = None, base: dict[str, str] | None = None,
                cache: Path | None = None) -> dict[str, str]:
    """child_env() for a sandboxed command: no session pointers, the private /tmp, HOME.

    With `proxy_port`, every proxy variable common tools read points at the forwarder
    inside the sandbox; the user's own proxy settings (and NO_PROXY exceptions) are
    replaced, since the sandbox has no other way out. With `cache`, the package managers'
    cache variables point into it (replacing the user's own, which stay read-only).
    """
    env = child_env(base)
    for name in (*_SESSION_POINTERS, *_PROXY_VARS, "NO_PROXY", "no_proxy"):
        env.pop(name, None)
    env["TMPDIR"] = "/tmp"
    env["HOME"] = str(home)
    # Relative PATH entries ("." or empty) would run a program the model planted in the workspace
    # under the name of one the gate trusts (`ls`, `git`).
    env["PATH"] = ":".join(p for p in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":") if p.startswith("/"))
    if cache is not None:
        env.update({name: str(cache / sub) for name, sub in _CACHE_VARS.items()})
    if proxy_port is not None:
        url = f"http://127.0.0.1:{proxy_port}"
        env.update({name: url for name in _PROXY_VARS})
    return env
