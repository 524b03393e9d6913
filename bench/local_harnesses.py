"""The harnesses bench/local_tasks.py compares, each driving the same GGUF file on the same task.

- ketch-embedded: `ketch -p PROMPT --model local:MODEL --permission-mode acceptEdits` (the model
  in process, the small-model profile).
- ketch-server: the same ketch command with `--model openai:MODEL` and OPENAI_BASE_URL at
  llama-cpp-python's OpenAI-compatible server, which the bench starts on 127.0.0.1 with the same
  GGUF, context size and thread counts as the embedded path (ketch's full profile: an `openai:`
  model is not a small local one to ketch).
- aider: aider through that server (`--model openai/MODEL --openai-api-base ...`), in the
  workspace's git repository, with the task's source files added, its test files read-only
  (`--read`) and its test command as `--test-cmd` with `--auto-test`: aider's own way to close the
  loop, as ketch closes it by itself.

The server is started once, before the first run that needs it, and is not timed; the embedded
path loads the model in each run, and its seconds include that load (~5-20 s on 2 cores).
Measured once (calc add, 2 cores, load ~2): ketch-server's first request alone took 230 s, its
full profile's system prompt and nine tools being evaluated at ~30 tokens/s; hence the 600 s
default of BENCH_TIMEOUT.

Neither the server's extras nor aider go into the interpreter running ketch: aider's pins clash
with ketch's, and the server's (fastapi & co.) would sit in the interpreter whose start-up
bench/run.py measures. Both get a venv under ~/.cache, made on first use:
  ~/.cache/ketch-bench-server  --system-site-packages, `pip install llama-cpp-python[server]==V`
                               (V the installed version: pip keeps that build, adds only the extras)
  ~/.cache/ketch-bench-aider   `pip install aider-chat` (BENCH_AIDER_VENV overrides the folder)
BENCH_CHAT_FORMAT passes --chat_format to the server (default: none, the model's own template).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from local_check import is_test_path, test_command, test_env
from local_task import Task
from run import ketch_argv

from ketch.providers.local.provider import thread_counts

CACHE = Path.home() / ".cache"
SERVER_VENV = CACHE / "ketch-bench-server"
AIDER_VENV = Path(os.environ.get("BENCH_AIDER_VENV") or CACHE / "ketch-bench-aider")
N_CTX = 8192  # the registry's context window for the Qwen coders, which the embedded path uses
API_KEY = "sk-local"  # the server checks none; the clients insist on one


@dataclass
class Outcome:
    seconds: float
    tokens: int | None  # sent + received, where the harness reports them
    turns: int | None
    failure: str  # why the harness itself failed (timeout, crash, no result), or ""


class Harness(Protocol):
    name: str

    def run(self, task: Task, ws: Path) -> Outcome: ...


def timeout_s() -> float:
    return float(os.environ.get("BENCH_TIMEOUT", "600"))


def clean_env() -> dict[str, str]:
    """This environment without provider keys and ketch settings, so each harness gets only what it is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_", "AIDER_"))}
    if os.environ.get("KETCH_HOME"):
        env["KETCH_HOME"] = os.environ["KETCH_HOME"]
    return test_env(env)  # the harnesses' own test runs skip pytest's plugin autoload too


def _timed(argv: list[str], ws: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str] | None]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=ws, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout_s(), check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None
    return time.perf_counter() - t0, proc


# --- ketch --------------------------------------------------------------------------------------

def _ketch_outcome(seconds: float, proc: subprocess.CompletedProcess[str] | None) -> Outcome:
    if proc is None:
        return Outcome(seconds, None, None, f"timed out after {timeout_s():.0f} s")
    result: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "result":
            result = obj
    if not result:
        last = (proc.stderr.strip().splitlines() or [""])[-1][:80]
        return Outcome(seconds, None, None, f"no JSON result (exit {proc.returncode}): {last}")
    usage = result.get("usage") or {}
    tokens = sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_read_input_tokens",
                                                  "cache_creation_input_tokens", "output_tokens"))
    # 0: the server reported no usage (llama-cpp-python's streamed replies carry none): unknown, not free
    return Outcome(seconds, tokens or None, result.get("num_turns"), "")


def _ketch_argv(prompt: str, model: str) -> list[str]:
    argv = ketch_argv() + ["-p", prompt, "--model", model, "--output-format", "json",
                           "--permission-mode", "acceptEdits"]
    if os.environ.get("BENCH_MAX_TURNS"):
        argv += ["--max-turns", os.environ["BENCH_MAX_TURNS"]]
    return argv


