"""The loop closes by itself (small models): ketch runs the tests after edits and when the model stops.

Measured (issue 16): qwen2.5-coder-1.5b made no Bash call in 8 tasks, never saw its edits fail,
and stopped with the tests red. So in the small-model profile ketch runs the project's test
command itself (`detect`): before the first request when the user asks to fix failing tests,
after every model turn in which an Edit or Write succeeded, and when the model stops with the
tests red or untested. A failure goes back to the model with the code it points at
(`localize`), and the loop goes on until the tests pass, the turn budget ends, or the model has
stopped MAX_IDLE_STOPS times in a row without changing anything (or MAX_FEEDBACKS failures
when no --max-turns bounds the run).

The command is an ordinary Bash call, made by ketch: it is recorded as an assistant message
(model "ketch") and its result, so stream-json, the transcript and resume see it, and it goes
through the same dispatch as the model's calls: the permission gate, hooks, undo snapshot, the
sandboxed runner. It is not asked for where nobody can answer: when the gate would ask and the
run is headless (or the gate denies it, or Bash is not offered), ketch says so once and does
not run the tests.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.agent import events as ev
from ketch.agent.approval import RefuseAll
from ketch.agent.run_state import RunState, Stop
from ketch.agent.verify.detect import asks_for_change, asks_to_fix, find_test_command
from ketch.agent.verify.failure import trim
from ketch.agent.verify.localize import WHOLE
from ketch.agent.verify.mismatch import mismatch
from ketch.agent.verify.refusals import STUCK_TEMPERATURE, RefusalCounter
from ketch.conversation import Block, Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage, valid_text
from ketch.ids import uuid4

if TYPE_CHECKING:
    from ketch.agent.loop import Agent

EDIT_TOOLS = ("Edit", "Write", "MultiEdit")
MAX_IDLE_STOPS = 3  # the model stopped this often in a row, tests red, changing nothing: its stop stands
MAX_FEEDBACKS = 8  # failures fed back in one run with no --max-turns
FIX = "Fix the code (not the tests) and stop when they pass."
# The edit format by file size: a small model rewrites a short file it was just shown more reliably
# than it copies an old_string out of it exactly (measured: Edits refused as "not found" in 4 runs).
# The next reply is then made a Write (ModelRequest.tool_choice): measured, qwen2.5-coder-1.5b asked to
# Write a 9-line file whole answered with an Edit of the test's line instead, four times.
WHOLE_FIX = ("Fix the code (not the tests): Write the whole corrected {names}, every line of it, "
             "and stop when the tests pass.")
# Small models are sampled greedily, whoever serves them: the embedded provider's default, but not a
# server's (llama-cpp-python's is 0.8; measured: at it, qwen2.5-coder-1.5b answered a shown failure with
# "I'm unable to assist with that request" where the same prompt, greedy, got a fix).
GREEDY = 0.0
# Once a fix has failed, the next whole-file Write is sampled: greedy, qwen2.5-coder-1.5b wrote the very
# file that had just failed again (refused: "already has exactly this content"), then ran the tests
# itself, until the time ran out (wordcount --verbose and slugify, tune split). The tests judge each try.
RETRY_TEMPERATURE = 0.8
TASK_CHARS = 400  # a request this short is said again next to what to do: small models heed the last lines
_TIMING = re.compile(r" in \d+(\.\d+)?s\b")
_EXIT = re.compile(r"Exit code (-?\d+)")
_CANNOT_RUN = {126: "it could not be executed", 127: "the command was not found"}


class ClosedLoop:
    """The small-model profile's test runs, as the agent loop's `checks` (run_state.RunChecks)."""

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, command: str | None) -> None:
        self.command = command
        self.passing: bool | None = None  # the last run's verdict; None: not run in this run
        self.changed = False  # files were edited since the last run
        self.off = command is None  # no command, or it may not (or cannot) run: nothing more is tried
        self.feedbacks = self.idle_stops = 0
        self.last_failure = self.last_output = ""
        self.change_asked = False  # the request asks for a change (not a question): a stop is checked
        self.refusals = RefusalCounter()
        self.evidence: dict[str, object] | None = None  # the tests at the run's start (the tests rule holds)
        self.failed_fixes = 0  # edits after which the tests still failed, and edits refused while they fail
        self.whole: tuple[str, ...] = ()  # the files the last new failure showed whole: written whole
        self.restart_at: int | None = None  # the history's length after the first failure showing them
        self.first_view: list[Block] = []  # that failure's message, as it was
        self.first_message: Message | None = None  # that message itself (and, after a fresh start, its note)
        self.tried: list[str] = []  # what the failed tries returned, said at a fresh start
        self.task = ""  # the person's request, said again with each failure when short

    def begin(self, agent: Agent, prompt: str) -> Iterator[Any]:
        """A run starts: find the test command, and run it first when the user asks for a change or
        speaks of failing tests: a failure then reaches the model with the code it points at before
        its first turn, which a small model would otherwise spend looking (or editing the test)."""
        self._reset(find_test_command(prompt, agent.config.workspace))
        task = " ".join(prompt.split())
        self.task = task if len(task) <= TASK_CHARS else ""
        agent.state.temperature = GREEDY  # and a nudge from the last run (REPL) does not carry over
        agent.state.tool_choice, agent.state.choice_paths = None, ()
        self.change_asked = asks_for_change(prompt)
        agent.state.file_blocks = self.change_asked or asks_to_fix(prompt)
        if not self.off and agent.state.tests_are_evidence and not agent.state.request_about_tests:
            from ketch.tools.tests_rule import evidence

            self.evidence = evidence(agent.config.workspace)
        if not self.off and (self.change_asked or asks_to_fix(prompt)):
            yield from self._check(agent, "Before any change, the tests fail (output above).", first=True)

    def after_tools(self, agent: Agent, calls: list[ToolUseBlock], results: list[ToolResultBlock]) -> Iterator[Any]:
        """After a model turn: if an edit succeeded, run the tests and tell the model how they went.
        A call refused again and again for the same reason is answered with a nudge, then ends the run."""
        noted = self.refusals.note(calls, results)
        agent.state.temperature = STUCK_TEMPERATURE if self.refusals.stuck else GREEDY
        agent.state.tool_choice, agent.state.choice_paths = None, ()  # asked of one reply only
        if noted != results and agent.messages and agent.messages[-1].role == "user":
            swap = {id(old): new for old, new in zip(results, noted)}
            agent.messages[-1].content = [swap.get(id(b), b) for b in agent.messages[-1].content]
        done = {r.tool_use_id for r in results if not r.is_error}
        if any(c.name in EDIT_TOOLS and c.id in done for c in calls):
            self.changed, self.idle_stops = True, 0
            if not self.off and not self._spent(agent):
                yield from self._check(agent, "The tests still fail (output above).")
        elif self.passing is False and any(c.name in EDIT_TOOLS for c in calls):
            self.failed_fixes += 1  # its fix was refused: another try, sampled
            if self._as_it_is(agent, calls):  # the refusal says nothing new: the file already is that
                yield from self._fresh_start(agent)
            self._write_again(agent)

    def at_stop(self, agent: Agent, answer: str, run: RunState) -> Generator[Any, None, str | None]:
        """The model answered: the run's result (its answer and how the tests stand), or None to go on.
        The tests run unless nothing changed since they last passed, or nothing was asked to change."""
        agent.state.tool_choice, agent.state.choice_paths = None, ()
        if self.off or (self.passing is None and not self.changed and not self.change_asked):
            return answer
        if not self.changed and self.passing is not True:
            self.idle_stops += 1
            yield from self._check(agent, "The tests still fail (output above).", joins=True)
        elif self.changed:
            yield from self._check(agent, "The tests still fail (output above).", joins=True)
        if self.passing is None:
            return answer
        line = f"The tests pass (`{self.command}`)." if self.passing else f"The tests still fail (`{self.command}`)."
        limit = agent.config.max_turns
        if self.passing or self._spent(agent):
            return f"{answer.rstrip()}\n\n{line}".lstrip()
        if limit is not None and run.turns >= limit:
            raise Stop("error_max_turns", f"reached the maximum of {limit} turns; {line[0].lower()}{line[1:]}")
        return None

    def _spent(self, agent: Agent) -> bool:
        """No more failures go back: the model keeps stopping without a change, or (with no turn
        budget to end the run) it has been told MAX_FEEDBACKS times."""
        unbounded = agent.config.max_turns is None and self.feedbacks >= MAX_FEEDBACKS
        return unbounded or self.idle_stops >= MAX_IDLE_STOPS

    # -- one run of the command -------------------------------------------------------------

    def _check(self, agent: Agent, failed: str, joins: bool = False, first: bool = False) -> Generator[Any, None, None]:
        """Run the command as a Bash call of ketch's, through dispatch; record the call, its
        (trimmed) result and, on failure, what to do next with the code the failure points at."""
        assert self.command is not None
        call = ToolUseBlock(f"toolu_ketch_{uuid4().replace('-', '')[:24]}", "Bash", {"command": self.command})
        refusal = self._refusal(agent, call)
        if refusal:
            self.off = True
            yield ev.Notice(f"ketch did not run the tests (`{self.command}`): {refusal}")
            return
        message = Message("assistant", [call])
        if joins and agent.messages and agent.messages[-1].role == "assistant":  # the model's answer: one turn
            agent.messages[-1] = Message("assistant", [*agent.messages[-1].content, call])
        else:
            agent.messages.append(message)
        yield ev.AssistantMessage(message, "", "ketch", "tool_use", Usage())
        denials, cwd, agent.state.bash_cwd = len(agent.denials), agent.state.bash_cwd, None
        try:  # from the workspace's top, wherever the model's shell was left
            result = (yield from agent.dispatch.run([call]))[0]
        finally:
            agent.state.bash_cwd = cwd
        after_change, before = self.changed, self.last_failure
        blocks: list[Block] = [self._verdict(agent, result, denied=len(agent.denials) > denials)]
        self.failed_fixes += bool(after_change and self.passing is False)
        if self.passing is False:
            blocks.append(TextBlock(self._feedback(agent, result.content, failed)))
        elif self.passing and not joins:
            blocks.append(TextBlock("The tests pass before any change." if first else "The tests pass now."))
        stuck = after_change and self.passing is False and self.last_failure == before
        agent.messages.append(Message("user", blocks))
        yield ev.ToolResults(agent.messages[-1])
        if self.passing is False and self.whole and self.restart_at is None:
            self.restart_at, self.first_view, self.first_message = len(agent.messages), blocks, agent.messages[-1]
        if stuck:  # the fix changed nothing the tests see
            yield from self._fresh_start(agent)
        if self.off and len(agent.denials) == denials:
            yield ev.Notice(f"ketch stopped running the tests: `{self.command}` did not run them ({_last_line(result)})")
        if agent.cancel.is_set():
            raise Stop("interrupted", "interrupted")

    def _refusal(self, agent: Agent, call: ToolUseBlock) -> str:
        """Why the command may not run here without asking anyone; "" when it may go to dispatch."""
        if agent.find_tool("Bash") is None:
            return "the Bash tool is not available in this run"
        decision = agent.config.gate.decide("Bash", "execute", call.input, [], cwd=None)
        if decision.verdict == "deny":
            return decision.reason
        if decision.verdict == "ask" and isinstance(agent.approver, RefuseAll):
            return f"{decision.reason}, and nobody can be asked in a headless run"
        return ""

    def _verdict(self, agent: Agent, result: ToolResultBlock, denied: bool) -> ToolResultBlock:
        """Read the result: pass, fail, or not a test run at all (then the loop is off)."""
        self.changed = False
        exit_code = _EXIT.findall(result.content)
        code = int(exit_code[-1]) if exit_code else None
        timed_out = "Command timed out" in result.content
        if denied or (result.is_error and code is None and not timed_out) or code in _CANNOT_RUN \
                or (code == 5 and "pytest" in (self.command or "")):  # pytest: no tests were collected
            self.off, self.passing = True, None
            return result
        self.passing = not result.is_error
        content = trim(result.content, max_lines=6 if self.passing else 60)
        tampered = self._tampered(agent) if self.passing else []
        if tampered:  # green only because the tests changed (Bash's sed -i, git checkout, ...): no evidence
            self.passing = False
            content += (f"\n\nThis pass does not count: test files or how tests run changed during this run "
                        f"({', '.join(tampered[:5])}). Put them back as they were.")
        return ToolResultBlock(result.tool_use_id, content, result.is_error or bool(tampered))

    def _tampered(self, agent: Agent) -> list[str]:
        if self.evidence is None:
            return []
        from ketch.tools.tests_rule import changed_evidence, evidence

        return changed_evidence(self.evidence, evidence(agent.config.workspace))

    def _feedback(self, agent: Agent, output: str, failed: str) -> str:
        """What the model is told after a failure: the code it points at, then what to do."""
        self.feedbacks += 1
        self.last_output = output
        failure = _TIMING.sub("", trim(output))
        wrong = mismatch(output)  # "f(3) returned 3, but the test expects 6.", said next to what to do
        if failure == self.last_failure:
            text = " ".join(p for p in ("The tests still fail the same way.", wrong, self._todo()) if p)
        else:
            self.last_failure = failure
            code, self.whole = _located(agent, output)
            text = "\n\n".join(part for part in (failed, code, wrong, self._todo()) if part)
        self._write_again(agent)
        return valid_text(agent.redact(text))

    def _todo(self) -> str:
        """What to do: the request again (when short), then fix the code; write a short file shown whole."""
        todo = WHOLE_FIX.format(names=" and ".join(self.whole)) if self.whole else FIX
        return f"The task: {self.task}\n{todo}" if self.task else todo

    def _as_it_is(self, agent: Agent, calls: list[ToolUseBlock]) -> bool:
        """A Write of a file shown whole, with exactly the text it has now (refused as changing nothing).

        The model may have replaced the file since it was shown (a symlink to a credential, a FIFO,
        /dev/zero): the answer would be a read oracle past the gate, or a hang. So the file is the one
        shown only if its canonical path is inside the workspace under the name shown, the gate lets
        the model read it, and it opens, with no symlink followed, as a regular file of at most
        localize's MAX_FILE_BYTES (red team, session 10)."""
        workspace = Path(os.path.realpath(agent.config.workspace))
        for call in calls:
            path, content = call.input.get("file_path"), call.input.get("content")
            if call.name != "Write" or not isinstance(path, str) or not isinstance(content, str):
                continue
            try:
                target = Path(os.path.realpath(workspace / path))
                if target.relative_to(workspace).as_posix() not in self.whole:
                    continue
            except (OSError, ValueError):
                continue
            if agent.config.gate.read_refusal(target) is None and _shown_text(target) == content:
                return True
        return False

    def _fresh_start(self, agent: Agent) -> Iterator[Any]:
        """A fix that changed nothing the tests see (or was refused) is not shown to the model again:
        it sees the history as it was at the first failure, and what the tries returned, and writes
        the files afresh (sampled: `_write_again`). Measured (tune split): shown its own failing file,
        qwen2.5-coder-1.5b wrote it again word for word six times, at temperature 0.8 too; the file it
        copies from draws every sample. The tries stay in the transcript."""
        if self.restart_at is None or self.restart_at > len(agent.messages) or not self.whole:
            return
        if agent.messages[self.restart_at - 1] is not self.first_message:
            # The history changed under the index (compacted): cutting there would pair the first
            # failure's tool result with another call (red team, session 10). Anchor afresh.
            self.restart_at = None
            return
        wrong = mismatch(self.last_output) or "the tests still failed the same way."
        if wrong not in self.tried:
            self.tried.append(wrong)
        dropped = len(agent.messages) - self.restart_at
        del agent.messages[self.restart_at:]
        note = ("Tries that failed (do not write them again): " + " ".join(self.tried) +
                " Write a different fix.")
        agent.messages[-1] = self.first_message = Message("user", [*self.first_view,
                                                                   TextBlock(valid_text(agent.redact(note)))])
        yield ev.Notice(f"ketch: the fix failed the same way; the model tries again from the first failure "
                        f"({dropped} messages set aside, kept in the transcript)")

    def _write_again(self, agent: Agent) -> None:
        """The next reply writes the files shown whole (the edit format by file size), greedily the
        first time, sampled once a fix has failed (RETRY_TEMPERATURE)."""
        if not self.whole:
            return
        agent.state.tool_choice, agent.state.choice_paths = "Write", self.whole
        if self.failed_fixes:
            agent.state.temperature = max(agent.state.temperature or 0.0, RETRY_TEMPERATURE)


