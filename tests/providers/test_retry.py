"""Retry policy: what is resent, how long ketch waits, and when it gives up.

No real sleeping: the codecs take an injected `sleep`, and `retry_base_s=0` or
`retry-after: 0` make waits zero.
"""

from __future__ import annotations

import socket
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from ketch.conversation import Message, ModelRequest, TextBlock
from ketch.providers.anthropic import AnthropicProvider
from ketch.providers.base import Completed, ProviderConfig, ProviderError, Retrying, TextChunk, UsageReport
from ketch.providers.openai_chat import OpenAIChatProvider
from ketch.providers.retry import RetryableError, parse_retry_after, retry_delay, with_retries

ANTHROPIC_OK = (
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m",'
    '"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"done"}}\n\n'
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
OPENAI_OK = (
    'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"done"},"finish_reason":null}]}\n\n'
    'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    'data: {"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
    "data: [DONE]\n\n"
)
DIALECTS = {
    "anthropic": (AnthropicProvider, "http://model.test", ANTHROPIC_OK),
    "openai": (OpenAIChatProvider, "http://model.test/v1", OPENAI_OK),
}
REQUEST = ModelRequest(model="m", system="s", messages=[Message("user", [TextBlock("hi")])])


def sse(text: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"type": "error", "error": {"type": "api_error", "message": f"status {status}"}}
    return httpx.Response(status, headers=headers or {}, json=body)


def cut_after(text: str, exc: Exception) -> httpx.Response:
    """A 200 stream that delivers `text` and then dies with a transport error."""

    def body():  # type: ignore[no-untyped-def]
        yield text.encode()
        raise exc

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


class Script:
    def __init__(self, steps: list[Any]) -> None:
        self.steps = list(steps)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def run(dialect: str, steps: list[Any], *, max_retries: int = 3, base_s: float = 0.0,
        sleeps: list[float] | None = None) -> tuple[list[Any], Script]:
    cls, url, _ = DIALECTS[dialect]
    script = Script(steps)
    config = ProviderConfig(api_key="sk-test-key", base_url=url, max_retries=max_retries,
                            retry_base_s=base_s, retry_max_s=4.0)
    recorded = sleeps if sleeps is not None else []
    provider = cls(config, transport=httpx.MockTransport(script), sleep=recorded.append)
    try:
        return [e for e in provider.stream(REQUEST) if not isinstance(e, UsageReport)], script
    finally:
        provider.close()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_resent(dialect: str, status: int) -> None:
    ok = sse(DIALECTS[dialect][2])
    events, script = run(dialect, [error(status, {"retry-after": "0"}), ok])
    assert script.calls == 2
    assert isinstance(events[0], Retrying) and events[0].attempt == 1 and events[0].delay_s == 0
    assert str(status) in events[0].reason
    assert isinstance(events[-1], Completed) and events[-1].message.text() == "done"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_never_resent(dialect: str, status: int) -> None:
    with pytest.raises(ProviderError) as info:
        run(dialect, [error(status), sse(DIALECTS[dialect][2])])
    assert info.value.status == status


@pytest.mark.parametrize("dialect", DIALECTS)
def test_client_error_makes_exactly_one_request(dialect: str) -> None:
    script = Script([error(400)])
    cls, url, _ = DIALECTS[dialect]
    provider = cls(ProviderConfig(api_key="k", base_url=url), transport=httpx.MockTransport(script), sleep=lambda s: None)
    with pytest.raises(ProviderError):
        list(provider.stream(REQUEST))
    assert script.calls == 1


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("exc", [
    httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("peer closed connection"), httpx.ReadError("connection reset by peer"),
    httpx.ConnectTimeout("connect timed out"),
], ids=lambda e: type(e).__name__)
def test_transport_faults_are_resent(dialect: str, exc: Exception) -> None:
    events, script = run(dialect, [exc, sse(DIALECTS[dialect][2])])
    assert script.calls == 2 and isinstance(events[0], Retrying) and isinstance(events[-1], Completed)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_programming_errors_propagate_untouched(dialect: str) -> None:
    with pytest.raises(ZeroDivisionError):
        run(dialect, [ZeroDivisionError("bug"), sse(DIALECTS[dialect][2])])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_invalid_base_url_is_a_config_error_not_retried(dialect: str) -> None:
    with pytest.raises(ProviderError) as info:
        run(dialect, [httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")])
    assert info.value.kind == "config"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_stream_cut_mid_way_is_resent_and_partial_text_voided(dialect: str) -> None:
    full = DIALECTS[dialect][2]
    partial = full[: full.index("done") + 40]
    events, _ = run(dialect, [sse(partial), sse(full)])
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["TextChunk", "Retrying", "TextChunk", "Completed"]
    assert "cut" in events[1].reason and events[-1].message.text() == "done"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_connection_reset_mid_stream_is_resent(dialect: str) -> None:
    full = DIALECTS[dialect][2]
    partial = full[: full.index("done") + 40]
    events, script = run(dialect, [cut_after(partial, httpx.ReadError("Connection reset by peer")), sse(full)])
    assert script.calls == 2 and [type(e).__name__ for e in events][-3:] == ["Retrying", "TextChunk", "Completed"]


def test_openai_stream_without_done_but_with_finish_reason_is_complete() -> None:
    text = OPENAI_OK.replace("data: [DONE]\n\n", "")
    events, script = run("openai", [sse(text)])
    assert script.calls == 1 and events[-1].usage.output_tokens == 2


def test_openai_cut_after_finish_reason_keeps_the_answer() -> None:
    head = OPENAI_OK.split('data: {"id":"c1","model":"m","choices":[],')[0]
    events, script = run("openai", [cut_after(head, httpx.RemoteProtocolError("peer closed"))])
    assert script.calls == 1 and events[-1].message.text() == "done" and events[-1].stop_reason == "end_turn"


def test_anthropic_overloaded_error_event_is_resent() -> None:
    overloaded = ANTHROPIC_OK.split("event: content_block_delta")[0] + (
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    events, script = run("anthropic", [sse(overloaded), sse(ANTHROPIC_OK)])
    assert script.calls == 2 and "overloaded" in events[0].reason.lower()


def test_anthropic_other_error_event_fails_at_once() -> None:
    bad = 'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad thing"}}\n\n'
    with pytest.raises(ProviderError) as info:
        run("anthropic", [sse(bad), sse(ANTHROPIC_OK)])
    assert "bad thing" in str(info.value)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gives_up_after_max_retries(dialect: str) -> None:
    events: list[Any] = []
    with pytest.raises(ProviderError) as info:
        cls, url, _ = DIALECTS[dialect]
        script = Script([error(503)] * 3)
        provider = cls(ProviderConfig(api_key="k", base_url=url, max_retries=2, retry_base_s=0),
                       transport=httpx.MockTransport(script), sleep=lambda s: None)
        for event in provider.stream(REQUEST):
            events.append(event)  # noqa: PERF402 - the stream raises mid-way: keep the events before it
    assert script.calls == 3 and [e.attempt for e in events] == [1, 2]
    assert info.value.kind == "server" and info.value.status == 503
    assert "gave up after 2 retries" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_connection_refused_names_the_url(dialect: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    cls, _, _ = DIALECTS[dialect]
    base = f"http://127.0.0.1:{port}"
    provider = cls(ProviderConfig(api_key="sk-secret-value", base_url=base, max_retries=1, retry_base_s=0),
                   sleep=lambda s: None)
    with pytest.raises(ProviderError) as info:
        list(provider.stream(REQUEST))
    message = str(info.value)
    assert message.startswith(f"cannot reach {base}: ") and info.value.kind == "transport"
    assert "sk-secret-value" not in message and "gave up after 1 retry" in message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_retry_after_header_sets_the_wait(dialect: str) -> None:
    sleeps: list[float] = []
    ok = sse(DIALECTS[dialect][2])
    events, _ = run(dialect, [error(429, {"retry-after": "2"}), error(529, {"retry-after-ms": "1500"}),
                              error(503, {"retry-after": "600"}), ok], base_s=0.25, sleeps=sleeps)
    assert sleeps == [2.0, 1.5, 4.0]  # the last is capped at retry_max_s
    assert [e.delay_s for e in events if isinstance(e, Retrying)] == sleeps


@pytest.mark.parametrize("dialect", DIALECTS)
def test_backoff_doubles_with_jitter_and_is_capped(dialect: str) -> None:
    sleeps: list[float] = []
    run(dialect, [error(500)] * 4 + [sse(DIALECTS[dialect][2])], max_retries=4, base_s=1.0, sleeps=sleeps)
    ceilings = [1.0, 2.0, 4.0, 4.0]
    assert len(sleeps) == 4
    for slept, ceiling in zip(sleeps, ceilings):
        assert ceiling / 2 <= slept <= ceiling


def test_retry_delay_formula() -> None:
    config = ProviderConfig(api_key=None, base_url="x", retry_base_s=0.5, retry_max_s=3.0)
    assert [retry_delay(n, config, None, lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert [retry_delay(n, config, None, lambda: 0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert retry_delay(3, config, 0.0, lambda: 1.0) == 0.0
    assert retry_delay(1, config, 99.0, lambda: 1.0) == 3.0


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "0"}) == 0.0
    assert parse_retry_after({"retry-after": " 7 "}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30)
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0


def test_with_retries_announces_before_sleeping() -> None:
    log: list[str] = []
    attempts = iter([RetryableError("x", kind="server", reason="flaky", retry_after=1.0), None])

    def attempt():  # type: ignore[no-untyped-def]
        failure = next(attempts)
        if failure:
            yield TextChunk("partial")
            raise failure
        yield TextChunk("ok")

    config = ProviderConfig(api_key=None, base_url="x", max_retries=1)
    for event in with_retries(config, attempt, sleep=lambda s: log.append(f"sleep {s}")):
        log.append(type(event).__name__)
    assert log == ["TextChunk", "Retrying", "sleep 1.0", "TextChunk"]


def test_with_retries_zero_retries_keeps_the_plain_message() -> None:
    def attempt():  # type: ignore[no-untyped-def]
        raise RetryableError("server fell over", kind="server", reason="r", status=500)
        yield  # pragma: no cover

    with pytest.raises(ProviderError) as info:
        list(with_retries(ProviderConfig(api_key=None, base_url="x", max_retries=0), attempt))
    assert str(info.value) == "server fell over" and info.value.status == 500
