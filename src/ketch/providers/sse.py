"""An incremental Server-Sent-Events parser (WHATWG HTML §9.2 event-stream format).

Both API dialects stream over SSE. Parsing it ourselves keeps the codecs free of any
SDK, and taking arbitrary chunks (not pre-split lines) means network boundaries can fall
anywhere: inside a line, between a CR and its LF, or inside a multi-byte UTF-8 character.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class SSEEvent:
    """One dispatched event. `event` is "message" when the stream named no type."""

    data: str
    event: str = "message"
    id: str | None = None
    retry_ms: int | None = None


class SSEParser:
    """Feed chunks as they arrive; get back the events each chunk completed.

    An event is dispatched by a blank line. Per the spec, an event still incomplete when
    the stream ends is discarded rather than dispatched: a stream cut mid-event must look
    cut to the codec (and be retried), not deliver half a JSON object.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry_ms: int | None = None

    def feed(self, chunk: str | bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        return self._consume(text, final=False)

    def close(self) -> list[SSEEvent]:
        """End of stream: dispatch what the last bytes complete; drop an unfinished event."""
        events = self._consume(self._decoder.decode(b"", final=True), final=True)
        self._buffer = ""
        self._data = []
        self._event = ""
        return events

    def feed_line(self, line: str) -> SSEEvent | None:
        """Process one line without its terminator; returns an event on a blank line."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry_ms = int(value)
        return None

    def _consume(self, text: str, *, final: bool) -> list[SSEEvent]:
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        buffer = self._buffer + text
        events: list[SSEEvent] = []
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, next_start = lf, lf + 1
            elif cr + 1 < length:
                end = cr
                next_start = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            elif final:
                end, next_start = cr, cr + 1
            else:
                break  # a CR at the very end: its LF may be in the next chunk
            event = self.feed_line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = next_start
        self._buffer = buffer[start:]
        return events

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry_ms=self._retry_ms,
        )
        self._data = []
        self._event = ""
        return event


def iter_sse(chunks: Iterable[str | bytes]) -> Iterator[SSEEvent]:
    """Events from an iterable of text or byte chunks (lines, or any other split)."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()