def _located(agent: Agent, output: str) -> tuple[str, tuple[str, ...]]:
    """(the code a failure points at, the files shown whole); a file shown whole counts as read."""
    from ketch.agent.verify.localize import locate, render

    gate = agent.config.gate

    def readable(path: Any) -> bool:  # the person's Read deny rules too: a test's output names any file
        return gate.read_refusal(path) is None

    workspace = Path(os.path.realpath(agent.config.workspace))
    spans, test = locate(output, workspace, readable)
    whole = [span.path for span in spans if span.label == WHOLE]
    for path in whole:  # shown whole: the model has seen it as it is now, as if it had read it
        try:
            agent.state.read_files[str(path)] = path.stat().st_mtime_ns
        except OSError:
            pass
    return render(spans, test, workspace), tuple(p.relative_to(workspace).as_posix() for p in whole)


def _shown_text(path: Path) -> str | None:
    """The text of canonical `path` as Python's read_text gives it, opened without following a symlink
    at any depth and without waiting on a FIFO; None unless it is a regular UTF-8 file of at most
    MAX_FILE_BYTES."""
    from ketch.agent.verify.localize import MAX_FILE_BYTES
    from ketch.security.safe_open import open_file, same_place

    try:
        fd = open_file(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        same_place(fd, path)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return None
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _last_line(result: ToolResultBlock) -> str:
    lines = result.content.strip().splitlines()
    return lines[-1][:200] if lines else "no output"
