"""A scripted model server on 127.0.0.1 speaking the real wire formats.

It answers `POST /v1/messages` in Anthropic's SSE dialect and `POST .../chat/completions`
in OpenAI's, replaying a list of scripted replies in order and recording every request.
End-to-end tests point the real `ketch` command at it; `bench/` uses it as the "instant
local fake server". Runnable on its own: `python tests/fakes/fakeserver.py script.json`.

A reply is a dict:
  {"text": "..."}                                   a plain answer
  {"text": "...", "tool_calls": [{"name", "input"}]} tool calls (optional "id", or
                                                     "raw_arguments" for malformed JSON)
  {"thinking": "...", "text": "..."}                 reasoning first (Anthropic only)
  {"status": 529, "headers": {...}, "message": ".."} an HTTP error in the dialect's shape
  {"cut": true, "text": "..."}                       the stream stops before its end
  {"stall_after": N, ...}                            send the first N stream events, set
                                                     `server.stalled`, then hang until
                                                     `server.release` is set (stop() sets it):
                                                     a model caught mid-stream, for crash tests
  {"usage": {"input_tokens": .., "output_tokens": .., "cache_read_input_tokens": ..}}
  {"text_calls": [{"name", "input"}], "style": "qwen"} tool calls written as text in the answer, the
                                                     way a local server with the model's own chat
                                                     template returns them ("qwen", "fenced", "bare")
A reply may also be a callable taking the request body and returning such a dict.

OpenAI dialect, like a local server: a request without `stream` gets one whole `chat.completion`
JSON object; with `refuse_streamed_tools=True` a request with `stream: true` and tools gets the
error llama-cpp-python's `chatml-function-calling` answers (HTTP 500, "Automatic streaming tool
choice is not supported") and uses no reply of the script.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations only, never imported at run time

Reply = "dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = 0.0  # time.perf_counter() when the request body was read
    answered_at: float = 0.0  # when the last byte of the reply was written


@dataclass
class FakeModelServer:
    script: list[Any]
    requests: list[Recorded] = field(default_factory=list)
    repeat_last: bool = False
    refuse_streamed_tools: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self.stalled = threading.Event()  # a {"stall_after": N} reply is hanging mid-stream
        self.release = threading.Event()  # lets hanging replies finish

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                server._handle(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() (shutdown) waits up to one interval, once per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- replies ------------------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.script:
                reply = self.script.pop(0) if (len(self.script) > 1 or not self.repeat_last) else self.script[0]
            else:
                reply = {"status": 500, "message": "fake server: script exhausted"}
        return reply(body) if callable(reply) else reply

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        record = Recorded(handler.path, headers, body, received_at=time.perf_counter())
        with self._lock:
            self.requests.append(record)
        dialect = "anthropic" if handler.path.rstrip("/").endswith("/v1/messages") else "openai"
        if not handler.path.rstrip("/").endswith(("/v1/messages", "/chat/completions")):
            self._send_json(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        if dialect == "openai" and self.refuse_streamed_tools and body.get("stream") and body.get("tools"):
            self._send_json(handler, 500, LLAMA_CPP_STREAMED_TOOLS_ERROR)
            return
        reply = with_text_calls(self._next_reply(body))
        if "status" in reply:
            self._send_error(handler, dialect, reply)
            return
        n = next(self._ids)
        if dialect == "openai" and not body.get("stream"):
            self._send_json(handler, 200, openai_completion(reply, body, n))
            record.answered_at = time.perf_counter()
            return
        events = anthropic_events(reply, body, n) if dialect == "anthropic" else openai_chunks(reply, body, n)
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.end_headers()
        try:
            for k, chunk in enumerate(events):
                if k == reply.get("stall_after"):
                    handler.wfile.flush()
                    self.stalled.set()
                    self.release.wait()
                handler.wfile.write(chunk.encode())
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        record.answered_at = time.perf_counter()
        handler.close_connection = True

    def _send_error(self, handler: BaseHTTPRequestHandler, dialect: str, reply: dict[str, Any]) -> None:
        status = int(reply["status"])
        message = reply.get("message", "error")
        if dialect == "anthropic":
            kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
            payload = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            code = {401: "invalid_api_key", 404: "model_not_found"}.get(status)
            payload = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        self._send_json(handler, status, payload, reply.get("headers", {}))

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.send_header("connection", "close")
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)
        handler.close_connection = True


# What llama-cpp-python's server answers (llama_cpp/server/errors.py wraps the handler's ValueError).
LLAMA_CPP_STREAMED_TOOLS_ERROR = {"error": {"message": "Automatic streaming tool choice is not supported",
                                            "type": "internal_server_error", "param": None, "code": None}}


def with_text_calls(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply whose `text_calls` are written into its text as a local model writes them."""
    if not reply.get("text_calls"):
        return reply
    style = reply.get("style", "qwen")
    written = []
    for call in reply["text_calls"]:
        obj = json.dumps({"name": call["name"], "arguments": call.get("input", {})})
        written.append({"qwen": f"<tool_call>\n{obj}\n</tool_call>", "fenced": f"```json\n{obj}\n```"}.get(style, obj))
    text = "\n".join([reply["text"], *written] if reply.get("text") else written)
    return {**{k: v for k, v in reply.items() if k not in ("text_calls", "style")}, "text": text}


