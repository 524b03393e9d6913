"""Does the installed llama.cpp build run on this machine? Asked once per build and model, in a child.

Why: llama-cpp-python compiles llama.cpp when it is installed, and without CMAKE_ARGS the
build targets every feature the compiling CPU reports (GGML_NATIVE). On the 2-core VM such a
build made `ketch -p` die with SIGSEGV, exit 139 and nothing on stderr, in 4 runs of 4 (rebuilt
later on the same kind of machine: SIGILL at the first completion); the same code built with
portable flags ran 8 of 8. A crash inside llama.cpp cannot be reported
by the process it kills, so before the first real use of a (build, model) pair a child loads
the model and runs a short completion: a prompt long enough for the batched kernels, then a
few tokens. A child killed by a signal becomes one error that names the signal and how to
reinstall portably. The verdict is stamped (`$KETCH_HOME/cache/llama-check/`), so later runs
pay nothing; `ketch models install` runs the check right after the download, so the README's
`ketch -p` does not.

A crash the check did not foresee still kills the run, but never silently: see crash.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

from ketch.errors import KetchError
from ketch.localmodels.install_hint import PORTABLE_CMAKE_ARGS

CHECK_TIMEOUT = 600.0  # seconds: a 1.5B model on a busy 2-core machine loads and decodes in well under this
_PROMPT = ("You are a careful assistant. Read the question and answer it in one short sentence. "
           "Question: which of these is a prime number: four, six, seven, nine, ten or twelve? "
           "Think about each number in turn, then give only the answer. Answer:")


class BuildCheckError(KetchError):
    """The build crashed or failed on this machine; `str()` says what happened and what to do."""


class HelperArgs(TypedDict):
    """subprocess.Popen/run keyword arguments for a helper child."""

    args: list[str]
    cwd: str
    env: dict[str, str]


def helper_process(module: str) -> HelperArgs:
    """Popen arguments for a ketch module run as a helper child: `python -m MODULE` started in
    the folder ketch itself is imported from, so the module path resolves to this ketch and never
    to a `ketch/` in the user's project (`-m` puts the working folder first on sys.path); and an
    environment without credentials (DESIGN.md §5.7)."""
    import ketch
    from ketch.security.sandbox.env import child_env

    return {"args": [sys.executable, "-m", module], "cwd": str(Path(ketch.__file__).resolve().parent.parent),
            "env": child_env()}


def reinstall_hint() -> str:
    return (f'reinstall it with portable flags: CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" {sys.executable} -m pip install '
            "--force-reinstall --no-cache-dir --no-deps llama-cpp-python")


def _library_files() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return []
    lib = Path(spec.origin).parent / "lib"
    return sorted(p for p in lib.glob("*") if p.is_file() and not p.is_symlink())


def _stamp(model_path: Path) -> Path:
    from ketch.config.settings import ketch_home

    parts = [str(model_path.resolve())]
    for path in [model_path, *_library_files()]:
        st = path.stat()
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return ketch_home() / "cache" / "llama-check" / key


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def is_checked(model_path: Path) -> bool:
    """This build already ran this model here (or the check is switched off)."""
    return os.environ.get("KETCH_LOCAL_BUILD_CHECK", "1") == "0" or _stamp(model_path).is_file()


def check_build(model_path: Path, *, force: bool = False) -> bool:
    """Raise BuildCheckError if llama.cpp cannot run `model_path` here; True if a check ran
    (False: the stamp says this build and model already passed)."""
    if not force and is_checked(model_path):
        return False
    stamp = _stamp(model_path)
    helper = helper_process("ketch.providers.local.check")
    helper["args"].append(str(model_path.resolve()))
    try:
        proc = subprocess.run(**helper, capture_output=True, text=True, timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BuildCheckError(f"llama.cpp did not finish a {len(_PROMPT.split())}-word test completion on "
                              f"{model_path.name} in {CHECK_TIMEOUT:.0f} s") from None
    if proc.returncode < 0:
        raise BuildCheckError(
            f"llama.cpp crashed ({signal_name(-proc.returncode)}) running {model_path.name}: the installed "
            "llama-cpp-python was most likely built for CPU features this machine does not run (without CMAKE_ARGS "
            f"pip compiles it with the build machine's native flags); {reinstall_hint()}")
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise BuildCheckError(f"llama.cpp failed a test completion on {model_path.name}: "
                              f"{lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"model": str(model_path), "result": proc.stdout.strip()[-200:]}))
    return True


def _child(model_path: str) -> int:
    """The test completion, in the child: load, decode a batch, generate a few tokens."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_batch=128, verbose=False)
    try:
        out = llm.create_completion(prompt=_PROMPT, max_tokens=4, temperature=0.0)
        assert isinstance(out, dict)  # not streamed: one response, not an iterator of chunks
        print(json.dumps({"text": out["choices"][0]["text"]}))
    finally:
        llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
