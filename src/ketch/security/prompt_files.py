"""Files whose text becomes prompt text: memory files (AGENTS.md, CLAUDE.md), custom commands.

They are read before the folder is trusted and before any tool call, and their text goes
to the provider, so a cloned repository controls them. What such a file can do is carry a
secret out: `CLAUDE.md -> ~/.ssh/id_rsa`, `AGENTS.md -> /proc/self/environ`,
`docs/AGENTS.md -> ../../.env`. One rule for all of them (DESIGN.md §5.6): a small regular
file whose real path is inside the folder it belongs to (the project, or ketch's home for
the user's own files), that is not a credential store or a credential-named file, opened
without following symlinks after those checks, so the file read is the file checked.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ketch.security.protected import HOME_SECRETS
from ketch.security.safe_open import PathChanged, open_file


@cache
def _credential_name() -> re.Pattern[str]:
    """Names that hold credentials wherever they are (a project's own .env included).

    Compiled at first use: only a prompt file that exists is checked."""
    return re.compile(
        r"^(\.env(\..*)?|\.envrc|.*\.(pem|key|p12|pfx|jks|keystore|kdbx|gpg|asc)|id_(rsa|dsa|ecdsa|ed25519)(_sk)?"
        r"|\.netrc|\.git-credentials|\.npmrc|\.pypirc|credentials(\.json|\.toml)?|\.vault-token|secrets?(\..*)?)$",
        re.IGNORECASE,
    )


@cache
def _secret_stores(home: str) -> tuple[tuple[str, ...], ...]:
    """The credential stores' real paths (as parts), resolved once a run: ~70 realpaths per
    prompt file were most of the cost of reading 20 skills at start-up (bench/skills.py)."""
    return tuple(Path(os.path.realpath(Path(home) / rel)).parts for rel in HOME_SECRETS)


@dataclass(frozen=True)
class Refused:
    reason: str


def is_credential_name(name: str) -> bool:
    return bool(_credential_name().match(name))


def _inside(path: Path, root: Path) -> bool:
    return path.parts[: len(root.parts)] == root.parts


def read_prompt_file(path: Path, root: Path, *, max_bytes: int, home: Path | None = None) -> str | Refused | None:
    """The text of `path` if it may become prompt text; None if there is no such file.

    `root`: the folder the file must really be in (canonical or not). Undecodable bytes are
    replaced: prompt text must be valid UTF-8 whatever the file holds.
    """
    if not os.path.lexists(path):
        return None
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(root))
    if not _inside(real, root):
        return Refused(f"it points outside {root} ({real})")
    if is_credential_name(real.name) or is_credential_name(path.name):
        return Refused(f"{real.name} is a credential file name")
    parts = real.parts
    if any(parts[: len(store)] == store for store in _secret_stores(str(home or Path.home()))):
        return Refused(f"{real} is in a credential store")
    try:
        fd = open_file(real, os.O_RDONLY | os.O_NONBLOCK)
    except PathChanged:
        return Refused(f"{path} changed while it was being read")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Refused(f"cannot read it ({exc.strerror or exc})")
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Refused("not a regular file")
        if info.st_size > max_bytes:
            return Refused(f"larger than {max_bytes // 1024} KB")
        data = fh.read(max_bytes + 1)
    return data[:max_bytes].decode("utf-8", errors="replace")
