"""The `local` provider: a GGUF model run in process by llama-cpp-python, same contract as the others.

- llama_cpp is imported on the first request, never at start-up; a missing install is a
  `config` error naming the extra to install.
- The loaded model is kept for the life of the process (one per file), and every request
  is tokenized whole: llama.cpp keeps the KV cache of the longest shared prefix, so a turn
  only pays for what was added since the previous one (reported as cache_read tokens).
- The prompt is rendered with the model's own chat template (GGUF metadata); a template with
  no system role gets the system prompt inside the first user turn (`template.py`).
- With tools, the reply is decoded under a grammar from `format.reply_grammar`, so a
  tool call is always well-formed JSON naming an offered tool with typed arguments, or a Write
  as the file's path and a ``` block (`file_reply.py`: no escaping inside a JSON string). The first
  reply to a new request may only look (FIRST_REPLY_TOOLS: no answer, no Edit or Write):
  measured on qwen2.5-coder-1.5b, it otherwise answers fix-it requests without looking, or
  edits files it has not seen by guessing their text; made to look first, it read the file
  in 6 of 6 probes. After a read-only call repeated exactly with only reads between (nothing
  could have changed: `repeated_look`), the next reply must be the answer. Measured: once
  qwen-1.5b re-reads a file it goes on until the turn limit (8 reads of one file); told only
  to pick another tool, it edited the file it had been asked a question about. After the same
  call failed twice in a row (`repeated_failure`), that tool is off the next reply.
- Native crashes: the first use of a llama.cpp build with a model is checked in a child
  (`check.py`), and a fault later in this process is reported with what to do (`crash.py`).
- The fixed prefix (system prompt, tools) is restored from a KV state saved on disk by an
  earlier run (`prefix_cache.py`), so a run evaluates only what the user asked.
- Threads: one per physical core for generation, every logical core for prompt processing
  (`thread_counts`); OpenMP waits passively, so a tool run between replies gets the cores.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketch.conversation import Block, Message, ModelRequest, TextBlock, Usage
from ketch.localmodels.profile import DEFAULT_CONTEXT, context_size
from ketch.providers.base import Completed, ProviderConfig, ProviderError, StreamEvent, TextChunk
from ketch.providers.local.format import chat_messages, reply_grammar
from ketch.providers.local.gbnf import schema_to_gbnf
from ketch.providers.local.reply import AnswerStream, loop_cut, parse_reply
from ketch.providers.local.template import supports_system_role

# Output cap per reply: a small model stuck repeating inside a JSON string would otherwise
# write until the context is full (measured: 7,700 tokens, 7 minutes). KETCH_LOCAL_MAX_TOKENS overrides.
DEFAULT_MAX_OUTPUT = 2048


@dataclass
class _Loaded:
    llm: Any  # llama_cpp.Llama
    formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
    system_role: bool  # the chat template renders a system message (Gemma's has none)
    lock: threading.Lock
    prefix_evaluated: int = 0  # tokens the prefix cache evaluated just before this completion


_MODELS: dict[tuple[str, int], _Loaded] = {}
_MODELS_LOCK = threading.Lock()


def thread_counts() -> tuple[int, int]:
    """(generation, prompt processing) threads; KETCH_LOCAL_THREADS overrides generation.

    Generation gets one thread per physical core this process may use (llama.cpp's own choice),
    prompt processing every logical one. Measured on 2 cores (no SMT): 12.2 tokens/s with two
    generation threads against 6.6 with one; a second hardware thread of the same core adds nothing."""
    cores = _usable_cpus()
    raw = os.environ.get("KETCH_LOCAL_THREADS", "")
    gen = int(raw) if raw.isdigit() and int(raw) > 0 else physical_cores(cores)
    return gen, len(cores)


def _usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows: no affinity call
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int], topology: Path = Path("/sys/devices/system/cpu")) -> int:
    """How many distinct cores `cpus` run on (Linux's thread_siblings); half of them where that
    cannot be read (the usual two hardware threads a core)."""
    cores = set()
    for cpu in cpus:
        try:
            cores.add((topology / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text().strip())
        except OSError:
            return max(1, len(cpus) // 2)
    return max(1, len(cores))


def max_output() -> int:
    raw = os.environ.get("KETCH_LOCAL_MAX_TOKENS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_OUTPUT


_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
           "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def _unload_all() -> None:
    """Free the models while llama_cpp still exists: left to interpreter teardown, its
    destructor runs after the module is gone and prints a traceback."""
    with _MODELS_LOCK:
        for loaded in _MODELS.values():
            loaded.llm.close()
        _MODELS.clear()


def _load(path: Path, n_ctx: int) -> _Loaded:
    key = (str(path), n_ctx)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        if not _MODELS:
            import atexit

            atexit.register(_unload_all)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when libgomp starts: before the import
        from ketch.providers.local import check as local_check
        from ketch.providers.local import crash as local_crash

        local_crash.arm()  # from here a native crash is reported, never silent
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            from ketch.localmodels.install_hint import missing_llama_hint

            raise ProviderError(missing_llama_hint(), kind="config") from None
        try:
            local_check.check_build(path)  # once per build and model: does this llama.cpp run here?
        except local_check.BuildCheckError as exc:
            raise ProviderError(str(exc), kind="config") from None
        gen, batch = thread_counts()
        try:
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=gen, n_threads_batch=batch,
                                  verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ProviderError(f"cannot load {path}: {str(exc).splitlines()[0] if str(exc) else 'not a GGUF model'}",
                                kind="config") from None
        template = llm.metadata.get("tokenizer.chat_template") or _CHATML

        def token_text(token: int) -> str:
            return llm._model.token_get_text(token) if token >= 0 else ""

        formatter = Jinja2ChatFormatter(template=template, eos_token=token_text(llm.token_eos()),
                                        bos_token=token_text(llm.token_bos()), add_generation_prompt=True)
        loaded = _Loaded(llm, formatter, supports_system_role(formatter), threading.Lock())
        _MODELS[key] = loaded
        return loaded


def _shared_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading tokens of this prompt are already in the KV cache."""
    cached = llm.input_ids[: llm.n_tokens].tolist()
    n = 0
    for a, b in zip(cached, tokens):
        if a != b:
            break
        n += 1
    return min(n, len(tokens) - 1)  # llama.cpp always re-evaluates the last prompt token


class LocalProvider:
    name = "local"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        self.config = config

    def _resolve(self, model: str) -> tuple[Path, str, int]:
        from ketch.localmodels.cache import ModelFileError, resolve

        try:
            path, entry = resolve(model)
        except ModelFileError as exc:
            raise ProviderError(str(exc), kind="not_found") from None
        name = entry.name if entry is not None else path.name
        return path, name, context_size(entry.context_window if entry is not None else DEFAULT_CONTEXT)

    def stream(self, request: ModelRequest) -> Iterator[StreamEvent]:
        path, name, n_ctx = self._resolve(request.model)
        loaded = _load(path, n_ctx)
        structured = bool(request.tools)
        messages = chat_messages(request.system, request.messages, request.tools, structured=structured,
                                 system_role=loaded.system_role, file_blocks=structured and request.file_blocks)
        try:
            rendered = loaded.formatter(messages=messages)
        except Exception as exc:  # noqa: BLE001 - jinja2's errors: the template rejected this conversation's shape
            raise ProviderError(f"the model's chat template failed: {exc}", kind="bad_request") from None
        with loaded.lock:
            self._warm_prefix(loaded, path, n_ctx, rendered, request, structured)
            yield from self._generate(loaded, rendered, request, name, n_ctx, structured)

    @staticmethod
    def _warm_prefix(loaded: _Loaded, path: Path, n_ctx: int, rendered: Any, request: ModelRequest,
                     structured: bool) -> None:
        """The fixed prefix (system prompt, tools) from the on-disk KV cache (prefix_cache.py)."""
        from ketch.providers.local import prefix_cache as local_prefix_cache

        llm, add_bos = loaded.llm, not getattr(rendered, "added_special", False)

        def render_with(text: str) -> list[int]:
            messages = chat_messages(request.system, [Message("user", [TextBlock(text)])], request.tools,
                                     structured=structured, system_role=loaded.system_role, file_blocks=structured and request.file_blocks)
            prompt = loaded.formatter(messages=messages).prompt
            prefix: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
            return prefix

        tokens = llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        try:
            loaded.prefix_evaluated = local_prefix_cache.prepare(llm, path, n_ctx, tokens, render_with)
        except (RuntimeError, ValueError, OSError):
            llm.reset()  # a cache: without it the prompt is evaluated whole, as before

    def _generate(self, loaded: _Loaded, rendered: Any, request: ModelRequest, name: str, n_ctx: int,
                  structured: bool) -> Iterator[StreamEvent]:
        llm = loaded.llm
        tokens = llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not getattr(rendered, "added_special", False),
                              special=True)
        room = n_ctx - len(tokens)
        if room < 16:
            raise ProviderError(f"prompt is too long: {len(tokens)} tokens for a context of {n_ctx}",
                                kind="context_length")
        reused = _shared_prefix(llm, tokens)
        written, loaded.prefix_evaluated = min(loaded.prefix_evaluated, reused), 0  # evaluated for this request
        kwargs: dict[str, Any] = {}
        if structured:
            from llama_cpp.llama_grammar import LlamaGrammar  # where it is defined: `llama_cpp` re-exports it

            kwargs["grammar"] = LlamaGrammar.from_string(reply_grammar(request, schema_to_gbnf), verbose=False)
        temperature = 0.0 if request.temperature is None else request.temperature
        answer = AnswerStream()
        raw, finish, looped, stream = "", None, None, None
        try:
            stream = llm.create_completion(prompt=tokens, max_tokens=min(request.max_tokens, room, max_output()),
                                           temperature=temperature, stream=True, stop=rendered.stop, **kwargs)
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice.get("text") or ""
                finish = choice.get("finish_reason") or finish
                raw += piece
                shown = answer.feed(piece) if structured else piece
                if shown:
                    yield TextChunk(shown)
                    looped = loop_cut(answer.text if structured else raw)
                    if looped is not None:
                        break
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(f"local model failed: {exc}", kind="server") from None
        finally:
            if stream is not None:
                stream.close()  # also when the loop was cut or the consumer stopped reading
        cut_off = finish == "length"
        content: list[Block]
        if looped is not None:
            content, stop_reason = [TextBlock((answer.text if structured else raw)[:looped].rstrip())], "end_turn"
        elif structured:
            content, stop_reason = parse_reply(raw, answer.text, cut_off, file_blocks=request.file_blocks)
        else:
            content, stop_reason = [TextBlock(raw)], "max_tokens" if cut_off else "end_turn"
        out_tokens = len(llm.tokenize(raw.encode("utf-8"), add_bos=False, special=True)) if raw else 0
        usage = Usage(input_tokens=len(tokens) - reused, output_tokens=out_tokens, cache_read_input_tokens=reused - written,
                      cache_creation_input_tokens=written)
        yield Completed(Message("assistant", content), usage, stop_reason, model=name,
                        message_id=f"local_{uuid.uuid4().hex[:24]}")

    def abort(self) -> None:
        """Nothing to cut: the model runs in this process, and the loop checks its cancel flag
        at every piece of text the model yields."""

    def close(self) -> None:
        """The model stays loaded for the process: the next session reuses it and its cache."""
