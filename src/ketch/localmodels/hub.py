"""Fetching a model file from the Hugging Face hub with `huggingface_hub` (the `local` extra).

The hub is the preferred source (the publisher's own files, under their license), so it is
tried first; but most offline machines cannot reach it, and they must fall through to the
next source at once. `hf_hub_download` alone does not: when the hub is unreachable and the
file is not cached it retries with backoff (about 23 s in huggingface_hub 2.x). So one HEAD
without retries comes first (`get_hf_file_metadata`): a hub that is down, or a file that is
gone, costs one failed request. That HEAD also gives the size and, for LFS files, the
sha256 (the ETag), so a file that cannot match the registry's pin is refused before a
gigabyte is downloaded; the bytes are still hashed after the download, whatever the hub said.
The download is then pinned to the commit that HEAD named. `HF_ENDPOINT` (read by
huggingface_hub at import) points all of this at a mirror.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from pathlib import Path

from ketch.errors import KetchError
from ketch.localmodels.registry import LocalModel, Source

SHA256 = re.compile(r"[0-9a-f]{64}")
METADATA_TIMEOUT = 10.0  # seconds for the HEAD; a hub that answers slower than this is treated as down


class HubError(KetchError):
    """The hub could not provide this file (the next source is tried); `str()` is one line."""


def hub_available() -> bool:
    """The hub is optional: only with huggingface_hub installed and no offline switch set."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0") or os.environ.get("KETCH_OFFLINE"):
        return False
    return importlib.util.find_spec("huggingface_hub") is not None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def download(source: Source, model: LocalModel, folder: Path, progress: Callable[[str], None]) -> Path:
    """Download `source.file` into `folder` (a fresh temporary folder the caller removes);
    the caller still verifies the bytes. Raises HubError."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    url = hf_hub_url(source.repo, source.file)
    try:
        meta = get_hf_file_metadata(url, timeout=METADATA_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - the hub's errors vary by version; all mean "try the next source"
        raise HubError(f"hub unreachable or file missing: {_first_line(exc)}") from None
    if meta.size is not None and meta.size != model.size:
        raise HubError(f"refused: the hub's file is {meta.size:,} bytes, {model.name}'s pin is {model.size:,}; "
                       "nothing was downloaded")
    etag = (meta.etag or "").lower()
    if SHA256.fullmatch(etag) and etag != model.sha256:
        raise HubError(f"refused: the hub's file has sha256 {etag[:16]}..., {model.name}'s pinned sha256 is "
                       f"{model.sha256[:16]}...; nothing was downloaded")
    progress(f"downloading {source.repo}/{source.file} from the Hugging Face hub")
    try:
        path = hf_hub_download(repo_id=source.repo, filename=source.file, revision=meta.commit_hash,
                               local_dir=folder)
    except Exception as exc:  # noqa: BLE001 - as above: whatever the hub raises, the next source is tried
        raise HubError(f"hub download failed: {_first_line(exc)}") from None
    return Path(path)
