"""What a sandboxed command may touch and how much it may use (DESIGN.md §5.1, §5.8).

Plain data, built once per session by the wiring from settings and the command line;
security.sandbox turns it into bubblewrap mounts and kernel limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1 << 30

# The user's package caches under $HOME (pip, npm, uv, cargo): read-only in the sandbox
# unless `writable_caches` (a poisoned entry would be used later by installs outside it).
DEFAULT_CACHES = (".cache/pip", ".npm", ".cache/uv", ".cargo/registry")


@dataclass(frozen=True)
class SandboxLimits:
    """Hard ceilings for one sandboxed command and everything it starts.

    A tool's own timeout and output cap apply when lower. `processes` counts tasks
    (threads too) in the command's tree; `memory_bytes` bounds each process's data
    (heap and private writable mappings: RLIMIT_DATA, which unlike RLIMIT_AS leaves the
    large read-only reservations of JIT runtimes such as node alone); `tree_memory_bytes`
    bounds the whole tree where a cgroup can be used; `file_size_bytes` bounds any one
    file written; `tmp_bytes` bounds the private /tmp, which lives in memory.
    """

    wall_s: float = 600.0
    output_chars: int = 64_000_000
    processes: int = 1024
    memory_bytes: int = 2 * GIB
    tree_memory_bytes: int = 8 * GIB
    file_size_bytes: int = 1 * GIB
    tmp_bytes: int = 2 * GIB


@dataclass(frozen=True)
class SandboxPolicy:
    """The view a sandboxed command gets of the machine.

    Everything is readable except credential stores (protected.HOME_SECRETS and
    `ketch_home`); only `workspace` and `extra_writable` are writable, minus the protected
    paths inside them. Package managers write to a private cache of the session instead
    of the user's; `writable_caches` (the user's explicit opt-in) makes the user's
    `caches` under `home` writable instead. No unix socket can be created inside (so no
    host socket can be connected to) unless `allow_unix_sockets` (the user's explicit
    opt-in). `home` and `ketch_home` default to the real ones; tests point them at
    temporary folders.
    """

    workspace: Path
    extra_writable: tuple[Path, ...] = ()
    ketch_home: Path | None = None
    home: Path | None = None
    network: bool = False
    allowed_hosts: tuple[str, ...] = ()
    caches: tuple[str, ...] = DEFAULT_CACHES
    writable_caches: bool = False
    allow_unix_sockets: bool = False
    limits: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        home = Path(os.path.abspath(self.home if self.home is not None else os.path.expanduser("~")))
        ketch_home = self.ketch_home
        if ketch_home is None:
            ketch_home = Path(os.environ.get("KETCH_HOME") or home / ".ketch")
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "ketch_home", Path(os.path.abspath(ketch_home)))
        object.__setattr__(self, "workspace", Path(os.path.abspath(self.workspace)))
        object.__setattr__(self, "extra_writable", tuple(Path(os.path.abspath(p)) for p in self.extra_writable))
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
        from ketch.security.sandbox.proxy import parse_allowed

        parse_allowed(self.allowed_hosts)  # a bad entry is a settings error, caught here

    @property
    def writable_roots(self) -> tuple[Path, ...]:
        """The project roots: each gets the project protections (.git/hooks, .ketch, ...)."""
        return tuple(dict.fromkeys((self.workspace, *self.extra_writable)))
