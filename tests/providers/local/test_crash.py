"""A native crash in the local model is never silent (issue 15, item 12).

llama.cpp is replaced by a stand-in `llama_cpp` package that dies of a real SIGSEGV (a read of
address 0) where the real one crashed when built with native flags: in the build check's child,
and, with the check's stamp present, in ketch's own process. The real `ketch -p` runs; what the
person sees must say what happened and what to do.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

CRASHING_LLAMA = '''
import ctypes
__version__ = "0.0-test"
llama_token = ctypes.c_int32

class Llama:
    def __init__(self, *args, **kwargs):
        ctypes.string_at(0)  # SIGSEGV, as a build using instructions this CPU lacks
'''
CHAT_FORMAT = "class Jinja2ChatFormatter:\n    def __init__(self, *a, **k):\n        pass\n"


@pytest.fixture
def crashing_llama(tmp_path: Path) -> dict[str, str]:
    pkg = tmp_path / "fake-site" / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(CRASHING_LLAMA)
    (pkg / "llama_chat_format.py").write_text(CHAT_FORMAT)
    (pkg / "lib").mkdir()
    (pkg / "lib" / "libllama.so").write_bytes(b"stand-in")
    path = os.pathsep.join(p for p in (str(pkg.parent), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    return model


def test_a_build_that_crashes_is_named_before_the_run_with_the_fix(run_ketch, crashing_llama, model_file):
    run = run_ketch(["-p", "hi"], model=f"local:{model_file}", env=crashing_llama, timeout=120)
    assert run.returncode not in (0, -signal.SIGSEGV, 128 + signal.SIGSEGV), run.stderr
    assert "llama.cpp crashed (SIGSEGV)" in run.stderr
    assert "CMAKE_ARGS=" in run.stderr and "-DGGML_NATIVE=OFF" in run.stderr and "--force-reinstall" in run.stderr


def test_models_install_checks_the_build_and_fails_with_the_fix(run_ketch, crashing_llama, ketch_home: Path):
    from ketch.localmodels.registry import local_models

    model = local_models()["smollm2-135m"]
    models = ketch_home / "models"
    models.mkdir()
    fake = models / f"{model.name}.gguf"
    fake.write_bytes(b"GGUF")
    os.truncate(fake, model.size)  # the right size; the stamp below says it was verified
    from ketch.localmodels import cache

    st = fake.stat()
    (models / f"{fake.name}.verified").write_text(
        f'{{"sha256": "{model.sha256}", "size": {st.st_size}, "mtime_ns": {st.st_mtime_ns}}}')
    assert cache.sha256_file  # the stamp stands in for hashing 98 MB of zeros
    run = run_ketch(["models", "install", model.name], model=None, env=crashing_llama, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "llama.cpp crashed (SIGSEGV)" in run.stderr and "-DGGML_NATIVE=OFF" in run.stderr


def test_a_crash_inside_the_run_says_what_happened_and_what_to_do(run_ketch, crashing_llama, model_file):
    env = crashing_llama | {"KETCH_LOCAL_BUILD_CHECK": "0"}  # as if the check had passed
    run = run_ketch(["-p", "hi"], model=f"local:{model_file}", env=env, timeout=120)
    assert run.returncode == -signal.SIGSEGV  # the process really died of the fault
    assert "Fatal Python error: Segmentation fault" in run.stderr  # the fault and the Python stack
    assert "ketch: the local model crashed inside llama.cpp (Segmentation fault, SIGSEGV)" in run.stderr
    assert "-DGGML_NATIVE=OFF" in run.stderr and "ketch models install" in run.stderr


def test_a_run_that_ends_normally_prints_no_crash_note(run_ketch, tmp_path: Path, model_file):
    """The watcher stays quiet when ketch exits on its own (here: a model file llama.cpp rejects)."""
    pkg = tmp_path / "quiet-site" / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("llama_token = int\nclass Llama:\n    def __init__(self, *a, **k):\n"
                                     "        raise ValueError('not a model')\n")
    (pkg / "llama_chat_format.py").write_text(CHAT_FORMAT)
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(pkg.parent), os.environ.get("PYTHONPATH", "")) if p),
           "KETCH_LOCAL_BUILD_CHECK": "0"}
    run = run_ketch(["-p", "hi"], model=f"local:{model_file}", env=env, timeout=120)
    assert run.returncode == 1 and "cannot load" in run.stderr
    assert "crashed" not in run.stderr and "Fatal Python error" not in run.stderr
