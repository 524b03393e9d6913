"""What read-only package caches cost an install: `python bench/caches.py` (no network).

A small sdist (in-tree build backend, so pip builds a wheel and caches it) is installed with
`pip install --no-index --force-reinstall` into a venv in the workspace, in the sandbox:

- user cache, writable (`sandbox.writableCaches: true`), already holding the built wheel;
- private cache, cold: the first install of a session (a fresh sandbox each time) builds it;
- private cache, warm: later installs in the same session find it in the private cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
BACKEND = '''
import base64, hashlib, os, zipfile
DIST = "tinysrc-0.1.dist-info"
META = "Metadata-Version: 2.1\\nName: tinysrc\\nVersion: 0.1\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, DIST))
    open(os.path.join(directory, DIST, "METADATA"), "w").write(META)
    return DIST
def build_wheel(directory, config_settings=None, metadata_directory=None):
    files = {"tinysrc/__init__.py": b"VALUE = 7\\n", DIST + "/METADATA": META.encode(),
             DIST + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    rec = [n + ",sha256=" + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode() + ","
           + str(len(d)) for n, d in files.items()] + [DIST + "/RECORD,,"]
    files[DIST + "/RECORD"] = ("\\n".join(rec) + "\\n").encode()
    name = "tinysrc-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return name
'''


def main() -> None:
    from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy

    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        ws, home = Path(scratch, "ws"), Path(scratch, "home")
        src = Path(scratch, "src", "tinysrc-0.1")
        (src / "tinysrc").mkdir(parents=True)
        (src / "tinysrc/__init__.py").write_text("VALUE = 7\n")
        (src / "backend.py").write_text(BACKEND)
        (src / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: tinysrc\nVersion: 0.1\n")
        (src / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
        ws.mkdir()
        (home / ".cache/pip").mkdir(parents=True)
        with tarfile.open(ws / "tinysrc-0.1.tar.gz", "w:gz") as tar:
            tar.add(src, arcname="tinysrc-0.1")
        subprocess.run([sys.executable, "-m", "venv", str(ws / ".venv")], check=True)
        install = [".venv/bin/pip", "install", "-q", "--no-index", "--no-deps", "--force-reinstall", "tinysrc-0.1.tar.gz"]
        env = dict(os.environ, PIP_CACHE_DIR=str(home / ".cache/pip"))
        subprocess.run(install, cwd=ws, env=env, check=True)  # the user's own earlier install warms the cache

        def timed(sb: Sandbox) -> float:
            t0 = time.perf_counter()
            result = sb(install, cwd=ws, timeout_s=120)
            assert result.exit_code == 0, result.output
            return time.perf_counter() - t0

        rows: dict[str, list[float]] = {"user cache, writable, warm": [], "private cache, cold (first in session)": [],
                                        "private cache, warm (later in session)": []}
        writable = Sandbox(SandboxPolicy(workspace=ws, home=home, writable_caches=True))
        session = Sandbox(SandboxPolicy(workspace=ws, home=home))
        timed(session)
        for _ in range(RUNS):
            rows["user cache, writable, warm"].append(timed(writable))
            fresh = Sandbox(SandboxPolicy(workspace=ws, home=home))
            rows["private cache, cold (first in session)"].append(timed(fresh))
            fresh.close()
            rows["private cache, warm (later in session)"].append(timed(session))
        writable.close()
        session.close()
    print(f"runs: {RUNS}; python {sys.version.split()[0]}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    print("| `pip install` of a small sdist into the workspace venv | median |\n|---|---|")
    for label, samples in rows.items():
        print(f"| {label} | {statistics.median(samples) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
