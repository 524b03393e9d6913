"""Moving a protected path a command created out of the user's tree, into ketch's own folder.

The sandbox makes no placeholders for protected paths that do not exist (they showed in
the user's tree, and an empty `.git/commondir` broke every git outside). Instead the
first missing component on the way to each one is a *suspect*: watched while the command
runs (security.sandbox.tripwire stops the command the moment one appears) and checked
when it ends. Whatever stands there then — a file, a folder with content, a symlink, a
hard link to a workspace file, a fifo — was made during the call and is moved here,
whole and unfollowed, under `$KETCH_HOME/quarantine/`, where nothing runs it and no
sandboxed command can see it. It is never deleted: it may, rarely, be the user's own.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


def quarantine(path: Path, folder: Path, why: str = "was created by the command") -> str | None:
    """Move `path` (if it exists) into a fresh folder under `folder`; the note says where.

    The path's folder must still be the real folder it was (the sandbox pins it); if it is
    not, nothing is followed and the note says so. Across file systems the path is first
    renamed in place to an inert name (instantly harmless: no program looks for it), then
    copied out, links kept as links, and removed.
    """
    if not os.path.lexists(path):
        return None
    parent = path.parent
    if os.path.realpath(parent) != str(parent):
        return f"[ketch sandbox: {path} {why}, but its folder changed; it was left in place: remove it]"
    inert = parent / f"{path.name}.ketch-quarantined-{os.urandom(4).hex()}"
    try:
        os.rename(path, inert)
    except OSError as exc:
        return f"[ketch sandbox: {path} {why} and is protected, but it could not be moved ({exc.strerror}): remove it]"
    dest = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{os.urandom(3).hex()}" / path.relative_to("/")
    try:
        dest.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        try:
            os.rename(inert, dest)
        except PermissionError:
            # A folder moved to another parent needs write permission on itself (its `..`
            # changes): a command may have made it read-only. It is ours to move; give it that.
            if not os.path.islink(inert):
                os.chmod(inert, 0o700)
            os.rename(inert, dest)
        except OSError:
            shutil.move(str(inert), str(dest))  # another file system: copy (links as links), then remove
    except OSError as exc:
        return (f"[ketch sandbox: {path} {why} and is protected; it was renamed to {inert} "
                f"(not moved to {folder}: {exc.strerror or exc})]")
    return f"[ketch sandbox: {path} {why} and is protected; it was moved to {dest}]"
