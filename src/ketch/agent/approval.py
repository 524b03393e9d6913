"""Who answers what the gate cannot decide alone: the Approver Protocol, its answer, and headless's refusal.

Imported from agent.dispatch too, where the calls are decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ketch.agent import events as ev


@dataclass
class Approval:
    """An approver's answer: allowed or not, what the person wants the model to know, and who
    answered (the PermissionDecision's source). `bool(Approval)` is `allowed`."""

    allowed: bool
    note: str = ""
    source: Literal["user", "headless"] = "user"

    def __bool__(self) -> bool:
        return self.allowed


class Approver(Protocol):
    """Answers what the gate could not decide alone. ketch's approvers return an `Approval`;
    a plain bool (a person's yes or no, without a note) is accepted too."""

    def __call__(self, request: ev.PermissionRequest, /) -> Approval | bool:
        ...


class RefuseAll:
    """Headless policy: whatever would need a person is refused. Nobody reads the question,
    so it is asked without a change preview (the preview reads the file and diffs it)."""

    def __call__(self, request: ev.PermissionRequest, /) -> Approval:
        return Approval(False, source="headless")


refuse_all = RefuseAll()
