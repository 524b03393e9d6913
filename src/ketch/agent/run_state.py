"""One run of the loop: how it ends (Stop), what it counts (RunState), what checks it (RunChecks)."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ketch.agent import events as ev
    from ketch.agent.loop import Agent
    from ketch.conversation import ToolDef, ToolResultBlock, ToolUseBlock


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


class RunChecks(Protocol):
    """What a run's checks do at fixed points of the loop (agent/verify/closed_loop.py: the
    small-model profile's test runs). Each yields the events of what it did; the messages it adds
    keep the history well formed (a call, then its results)."""

    def begin(self, agent: Agent, prompt: str, /) -> Iterator[Any]:
        """Before the first request of a run."""
        ...

    def after_tools(self, agent: Agent, calls: list[ToolUseBlock], results: list[ToolResultBlock], /) -> Iterator[Any]:
        """After a turn's tool results are in the history."""
        ...

    def at_stop(self, agent: Agent, answer: str, run: RunState, /) -> Generator[Any, None, str | None]:
        """The model answered without calls: the run's result, or None to ask the model again."""
        ...
