"""The model cache, `$KETCH_HOME/models/<name>.gguf`, and the sha256 check before any use.

Hashing a 1 GB file takes seconds, so a verified file gets a stamp beside it (`.verified`:
sha256, size, mtime); a file whose stamp still matches is not hashed again. A file that
changed, or has no stamp, is hashed before it is used, and refused if it does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ketch.errors import KetchError
from ketch.localmodels.registry import LocalModel, find_model, local_models

CHUNK = 1 << 20


class ModelFileError(KetchError):
    """A local model that cannot be used; `str()` is one line saying what to do."""


def models_dir() -> Path:
    from ketch.config.settings import ketch_home

    return ketch_home() / "models"


def model_path(model: LocalModel) -> Path:
    return models_dir() / f"{model.name}.gguf"


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        stamp: dict[str, object] = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (stamp.get("sha256") == sha256 and stamp.get("size") == st.st_size
            and stamp.get("mtime_ns") == st.st_mtime_ns)


def is_installed(model: LocalModel, *, rehash: bool = True) -> bool:
    """The cached file exists and is the registry's bytes (hashing it only when the stamp is stale)."""
    path = model_path(model)
    try:
        if path.stat().st_size != model.size:
            return False
    except OSError:
        return False
    if _stamp_matches(path, model.sha256):
        return True
    if not rehash or sha256_file(path) != model.sha256:
        return False
    write_stamp(path, model.sha256)
    return True


def remove(model: LocalModel) -> bool:
    """Delete the cached file and its stamp; True if there was a file."""
    path = model_path(model)
    _stamp_path(path).unlink(missing_ok=True)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def first_installed() -> LocalModel | None:
    """The best installed model (registry order), judged by stamps only: this runs at start-up."""
    for model in local_models().values():
        if is_installed(model, rehash=False):
            return model
    return None


def resolve(spec: str) -> tuple[Path, LocalModel | None]:
    """The GGUF file for `local:` + spec: a registry name (verified) or a path to a .gguf file."""
    model = find_model(spec)
    if model is not None:
        path = model_path(model)
        if not path.exists():
            raise ModelFileError(f"local model {model.name} is not installed: run `ketch models install {model.name}`")
        if not is_installed(model):
            raise ModelFileError(f"{path} does not match the sha256 of {model.name}: run `ketch models rm "
                                 f"{model.name}` and `ketch models install {model.name}`")
        return path, model
    path = Path(os.path.expanduser(spec))
    if path.suffix.lower() == ".gguf" or os.sep in spec:
        if not path.is_file():
            raise ModelFileError(f"no GGUF file at {path}")
        return path.resolve(), None
    known = ", ".join(local_models())
    raise ModelFileError(f"unknown local model {spec!r}: use one of {known}, or local:/path/to/file.gguf")
