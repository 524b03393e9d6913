"""The typed event stream (DESIGN.md §2): everything the loop does, as it happens.

Front ends render it, headless printers serialise it, the session store appends it.
The agent never prints; adding a front end means adding a consumer of these events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ketch.conversation import Message, Usage
from ketch.tools.todo import TodosChanged


@dataclass
class SessionStarted:
    session_id: str
    model: str
    provider: str
    cwd: str
    tools: list[str]
    permission_mode: str
    sandbox: str = "bubblewrap"
    notices: list[str] = field(default_factory=list)
    api_key_source: str = "none"  # where the provider key came from: an env variable's name, "ketch auth", "none"
    context_window: int = 0
    servers: list[dict[str, str]] = field(default_factory=list)  # the tool sources' servers: name, status


@dataclass
class UserPrompt:
    text: str


@dataclass
class TextDelta:
    text: str


@dataclass
class ThinkingDelta:
    text: str


@dataclass
class AssistantMessage:
    """A complete assistant reply; its tool calls follow as ToolCall events."""

    message: Message
    message_id: str
    model: str
    stop_reason: str
    usage: Usage


@dataclass
class ToolCall:
    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass
class ChangePreview:
    """What a file-changing call would do, as unified diff lines ('@@', ' ', '-', '+'), raw.

    `lines` holds at most a few hundred lines; `more` counts the ones left out. `summary` is
    one line ("new file, 12 lines", "+3 -1 lines", or why there is no diff). Front ends
    escape every line: it came from the model and from the file.
    """

    lines: list[str]
    more: int
    summary: str


@dataclass
class PermissionRequest:
    """The gate could not decide alone; a front end must answer via the Approver."""

    tool_use_id: str
    tool_name: str
    input: dict[str, Any]
    reason: str
    preview: ChangePreview | None = None  # Edit, MultiEdit, Write: the change, computed without writing


@dataclass
class PermissionDecision:
    tool_use_id: str
    tool_name: str
    allowed: bool
    reason: str
    source: Literal["mode", "rule", "policy", "user", "headless", "hook"]


@dataclass
class ToolFinished:
    tool_use_id: str
    name: str
    content: str
    is_error: bool
    duration_ms: int


@dataclass
class ToolResults:
    """The user-role message carrying every result of one assistant turn."""

    message: Message


@dataclass
class UsageUpdate:
    turn: Usage
    total: Usage
    cost_usd: float


@dataclass
class Retry:
    attempt: int
    delay_s: float
    reason: str


@dataclass
class Error:
    message: str
    kind: str = "error"


@dataclass
class Compacting:
    tokens_before: int
    reason: str


@dataclass
class Compacted:
    """The history was replaced: `messages` is the new history (recorded, so resume sees it)."""

    summary: str
    tokens_before: int
    tokens_after: int
    messages: list[Message]


@dataclass
class Rewound:
    """The conversation was cut back to before model turn `turn` (by /rewind): `messages` is what remains."""

    turn: int
    messages: list[Message]


@dataclass
class Notice:
    """Something the person must know that is not an error of the run (e.g. no sandbox)."""

    message: str


@dataclass
class Checkpoint:
    """Snapshots around a turn whose tools may change files: what undo and rewind restore.

    `before`/`after` are shadow-store commits; `checkpoint` numbers the session's
    checkpoints (None when the turn changed nothing); `message_index` is the index of the
    turn's assistant message, so a rewind can cut the conversation at the same point.
    """

    session_id: str
    turn: int
    before: str
    after: str
    files_changed: list[str]
    checkpoint: int | None = None
    message_index: int = -1


@dataclass
class Denial:
    tool_name: str
    tool_use_id: str
    tool_input: dict[str, Any]


@dataclass
class ChildEvent:
    """An event of a subagent (the Task tool's child agent), nested under the call that runs it.

    Front ends show it compactly under that call; the transcript keeps it as a side chain;
    `event` may itself be a ChildEvent (a grandchild)."""

    parent_call_id: str
    agent_name: str
    event: Any


Subtype = Literal["success", "error_max_turns", "error_max_budget_usd", "error_during_execution", "interrupted"]


@dataclass
class RunFinished:
    subtype: Subtype
    result: str
    session_id: str
    num_turns: int
    duration_ms: int
    duration_api_ms: int
    cost_usd: float
    usage: Usage
    permission_denials: list[Denial] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.subtype != "success"


Event = (
    SessionStarted | UserPrompt | TextDelta | ThinkingDelta | AssistantMessage | ToolCall | PermissionRequest
    | PermissionDecision | ToolFinished | ToolResults | UsageUpdate | Retry | Error | Notice | Compacting | Compacted
    | Rewound | RunFinished | TodosChanged | Checkpoint | ChildEvent
)
