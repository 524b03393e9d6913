"""ScriptedProvider: an in-process model that replays a script, for loop-level tests.

Each entry of the script is one reply: a `Message` (sent as one `Completed`, with a stop reason
that follows its tool calls), an exception (raised instead of a reply), or a list of provider
events sent as they are. The requests it received are kept, to check what the loop sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ketch.conversation import Message, ModelRequest, Usage
from ketch.providers.base import Completed


class ScriptedProvider:
    name = "scripted"

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.requests: list[ModelRequest] = []

    def stream(self, request: ModelRequest) -> Iterator[Any]:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Message):
            yield Completed(reply, Usage(1, 1), "tool_use" if reply.tool_uses() else "end_turn", "m", "id")
            return
        yield from reply

    def close(self) -> None:
        pass
