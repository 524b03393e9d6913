"""A call refused the same way again and again: a nudge the third time, the run's end the sixth."""

from __future__ import annotations

import pytest

from ketch.agent.run_state import Stop
from ketch.agent.verify.refusals import NUDGE_AT, STOP_AT, RefusalCounter
from ketch.conversation import ToolResultBlock, ToolUseBlock

REFUSAL = "Edit refused: tests/test_app.py is a test file. Don't change tests; change the code under test."


def turn(counter: RefusalCounter, n: int, text: str = REFUSAL, error: bool = True) -> ToolResultBlock:
    call = ToolUseBlock(f"c{n}", "Edit", {"file_path": "tests/test_app.py"})
    [result] = counter.note([call], [ToolResultBlock(call.id, text, is_error=error)])
    return result


def test_the_third_identical_refusal_is_nudged_and_the_sixth_ends_the_run() -> None:
    counter = RefusalCounter()
    for n in range(1, NUDGE_AT):
        assert turn(counter, n).content == REFUSAL
    nudged = turn(counter, NUDGE_AT)
    assert nudged.content.startswith(REFUSAL) and "refused 3 times" in nudged.content and nudged.is_error
    for n in range(NUDGE_AT + 1, STOP_AT):
        turn(counter, n)
    with pytest.raises(Stop) as stop:
        turn(counter, STOP_AT)
    assert stop.value.subtype == "error_during_execution" and "refused 6 times" in stop.value.result


def test_successes_and_other_refusals_are_counted_apart() -> None:
    counter = RefusalCounter()
    for n in range(10):
        assert turn(counter, n, "ok", error=False).content == "ok"
    for n in range(NUDGE_AT - 1):
        turn(counter, n)
        assert turn(counter, 100 + n, "Edit refused: app.py would no longer parse: line 3").content.endswith("line 3")


def test_a_repeated_refusal_makes_the_next_reply_sampled_until_a_turn_is_not_a_repeat() -> None:
    counter = RefusalCounter()
    turn(counter, 1)
    assert not counter.stuck  # refused once: greedy decoding stays
    turn(counter, 2)
    assert counter.stuck
    turn(counter, 3, "ok", error=False)
    assert not counter.stuck

