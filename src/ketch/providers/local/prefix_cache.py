"""The KV state of a local model's fixed prompt prefix, kept on disk between runs.

Every run of a local model starts with the same prefix: the system prompt and the tool list
(a few hundred tokens). Evaluating it is most of the wait before the first token of a short
task on two cores, and it gives the same KV state each time. So the state after the prefix
is saved once (llama.cpp's own session file: magic, version, the tokens, then the state) and
restored by the next run, which then only evaluates the user's prompt.

The key is everything the state depends on: the model file (path, size, mtime), the context
size, the llama-cpp-python version and its library file (the file name's first part), and
the prefix tokens themselves (the second). The prefix holds the working folder, the date and
the folder listing, so another project is another entry; but the prompt puts what every
project shares first (the tools, the reply format), so a new project's run restores the
entry sharing the most leading tokens with its prefix, drops the rest of that state, and
evaluates only its own tail (measured: 424 tokens evaluated, 7.4 s on 2 cores, became the
tail alone). A file is written under a temporary name and renamed into place, so
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

_MAGIC = b"nsgg"  # LLAMA_SESSION_MAGIC ('ggsn') as the file holds it, little-endian
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


def model_identity(model_path: Path, n_ctx: int) -> str:
    """What a saved state is only valid for: this model file, context size and llama.cpp build."""
    st = model_path.stat()
    ident = f"{model_path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{n_ctx}\0{_library_identity()}"
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def cache_key(model_path: Path, n_ctx: int, prefix: Sequence[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, prefix)).encode()).hexdigest()[:24]
    return f"{model_identity(model_path, n_ctx)}-{digest}"


def saved_tokens(path: Path, limit: int = 1 << 16) -> list[int]:
    """The tokens a state file was saved for, from its header (llama.cpp's session file: magic,
    version, the token count, the tokens); [] for a file that is not one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != _MAGIC:
                return []
            count = int.from_bytes(head[8:12], "little")
            if count > limit:
                return []
            body = handle.read(4 * count)
    except OSError:
        return []
    if len(body) != 4 * count:
        return []
    return list(memoryview(body).cast("i"))


def nearest(folder: Path, identity: str, prefix: Sequence[int]) -> tuple[Path | None, int]:
    """(the saved state sharing the most leading tokens with `prefix`, how many)."""
    best: tuple[Path | None, int] = (None, 0)
    for path in folder.glob(f"{identity}-*.state"):
        shared = common_length(saved_tokens(path), prefix)
        if shared > best[1]:
            best = (path, shared)
    return best


def restore(llm: Any, path: Path, prefix: Sequence[int]) -> bool:
    """Load the state saved for exactly `prefix` into `llm`; False (and the file removed) if it cannot."""
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
    in_memory = common_length(llm.input_ids[: llm.n_tokens].tolist(), prefix)
    if in_memory == len(prefix):
        return 0  # already in memory (a later turn, or a second session in this process)
    folder = cache_dir()
    path = folder / f"{cache_key(model_path, n_ctx, prefix)}.state"
    if restore(llm, path, prefix):
        return 0
    # A load tried and refused (restore resets the model) left the KV cache as the file made it, or
    # cleared: what memory held before is gone, though input_ids still say otherwise (red team, session 10).
    in_memory = min(in_memory, llm.n_tokens)
    start = _restore_shared(llm, folder, model_identity(model_path, n_ctx), prefix, in_memory)
    if start < len(prefix):
        llm.eval(prefix[start:])
    save(llm, path, prefix)
    return len(prefix) - start


def _restore_shared(llm: Any, folder: Path, identity: str, prefix: Sequence[int], in_memory: int) -> int:
    """Keep the longest run of `prefix`'s leading tokens already evaluated, in memory or in a saved
    state (at least MIN_PREFIX of them), and drop the rest of that state; how many are kept."""
    path, shared = nearest(folder, identity, prefix)
    keep = in_memory
    if path is not None and shared > in_memory and shared >= MIN_PREFIX:
        keep = shared if restore(llm, path, saved_tokens(path)) else 0  # a bad file is gone, memory reset
    if keep < MIN_PREFIX or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        llm.reset()
        return 0
    llm.n_tokens = keep
    return keep