def openai_completion(reply: dict[str, Any], body: dict[str, Any], n: int) -> dict[str, Any]:
    """The whole `chat.completion` a server answers to a request without `stream`."""
    calls = [{"id": call.get("id", f"call_fake{n}_{k}"), "type": "function", "function": {
        "name": call["name"],
        "arguments": call["raw_arguments"] if "raw_arguments" in call else json.dumps(call.get("input", {}))}}
        for k, call in enumerate(reply.get("tool_calls", []))]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("text") or None}
    if calls:
        message["tool_calls"] = calls
    usage = reply.get("usage", {})
    prompt_tokens = usage.get("input_tokens", _input_tokens(body))
    return {"id": f"chatcmpl-fake{n}", "object": "chat.completion", "created": 1700000000,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": usage.get("output_tokens", 10),
                      "total_tokens": prompt_tokens + usage.get("output_tokens", 10)}}


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _sse(event: str | None, data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _input_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body)) // 4)


def anthropic_events(reply: dict[str, Any], body: dict[str, Any], n: int) -> list[str]:
    usage = reply.get("usage", {})
    out = [_sse("message_start", {"type": "message_start", "message": {
        "id": f"msg_fake{n}", "type": "message", "role": "assistant", "model": body.get("model", "fake"),
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage.get("input_tokens", _input_tokens(body)), "output_tokens": 1,
                  "cache_creation_input_tokens": usage.get("cache_creation_input_tokens", 0),
                  "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0)}}})]
    out.append(_sse("ping", {"type": "ping"}))
    index = 0
    if reply.get("thinking"):
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
        for piece in _pieces(reply["thinking"]):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "thinking_delta", "thinking": piece}}))
        out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                "delta": {"type": "signature_delta", "signature": f"sig{n}"}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if reply.get("text"):
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}))
        for piece in _pieces(reply["text"]):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": piece}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if reply.get("cut"):
        return out
    calls = reply.get("tool_calls", [])
    for k, call in enumerate(calls):
        call_id = call.get("id", f"toolu_fake{n}_{k}")
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call_id, "name": call["name"], "input": {}}}))
        args = call["raw_arguments"] if "raw_arguments" in call else json.dumps(call.get("input", {}))
        for piece in _pieces(args, 11):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "input_json_delta", "partial_json": piece}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    stop = "tool_use" if calls else "end_turn"
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": usage.get("output_tokens", 10)}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


def openai_chunks(reply: dict[str, Any], body: dict[str, Any], n: int) -> list[str]:
    base = {"id": f"chatcmpl-fake{n}", "object": "chat.completion.chunk", "created": 1700000000,
            "model": body.get("model", "fake")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    out = [chunk({"role": "assistant", "content": ""})]
    for piece in _pieces(reply.get("text", "")) if reply.get("text") else []:
        out.append(chunk({"content": piece}))
    if reply.get("cut"):
        return out
    calls = reply.get("tool_calls", [])
    for k, call in enumerate(calls):
        args = call["raw_arguments"] if "raw_arguments" in call else json.dumps(call.get("input", {}))
        out.append(chunk({"tool_calls": [{"index": k, "id": call.get("id", f"call_fake{n}_{k}"), "type": "function",
                                          "function": {"name": call["name"], "arguments": ""}}]}))
        for piece in _pieces(args, 11):
            out.append(chunk({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    out.append(chunk({}, "tool_calls" if calls else "stop"))
    usage = reply.get("usage", {})
    cached = usage.get("cache_read_input_tokens", 0)
    prompt_tokens = usage.get("input_tokens", _input_tokens(body)) + cached
    completion = usage.get("output_tokens", 10)
    out.append(_sse(None, {**base, "choices": [], "usage": {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": cached}}}))
    out.append("data: [DONE]\n\n")
    return out


def main() -> None:
    """Serve a script from a JSON file until interrupted; prints the base URL."""
    script = [{"text": "ok"}]
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            script = json.load(f)
    server = FakeModelServer(script, repeat_last=True).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
