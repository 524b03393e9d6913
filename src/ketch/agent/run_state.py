"""One run of the loop: how it ends (Stop) and what it counts (RunState)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketch.agent import events as ev
    from ketch.conversation import ToolDef


class Stop(Exception):
    """How a run ends: the RunFinished subtype and result, and the events that precede it.

    Raised anywhere below `Agent.run` and caught there; it never leaves the loop.
    """

    def __init__(self, subtype: ev.Subtype, result: str, *events: ev.Event) -> None:
        super().__init__(subtype, result)
        self.subtype, self.result, self.events = subtype, result, events


class RunState:
    """One run's counters: turns, wall time and time spent waiting on the model.

    (A plain class: a dataclass costs most of a millisecond to create at import, on every run.)
    """

    __slots__ = ("api_s", "overflow_retried", "started", "stop_continues", "tools", "turns")

    def __init__(self, tools: list[ToolDef]) -> None:
        self.tools = tools  # the definitions sent with every request of this run
        self.started = time.monotonic()
        self.api_s = 0.0
        self.turns = 0
        self.overflow_retried = False  # compacted once because the provider said the context is too long
        self.stop_continues = 0  # times a Stop hook made the model go on
