"""What a map's `sources` paths say about the place they were built, and whose code they are.

Even without `sourcesContent` a map names every original file: absolute build paths, monorepo
package names and `webpack://` namespaces all describe the publisher's internal layout.
"""

from __future__ import annotations

import re

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_NAMESPACE = re.compile(r"^webpack://([^/]+)/")
_MONOREPO = re.compile(r"(?:^|/)(?:packages|apps|libs|services|modules|internal)/[^/]+/")


def third_party(path: str) -> bool:
    """Code the publisher did not write: dependencies and the bundler's own runtime."""
    return "node_modules/" in path or path.startswith(("webpack/", "webpack:///webpack/", "(webpack)"))


def discloses_layout(path: str) -> bool:
    """A path that tells an outsider something about the machine or repository it came from."""
    bare = path.removeprefix("file://")
    if bare.startswith(("/", "\\\\")) or _DRIVE.match(bare):
        return True
    namespace = _NAMESPACE.match(path)
    if namespace and namespace.group(1) not in (".", "_N_E"):
        return True
    if third_party(path):
        return False
    return bool(_MONOREPO.search(path)) or path.startswith("../../")
