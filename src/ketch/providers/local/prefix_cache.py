"""The KV state of a local model's fixed prompt prefix, kept on disk between runs.

Every run of a local model starts with the same prefix: the system prompt and the tool list
(a few hundred tokens). Evaluating it is most of the wait before the first token of a short
task on two cores, and it gives the same KV state each time. So the state after the prefix
is saved once (llama.cpp's own session file: magic, version, the tokens, then the state) and
restored by the next run, which then only evaluates the user's prompt.

The key is everything the state depends on: the model file (path, size, mtime), the context
size, the llama-cpp-python version and its library file, and the prefix tokens themselves
(the prefix text holds the working folder, the date and the folder listing, so a change
there is a new entry). A file is written under a temporary name and renamed into place, so
a reader sees a whole file or none; one that does not load, or holds other tokens, is
deleted and the prefix evaluated as before. The folder is in ketch's home, which tools and
sandboxed commands can neither read nor write (security/protected.py), so a model cannot
plant a state file. At most KEEP files are kept (the newest by use).

Where the prefix ends is found without knowing the chat template: the conversation is
rendered twice with two different first user messages, and the tokens both renderings share
are the part that does not depend on what the user asked.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

KEEP = 8  # state files kept; one is ~10-30 MB for a 0.5-1.5B model and a ~500-token prefix
MIN_PREFIX = 32  # tokens: below this, evaluating is as quick as loading a file


def cache_dir() -> Path:
    from ketch.config.settings import ketch_home

    return ketch_home() / "cache" / "kv"


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def fixed_prefix(tokens: Sequence[int], render_with: Callable[[str], list[int]]) -> list[int]:
    """The leading tokens of `tokens` that would be the same whatever the first user message
    said. `render_with(text)`: the same request's tokens with its first user message set to text."""
    shared = common_length(render_with("A"), render_with("B"))
    return list(tokens[: common_length(tokens[:shared], render_with("A"))])


def _library_identity() -> str:
    """The llama.cpp build in use: a rebuild (other flags) may change the state's numbers."""
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    parts = [getattr(llama_cpp, "__version__", "?")]
    for name in ("libllama.so", "libggml-cpu.so", "libllama.dylib", "llama.dll"):
        try:
            st = (lib / name).stat()
        except OSError:
            continue
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


def cache_key(model_path: Path, n_ctx: int, prefix: Sequence[int]) -> str:
    st = model_path.stat()
    digest = hashlib.sha256()
    digest.update(f"{model_path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{n_ctx}\0{_library_identity()}\0".encode())
    digest.update(",".join(map(str, prefix)).encode())
    return digest.hexdigest()[:40]


def restore(llm: Any, path: Path, prefix: Sequence[int]) -> bool:
    """Load the state saved for `prefix` into `llm`; False (and the file removed) if it cannot."""
    import llama_cpp

    if not path.is_file():
        return False
    capacity = len(prefix)
    tokens = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    loaded = llama_cpp.llama_state_load_file(llm._ctx.ctx, str(path).encode(), tokens, capacity, ctypes.byref(count))
    if not loaded or count.value != capacity or list(tokens) != list(prefix):
        llm.reset()  # whatever was half-read is not a state to build on (eval clears from n_tokens on)
        path.unlink(missing_ok=True)
        return False
    llm.input_ids[:capacity] = prefix
    llm.n_tokens = capacity
    llm._requires_eval = True  # the logits are restored, not decoded: llama_cpp re-decodes one token
    os.utime(path)  # most recently used: kept longest
    return True


def save(llm: Any, path: Path, prefix: Sequence[int]) -> None:
    """Write `llm`'s state (exactly `prefix` evaluated) to `path`, atomically; best effort."""
    import llama_cpp

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tokens = (llama_cpp.llama_token * len(prefix))(*prefix)
    try:
        if llama_cpp.llama_state_save_file(llm._ctx.ctx, str(partial).encode(), tokens, len(prefix)):
            os.replace(partial, path)
            _prune(path.parent)
    except OSError:
        pass  # a cache: a full disk or a read-only home costs the next run time, nothing else
    finally:
        partial.unlink(missing_ok=True)


def _prune(folder: Path, keep: int = KEEP) -> None:
    try:
        files = sorted(folder.glob("*.state"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    except OSError:
        return
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def prepare(llm: Any, model_path: Path, n_ctx: int, tokens: Sequence[int],
            render_with: Callable[[str], list[int]]) -> int:
    """Before a completion on a model whose KV cache does not yet hold this prompt's fixed
    prefix: restore that prefix's state from disk, or evaluate it and save it for next time.
    Returns how many tokens were evaluated here (0 when restored or already in memory)."""
    if os.environ.get("KETCH_LOCAL_PREFIX_CACHE", "1") == "0":
        return 0
    prefix = fixed_prefix(tokens, render_with)
    if len(prefix) < MIN_PREFIX or len(prefix) >= len(tokens):
        return 0
    if common_length(llm.input_ids[: llm.n_tokens].tolist(), prefix) == len(prefix):
        return 0  # already in memory (a later turn, or a second session in this process)
    path = cache_dir() / f"{cache_key(model_path, n_ctx, prefix)}.state"
    if restore(llm, path, prefix):
        return 0
    llm.reset()
    llm.eval(prefix)
    save(llm, path, prefix)
    return len(prefix)