@dataclass
class KetchEmbedded:
    model: str
    name: str = "ketch-embedded"

    def run(self, task: Task, ws: Path) -> Outcome:
        return _ketch_outcome(*_timed(_ketch_argv(task.prompt, f"local:{self.model}"), ws, clean_env()))


@dataclass
class KetchServer:
    server: LlamaServer
    name: str = "ketch-server"

    def run(self, task: Task, ws: Path) -> Outcome:
        env = clean_env() | {"OPENAI_BASE_URL": self.server.url(), "OPENAI_API_KEY": API_KEY,
                             "KETCH_CONTEXT_WINDOW": str(N_CTX)}
        return _ketch_outcome(*_timed(_ketch_argv(task.prompt, f"openai:{self.server.alias}"), ws, env))


# --- aider --------------------------------------------------------------------------------------

_AIDER_TOKENS = re.compile(r"Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received")


def _count(number: str, k: str) -> int:
    return round(float(number) * (1000 if k else 1))


@dataclass
class Aider:
    server: LlamaServer
    name: str = "aider"

    def run(self, task: Task, ws: Path) -> Outcome:
        exe = ensure_venv(AIDER_VENV, ["aider-chat"], system_site=False) / "bin" / "aider"
        tests = [rel for rel in task.files if is_test_path(rel)]
        sources = [rel for rel in task.files if not is_test_path(rel)]
        argv = [str(exe), "--model", f"openai/{self.server.alias}", "--openai-api-base", self.server.url(),
                "--openai-api-key", API_KEY, "--yes-always", "--no-check-update", "--no-show-model-warnings",
                "--analytics-disable", "--no-pretty", "--no-fancy-input", "--no-show-release-notes",
                "--no-detect-urls", "--no-suggest-shell-commands", "--timeout", str(int(timeout_s())),
                "--auto-test", "--test-cmd", " ".join(test_command()),
                *(arg for rel in tests for arg in ("--read", rel)), *sources, "--message", task.prompt]
        env = clean_env() | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # no fetch of litellm's price list
        seconds, proc = _timed(argv, ws, env)
        if proc is None:
            return Outcome(seconds, None, None, f"timed out after {timeout_s():.0f} s")
        found = _AIDER_TOKENS.findall(proc.stdout)
        tokens = sum(_count(s, sk) + _count(r, rk) for s, sk, r, rk in found) if found else None
        failure = "" if proc.returncode == 0 else f"aider exit {proc.returncode}: " + \
            ((proc.stderr or proc.stdout).strip().splitlines() or [""])[-1][:80]
        return Outcome(seconds, tokens, len(found) or None, failure)


# --- the server and the venvs -------------------------------------------------------------------

def ensure_venv(folder: Path, packages: list[str], *, system_site: bool) -> Path:
    """folder as a venv with packages installed, made on first use (a stamp marks a finished install)."""
    stamp = folder / ".ketch-bench-ready"
    if stamp.is_file() and stamp.read_text() == " ".join(packages):
        return folder
    print(f"creating {folder} (pip install {' '.join(packages)}): once", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", *(["--system-site-packages"] if system_site else []), str(folder)],
                   check=True)
    subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", *packages], check=True)
    stamp.write_text(" ".join(packages))
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """llama-cpp-python's server for one GGUF file, started on first use and stopped by the bench."""

    gguf: Path
    alias: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    def url(self) -> str:
        if self.proc is None:
            self._start()
        return f"http://127.0.0.1:{self.port}/v1"

    def _start(self) -> None:
        from importlib.metadata import version

        venv = ensure_venv(SERVER_VENV, [f"llama-cpp-python[server]=={version('llama-cpp-python')}"],
                           system_site=True)
        gen, batch = thread_counts()  # as ketch's embedded model, so the harnesses compare
        self.port = _free_port()
        argv = [str(venv / "bin" / "python"), "-m", "llama_cpp.server", "--model", str(self.gguf),
                "--model_alias", self.alias, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(N_CTX), "--n_threads", str(gen), "--n_threads_batch", str(batch),
                "--verbose", "False"]
        if os.environ.get("BENCH_CHAT_FORMAT"):
            argv += ["--chat_format", os.environ["BENCH_CHAT_FORMAT"]]
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=clean_env())
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited {self.proc.returncode}: see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)  # polling a starting server: no event to wait on
        self.stop()
        raise RuntimeError(f"the llama.cpp server did not answer within 300 s: see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
