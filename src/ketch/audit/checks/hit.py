"""One occurrence of a credential or a guessed secret in a buffer, before it becomes a Finding."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    """One occurrence: `start`/`end` of the whole match in the buffer, `value` the secret itself.

    `low` says the value is an example, a placeholder, a test-mode key or public by design;
    `why` says which, for the report.
    """

    rule: str
    start: int
    end: int
    value: str
    low: bool = False
    why: str = ""
    name: str = ""  # the variable a guessed secret was assigned to
