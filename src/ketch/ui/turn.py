"""Run one turn of the agent in a worker thread while the main thread renders and listens.

The agent's generator runs in the worker; its events cross a queue to the main thread,
which renders them, answers permission questions (`approve`, the agent's approver, blocks the
worker until the person has answered) and watches the keyboard. Esc or Ctrl-C calls
`agent.interrupt()`, which sets `agent.cancel` and cuts the model's stream, so a stalled model
or a long command stops at once; a second Ctrl-C in the same turn quits ketch. Anything else
typed during a turn is kept (`TypeAhead`): a line ended with Enter is queued and sent after
the turn, the rest is the next draft.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ketch.agent import events as ev
from ketch.agent.dispatch import Approval

TICK_S = 1.0


class QuitRequested(Exception):
    """Ctrl-C twice: leave the REPL (exit status 0)."""


@dataclass
class _Ask:
    request: ev.PermissionRequest
    answered: threading.Event = field(default_factory=threading.Event)
    answer: Approval = field(default_factory=lambda: Approval(False))


@dataclass
class _Call:
    """Something a background thread needs the main thread to do (a question to the person)."""

    fn: Callable[[], Any]
    default: Any
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None


@dataclass
class TypeAhead:
    """What the person typed while the model worked: queued lines and an unfinished draft."""

    draft: str = ""
    queued: list[str] = field(default_factory=list)

    def feed(self, key: str) -> str | None:
        """Take one key; return the line it queued (Enter on a non-empty draft), else None."""
        if key == "enter":
            line, self.draft = self.draft, ""
            if line.strip():
                self.queued.append(line)
                return line
        elif key == "backspace":
            self.draft = self.draft[:-1]
        elif len(key) == 1 and (key >= " " or key == "\t"):
            self.draft += key
        return None

    def hold(self) -> None:
        """After an interruption nothing is sent by itself: queued lines go back into the draft."""
        self.draft = "\n".join(self.queued + ([self.draft] if self.draft else []))
        self.queued = []

    def take_draft(self) -> str:
        draft, self.draft = self.draft, ""
        return draft


class TurnRunner:
    def __init__(self, agent: Any, consumers: list[Callable[[object], None]],
                 ask: Callable[[ev.PermissionRequest], Approval], watcher: Any = None,
                 on_interrupt: Callable[[], None] = lambda: None,
                 on_queued: Callable[[str], None] = lambda line: None,
                 tick: Callable[[float], None] | None = None) -> None:
        self.agent = agent
        self.consumers = consumers
        self.ask = ask
        self.watcher = watcher  # terminal.KeyWatcher when stdin is a terminal, else None
        self.on_interrupt = on_interrupt
        self.on_queued = on_queued
        self.tick = tick  # called about once a second while a turn shows nothing new
        self.typeahead = TypeAhead()
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self.last_ctrl_c = 0.0
        self.running = False  # a turn is being consumed: call_on_main will be served
        self._running_lock = threading.Lock()

    def close(self) -> None:
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- worker side ------------------------------------------------------------------------

    def _put(self, kind: str, payload: Any) -> None:
        self._queue.put((kind, payload))
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def approve(self, request: ev.PermissionRequest) -> Approval:
        """The agent's approver (runs in the worker): the main thread asks the person."""
        if self.agent.cancel.is_set():
            return Approval(False)
        ask = _Ask(request)
        self._put("ask", ask)
        ask.answered.wait()
        return ask.answer

    def call_on_main(self, fn: Callable[[], Any], default: Any) -> Any:
        """Run `fn` on the main thread during this turn and return what it returned (from any thread:
        an MCP server's elicitation); `default` at once when no turn is running or it ends first."""
        call = _Call(fn, default)
        with self._running_lock:
            if not self.running:
                return default
            self._put("call", call)
        call.done.wait()
        return call.result

    def _work(self, events: Iterable[object]) -> None:
        try:
            for event in events:
                self._put("event", event)
        except BaseException as exc:  # noqa: BLE001 - shown to the user, the REPL carries on
            self._put("crash", exc)
        finally:
            self._put("done", None)

    # -- main side --------------------------------------------------------------------------

    def run(self, events: Iterable[object]) -> ev.RunFinished | None:
        """Consume one turn's events to the end; return its RunFinished (None if it crashed)."""
        self.agent.cancel.clear()
        self.running = True
        finished: ev.RunFinished | None = None
        worker = threading.Thread(target=self._work, args=(events,), name="ketch-turn", daemon=True)
        worker.start()
        started = time.monotonic()
        done = False
        try:
            while not done:
                items = self._wait(TICK_S if self.tick is not None else None)
                if not items and self.tick is not None:
                    self.tick(time.monotonic() - started)
                for kind, payload in items:
                    if kind == "event":
                        if isinstance(payload, ev.RunFinished):
                            finished = payload
                        for consume in self.consumers:
                            consume(payload)
                    elif kind == "ask":
                        try:
                            payload.answer = self.ask(payload.request)
                        finally:
                            payload.answered.set()
                    elif kind == "call":
                        self._serve(payload)
                    elif kind == "crash":
                        for consume in self.consumers:
                            consume(ev.Error(f"internal error: {type(payload).__name__}: {payload}", kind="crash"))
                    elif kind == "done":
                        done = True
                    elif kind == "key":
                        self._key(payload)
        finally:
            if not done:  # leaving on a quit: stop the worker before the caller closes things
                self.interrupt()
            with self._running_lock:
                self.running = False
                self._release()
            worker.join(timeout=5)
            self.agent.cancel.clear()
        return finished

    @staticmethod
    def _serve(call: _Call) -> None:
        try:
            call.result = call.fn()
        except Exception:  # noqa: BLE001 - the asking thread gets the default; the turn goes on
            call.result = call.default
        finally:
            call.done.set()

    def _release(self) -> None:
        """A turn that ended with calls still queued (Esc, a quit): their threads get the default."""
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "call":
                payload.result = payload.default
                payload.done.set()
            elif kind == "ask":
                payload.answered.set()  # the default answer: denied

    def _wait(self, timeout: float | None) -> list[tuple[str, Any]]:
        """Block until the worker or the keyboard has something, or `timeout` passes (the ticker).

        Only a turn in progress ever waits with a timeout; the prompt waits on nothing.
        """
        items: list[tuple[str, Any]] = []
        fds = [self._wake_r] + ([self.watcher.fd] if self.watcher is not None else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except KeyboardInterrupt:  # plain mode: Ctrl-C arrives as a signal
            return [("key", "ctrl-c")]
        if self.watcher is not None and self.watcher.fd in ready:
            items += [("key", k) for k in self.watcher.keys()]  # noqa: SIM118 - KeyWatcher.keys() reads keys; not a dict
        if self._wake_r in ready:
            os.read(self._wake_r, 4096)
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _key(self, key: str) -> None:
        if key == "ctrl-c":
            now = time.monotonic()
            if now - self.last_ctrl_c < 2.0:
                self.last_ctrl_c = now
                raise QuitRequested()
            self.last_ctrl_c = now
            self.interrupt()
        elif key == "esc":
            self.interrupt()
        else:
            line = self.typeahead.feed(key)
            if line is not None:
                self.on_queued(line)

    def interrupt(self) -> None:
        """Stop the turn: the loop and tools see the flag, the model's stream is cut now."""
        if not self.agent.interrupt():
            return  # already interrupted
        self.typeahead.hold()
        self.on_interrupt()
