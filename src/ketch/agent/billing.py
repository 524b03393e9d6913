"""What a request that never completed still cost: interrupted, cut and resent attempts are billed.

The provider bills every request that reached it, whether or not its reply arrived whole.
The codecs report usage as the server states it (`UsageReport`: Anthropic's `message_start`
carries the input side at once; OpenAI-style servers say nothing until the end), and this
tally keeps the latest report of the attempt in flight, so when the attempt ends any way
but `Completed` the session's totals still include it.
"""

from __future__ import annotations

from collections.abc import Callable

from ketch.conversation import Usage
from ketch.providers.base import TextChunk, ThinkingChunk, UsageReport


class SpendLedger:
    """What a session has spent so far, its subagents' requests included, as they happen.

    The root agent and every child share one: children run at once, so `--max-budget-usd` is
    checked against this running total, never against what was left when a child started.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.usd = 0.0

    def add(self, usd: float) -> None:
        with self._lock:
            self.usd += usd


CHARS_PER_TOKEN = 4  # a rough floor for output the server had generated when the stream stopped


class AttemptTally:
    """The usage of the current attempt, as far as it is known.

    The caller feeds it every stream item, calls `settle` when an attempt ends without
    `Completed` (resent, cut for good, interrupted) and `reset` when one completes.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.reported = Usage()
        self.streamed_chars = 0
        self.heard = False  # something of this attempt arrived: the request reached the server

    def observe(self, item: object) -> None:
        if isinstance(item, UsageReport):
            self.reported = item.usage
            self.heard = True
        elif isinstance(item, (TextChunk, ThinkingChunk)):
            self.streamed_chars += len(item.text)
            self.heard = True

    def settle(self, estimate_input: Callable[[], int]) -> Usage:
        """The unfinished attempt's usage, then start over.

        What the server reported is kept as is; output is at least what streamed (the server
        generated it, and reports output only at the end); a server that reported nothing
        although it answered gets an estimate of the input from the request's size.
        """
        usage = Usage(**self.reported.as_dict())
        usage.output_tokens = max(usage.output_tokens, -(-self.streamed_chars // CHARS_PER_TOKEN))
        if self.heard and not (usage.input_tokens or usage.cache_read_input_tokens or usage.cache_creation_input_tokens):
            usage.input_tokens = estimate_input()
        self.reset()
        return usage
