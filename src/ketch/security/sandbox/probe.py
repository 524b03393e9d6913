"""Is bubblewrap here and able to build a sandbox? Asked once per process, lazily.

A missing or broken sandbox is never worked around (DESIGN.md §5.1): the answer is
either the bwrap features to use, or SandboxUnavailable with the precise reason and the
fix. The probe runs the real namespace flags on `true`, so a kernel or container that
forbids them is caught before the model's first command, not in the middle of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ketch.errors import SandboxUnavailable

OPT_OUT = "or run ketch with --sandbox off to run commands unsandboxed (not recommended)"
INSTALL = (
    "install it (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`; "
    "Arch: `pacman -S bubblewrap`)"
)
_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Bwrap:
    """A bubblewrap that works here, and which of the optional flags it knows."""

    path: str
    version: tuple[int, ...]

    @property
    def disable_userns(self) -> bool:  # --disable-userns: bubblewrap 0.8.0
        return self.version >= (0, 8, 0)

    @property
    def tmpfs_size(self) -> bool:  # --size for --tmpfs: bubblewrap 0.6.0
        return self.version >= (0, 6, 0)


# Builds the trial's argv from a Bwrap: the sandbox's own static flags.
TrialArgv = Callable[[Bwrap], "list[str]"]

_lock = threading.Lock()
_cache: dict[str, Bwrap | SandboxUnavailable] = {}


def locate(requested: str | None) -> str:
    """Absolute path of the bwrap to use, or SandboxUnavailable saying how to install it."""
    name = requested or "bwrap"
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return os.path.abspath(name)
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: no executable at {name}; {INSTALL}, {OPT_OUT}.")
    from ketch.security.host_programs import find

    found = find(name)  # never a copy inside a folder the model can write (it runs on the host)
    if found is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: `{name}` is not on PATH outside the "
                                 f"project; {INSTALL}, {OPT_OUT}.")
    return found


def probe(requested: str | None, trial_argv: TrialArgv) -> Bwrap:
    """The usable bwrap, probed on first use and remembered (failures too) for the process."""
    key = requested or "bwrap"
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            try:
                cached = _probe(requested, trial_argv)
            except SandboxUnavailable as exc:
                cached = exc
            _cache[key] = cached
    if isinstance(cached, SandboxUnavailable):
        raise SandboxUnavailable(str(cached))
    return cached


def _probe(requested: str | None, trial_argv: TrialArgv) -> Bwrap:
    path = locate(requested)
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap at {path} cannot be run ({exc}); reinstall it, {OPT_OUT}.") from None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if out.returncode != 0 or match is None:
        raise SandboxUnavailable(
            f"{path} does not look like bubblewrap (`--version` said {(out.stdout + out.stderr).strip()[:200]!r}); "
            f"{INSTALL}, {OPT_OUT}."
        )
    bwrap = Bwrap(path=path, version=tuple(int(g or 0) for g in match.groups()))
    argv = trial_argv(bwrap) + ["--", "true"]
    try:
        trial = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                               stdin=subprocess.DEVNULL, cwd="/", check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap could not start a sandbox ({exc}); {OPT_OUT}.") from None
    if trial.returncode != 0:
        raise SandboxUnavailable(explain((trial.stderr or trial.stdout).strip(), bwrap))
    return bwrap


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def explain(stderr: str, bwrap: Bwrap) -> str:
    """bwrap's own error, plus what causes it on real systems and the command that fixes it."""
    said = stderr.splitlines()[-1] if stderr else "no error message"
    head = f"bubblewrap cannot create the sandbox here ({said})"
    version = ".".join(map(str, bwrap.version))
    if "Unknown option" in stderr or "Unknown action" in stderr:
        return f"{head}: bubblewrap {version} is too old; install 0.6 or newer, {OPT_OUT}."
    if _sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1" and os.geteuid() != 0:
        return (
            f"{head}: AppArmor forbids unprivileged user namespaces "
            "(sysctl kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later). Fix: "
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (persist it in /etc/sysctl.d/), "
            f"or give /usr/bin/bwrap an AppArmor profile that allows `userns`, {OPT_OUT}."
        )
    if _sysctl("user.max_user_namespaces") == "0":
        return (
            f"{head}: user namespaces are disabled (sysctl user.max_user_namespaces=0). Fix: "
            f"`sudo sysctl -w user.max_user_namespaces=15000`, {OPT_OUT}."
        )
    if _sysctl("kernel.unprivileged_userns_clone") == "0" and os.geteuid() != 0:
        return (
            f"{head}: unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0). "
            f"Fix: `sudo sysctl -w kernel.unprivileged_userns_clone=1`, {OPT_OUT}."
        )
    if "Operation not permitted" in stderr or "No permissions" in stderr:
        return (
            f"{head}: this system forbids creating namespaces, usually because ketch runs in a container "
            "whose seccomp profile or missing capabilities block unshare(2). Fix: run the container with "
            "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined` (Docker/Podman), "
            f"{OPT_OUT} if the container itself is your sandbox."
        )
    return f"{head}; {OPT_OUT}."


def forget() -> None:
    """Drop the remembered answers (tests that swap bwrap binaries)."""
    with _lock:
        _cache.clear()
