"""How to add the `local` extra to *this* ketch: the command depends on where ketch came from.

`pip install 'ketch[local]'` fetches ketch from the package index, which is wrong for
someone running a source checkout (they would get a second, different ketch) or a copy
installed from a folder, a wheel file or git. So: a checkout (this package sits in
`<root>/src/ketch` beside a pyproject.toml) gets `pip install -e '<root>[local]'`; an
install whose metadata records where it came from (PEP 610 `direct_url.json`) gets that
source back; anything else gets the index. Only called on the error path: nothing here
runs at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import ketch

EXTRA = "local"


# llama.cpp built for any x86-64 CPU with AVX2: without these pip builds for the compiling
# machine's every CPU feature, and such builds crash elsewhere (providers/local/check.py).
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF"


def install_command(extra: str = EXTRA) -> str:
    """The pip command that adds `extra` to the ketch that is running."""
    checkout = _checkout_root()
    if checkout is not None:
        return f"pip install -e '{checkout}[{extra}]'"
    source = _recorded_source()
    if source is not None:
        url, is_dir, editable = source
        if is_dir and url.startswith("file://"):
            folder = url[len("file://"):]
            return f"pip install {'-e ' if editable else ''}'{folder}[{extra}]'"
        return f"pip install 'ketch[{extra}] @ {url}'"
    return f"pip install 'ketch[{extra}]'"


def missing_llama_hint() -> str:
    return ("the local provider needs llama-cpp-python, which comes with the local extra (a portable build): "
            f'CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" {install_command()}')


def _checkout_root() -> Path | None:
    package = Path(ketch.__file__).resolve().parent
    root = package.parent.parent
    if package.parent.name != "src" or not (root / "pyproject.toml").is_file():
        return None
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "ketch"' in text else None


def _recorded_source() -> tuple[str, bool, bool] | None:
    """(url, is a folder, editable) from the installed distribution's direct_url.json."""
    from importlib import metadata

    try:
        text = metadata.distribution("ketch").read_text("direct_url.json")
        data = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    url = data["url"]
    if isinstance(data.get("vcs_info"), dict) and data["vcs_info"].get("vcs"):
        url = f"{data['vcs_info']['vcs']}+{url}"
    dir_info = data.get("dir_info")
    return url, isinstance(dir_info, dict), bool(isinstance(dir_info, dict) and dir_info.get("editable"))
