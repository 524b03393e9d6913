"""Breaking a loop of refused calls: a small model told "no" the same way keeps asking.

In the bench, two runs spent their whole 600 s repeating one refused Edit (31 times to a test
file, 14 times the same fragment Write). The refusal already says what to do; repeating it does
not help, so the third time the same call is refused for the same reason the result says so and
asks for a different approach, and the sixth time the run ends with that reason.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from ketch.agent.run_state import Stop
from ketch.conversation import ToolResultBlock, ToolUseBlock

NUDGE_AT = 3
STOP_AT = 6
_NUDGE = ("\n\nThis call has now been refused {n} times for the same reason. Repeating it will not work: "
          "read the reason above and do something different (change the code under test, use Edit with a "
          "smaller old_string taken from a fresh Read, or answer if the task is done).")


# The sampling temperature of the next reply after a refusal was repeated. Small models decode
# greedily here (temperature 0): given nearly the same history, the same refused call comes out
# again (measured: the same identical-strings Edit five times in a row). Some randomness breaks
# that loop; it ends with the next turn that is not a repeat.
STUCK_TEMPERATURE = 0.7


class RefusalCounter:
    """Counts refusals by (tool, the refusal's first line) over a run."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.stuck = False  # the last turn repeated a refusal: sample the next reply, do not decode greedily

    def note(self, calls: list[ToolUseBlock], results: list[ToolResultBlock]) -> list[ToolResultBlock]:
        """The results, with a nudge added to a refusal seen NUDGE_AT times or more; Stop at STOP_AT."""
        names = {c.id: c.name for c in calls}
        out = []
        self.stuck = False
        for result in results:
            if not result.is_error or result.tool_use_id not in names:
                out.append(result)
                continue
            key = (names[result.tool_use_id], result.content.strip().split("\n", 1)[0][:200])
            self.seen[key] += 1
            count = self.seen[key]
            self.stuck = self.stuck or count >= 2
            if count >= STOP_AT:
                raise Stop("error_during_execution",
                           f"stopped: {key[0]} was refused {count} times for the same reason: {key[1]}")
            if count >= NUDGE_AT:
                result = dataclasses.replace(result, content=result.content + _NUDGE.format(n=count))
            out.append(result)
        return out
