"""The SSE parser: framing rules from the WHATWG spec, at any chunk boundary."""

from __future__ import annotations

import pytest

from ketch.providers.sse import SSEEvent, SSEParser, iter_sse

STREAM = (
    ": a comment the server sends to keep the connection alive\n"
    "event: message_start\n"
    "data: {\"a\": 1}\n"
    "\n"
    "data: first line\n"
    "data:second line, no space\n"
    "data:  two spaces keep one\n"
    "\n"
    "id: 42\n"
    "retry: 1500\n"
    "event: ping\n"
    "data: caf\u00e9 \u2615\n"
    "\n"
)
EXPECTED = [
    SSEEvent(data='{"a": 1}', event="message_start"),
    SSEEvent(data="first line\nsecond line, no space\n two spaces keep one"),
    SSEEvent(data="caf\u00e9 \u2615", event="ping", id="42", retry_ms=1500),
]


def test_whole_stream() -> None:
    assert list(iter_sse([STREAM])) == EXPECTED


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
def test_any_line_ending_and_any_byte_boundary(newline: str, size: int) -> None:
    data = STREAM.replace("\n", newline).encode("utf-8")
    chunks = [data[i : i + size] for i in range(0, len(data), size)]  # splits UTF-8 and CRLF pairs
    assert list(iter_sse(chunks)) == EXPECTED


def test_lines_as_given_by_a_line_iterator() -> None:
    lines = STREAM.splitlines(keepends=True)
    assert list(iter_sse(lines)) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_break() -> None:
    # A CR at the end of a chunk must wait for the next chunk: if its LF follows, the pair
    # is one terminator, not a line break plus a blank line that would dispatch early.
    events = list(iter_sse([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]))
    assert events == [SSEEvent(data="a\nb")]


def test_a_final_lone_cr_ends_the_line() -> None:
    assert list(iter_sse(["data: x\r\r"])) == [SSEEvent(data="x")]


def test_unfinished_event_at_end_of_stream_is_dropped() -> None:
    # A cut stream must look cut, not deliver half a JSON object.
    assert list(iter_sse(["data: {\"complete\": true}\n\n", "data: {\"half\": "])) == [
        SSEEvent(data='{"complete": true}')
    ]
    assert list(iter_sse(["data: [DONE]\n"])) == []


def test_blank_lines_without_data_dispatch_nothing_and_reset_the_type() -> None:
    events = list(iter_sse(["\n\nevent: lost\n\ndata: x\n\n"]))
    assert events == [SSEEvent(data="x", event="message")]


def test_empty_data_field_is_an_event_with_empty_data() -> None:
    assert list(iter_sse(["data\n\n", "data:\n\n"])) == [SSEEvent(data=""), SSEEvent(data="")]


def test_unknown_fields_and_bad_retry_are_ignored() -> None:
    events = list(iter_sse(["foo: bar\nretry: soon\nid: a\0b\ndata: x\n\n"]))
    assert events == [SSEEvent(data="x", id=None, retry_ms=None)]


def test_id_persists_across_events() -> None:
    events = list(iter_sse(["id: 7\ndata: a\n\ndata: b\n\n"]))
    assert [e.id for e in events] == ["7", "7"]


def test_leading_bom_is_skipped() -> None:
    assert list(iter_sse(["\ufeffdata: x\n\n".encode()])) == [SSEEvent(data="x")]


def test_invalid_utf8_does_not_raise() -> None:
    assert list(iter_sse([b"data: \xff\xfe ok\n\n"])) == [SSEEvent(data="\ufffd\ufffd ok")]


def test_parser_is_incremental() -> None:
    parser = SSEParser()
    assert parser.feed("data: one\n") == []
    assert parser.feed("\ndata: tw") == [SSEEvent(data="one")]
    assert parser.feed("o\n\n") == [SSEEvent(data="two")]
    assert parser.close() == []
