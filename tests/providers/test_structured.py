"""A small model's JSON reply from a server, read back as the embedded model's is (providers/structured.py)."""

from __future__ import annotations

import json
from collections.abc import Generator

from ketch.conversation import Message, ModelRequest, TextBlock, ToolDef, ToolUseBlock, Usage
from ketch.providers.base import Completed, StreamEvent, TextChunk, UsageReport
from ketch.providers.local.reply import LOOP_TAIL
from ketch.providers.structured import structured_body, structured_events

READ = ToolDef("Read", "Reads a file.", {"type": "object", "properties": {"file_path": {"type": "string"}},
                                          "required": ["file_path"]})


def attempt(pieces: list[str], stop: str = "end_turn", closed: list[bool] | None = None) -> Generator[StreamEvent, None, None]:
    """An attempt's events as openai_chat's decoder yields them: the raw text, usage, the message."""
    try:
        for piece in pieces:
            yield TextChunk(piece)
        yield UsageReport(Usage(input_tokens=7, output_tokens=3))
        yield Completed(Message("assistant", [TextBlock("".join(pieces))]), Usage(input_tokens=7, output_tokens=3),
                        stop, model="m", message_id="id1")
    finally:
        if closed is not None:
            closed.append(True)


def test_an_answer_streams_as_it_decodes_and_completes_as_text() -> None:
    events = list(structured_events(attempt(['{"ans', 'wer": "it is ', '\\"done\\"\\n', '"}'])))
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == 'it is "done"\n'
    done = events[-1]
    assert isinstance(done, Completed) and done.stop_reason == "end_turn" and done.model == "m"
    assert done.message.content == [TextBlock('it is "done"\n')] and done.usage.input_tokens == 7
    assert any(isinstance(e, UsageReport) for e in events)


def test_a_call_becomes_a_tool_use_and_shows_no_text() -> None:
    raw = json.dumps({"name": "Read", "arguments": {"file_path": "a.py"}})
    events = list(structured_events(attempt([raw[:10], raw[10:]])))
    assert not any(isinstance(e, TextChunk) for e in events)
    done = events[-1]
    assert isinstance(done, Completed) and done.stop_reason == "tool_use"
    [call] = done.message.content
    assert isinstance(call, ToolUseBlock) and call.name == "Read" and call.input == {"file_path": "a.py"}


def test_a_call_cut_by_the_token_limit_runs_nothing_and_says_why() -> None:
    done = list(structured_events(attempt(['{"name": "Write", "arguments": {"file_path": "a.py", "content": "x'],
                                          stop="max_tokens")))[-1]
    assert isinstance(done, Completed) and done.stop_reason == "max_tokens"
    [call] = done.message.content
    assert isinstance(call, ToolUseBlock) and call.name == "Write" and "token limit" in (call.input_error or "")


def test_an_answer_going_round_in_circles_is_cut_and_the_stream_closed() -> None:
    closed: list[bool] = []
    sentence = "I will fix the code now. " * (LOOP_TAIL // 10)
    events = list(structured_events(attempt(['{"answer": "'] + [sentence] * 10, closed=closed)))
    done = events[-1]
    assert isinstance(done, Completed) and closed == [True]
    assert done.message.content[0].text.count("I will fix the code now.") < 10 * (LOOP_TAIL // 10)


def test_the_body_carries_the_conversation_as_text_and_the_schema_not_tools() -> None:
    request = ModelRequest(model="q", system="SYS", messages=[Message("user", [TextBlock("hi")])], tools=[READ],
                           max_tokens=99, temperature=0.0)
    from ketch.providers.openai_chat import build_body

    body = structured_body(build_body(request, "http://127.0.0.1:8080/v1", stream=False), request)
    assert "tools" not in body and "stream" not in body and body["max_tokens"] == 99 and body["temperature"] == 0.0
    assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].startswith("Tools:\n- Read(") and body["messages"][0]["content"].endswith("\n\nSYS")
    assert body["messages"][1:] == [{"role": "user", "content": "hi"}]
    options = body["response_format"]["schema"]["oneOf"]
    assert [o["properties"]["name"]["const"] for o in options] == ["Read"]  # the first reply looks: no answer yet
