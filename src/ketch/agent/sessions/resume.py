"""`--continue`, `--resume ID`, `--fork-session`: give an Agent its session and transcript.

A resumed session keeps its id and appends to its own transcript, under its lock, so two
processes never write one session. A fork loads the same history but copies it into a
new transcript under the new id; the original file is only read. Front ends call
`open_session` and show the returned warning; problems the user must fix are raised as
SessionError (one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.agent.sessions.lock import SessionBusy
from ketch.agent.sessions.transcript import TranscriptWriter, transcript_path
from ketch.conversation import Message, TextBlock, ToolResultBlock
from ketch.errors import SessionError

if TYPE_CHECKING:
    from ketch.agent.sessions.load import Loaded


def flags_problem(continue_: bool, resume: str | None, fork: bool, headless: bool) -> str | None:
    """What is wrong with this combination of session flags, or None."""
    if continue_ and resume is not None:
        return "--continue and --resume cannot be combined: --continue takes this folder's latest session"
    if fork and not continue_ and resume is None:
        return "--fork-session needs --continue or --resume ID (it branches from an existing session)"
    if resume == "":
        if headless:
            return ("--resume needs a session id in headless mode: pass one (see `ketch sessions list`), "
                    "or use --continue for this folder's latest session")
        return ("--resume without an id opens a picker in interactive mode, which is not available yet: "
                "pass an id (see `ketch sessions list`) or use --continue")
    return None


def open_session(agent: Any, home: Path, continue_: bool = False, resume: str | None = None,
                 fork: bool = False) -> tuple[TranscriptWriter, str | None]:
    """The transcript writer for this run, with `agent.messages` (and id) set when resuming.

    Returns the writer and a one-line warning when the stored session needed repair.
    """
    workspace = agent.config.workspace
    new_path = transcript_path(home, workspace, agent.session_id)
    if not continue_ and resume is None:
        return TranscriptWriter(new_path, redact=agent.redact), None
    from ketch.agent.sessions.store import find_session, latest_session  # resuming only

    ref = latest_session(home, workspace) if continue_ else find_session(home, workspace, resume or "",
                                                                         this_folder_only=True)
    if ref is None:
        raise SessionError("no session to continue in this folder: run without --continue to start one")
    from ketch.agent.sessions.load import to_records  # only resuming pays for the loader

    if fork:
        loaded = _load(ref.transcript)
        writer = TranscriptWriter(new_path, redact=agent.redact, history=to_records(loaded.messages, loaded.info.model),
                                  session_extra={"forked_from": ref.session_id})
    else:
        writer = TranscriptWriter(ref.transcript, redact=agent.redact, session_extra={"resumed": True})
        try:
            writer.open()  # the lock first, then read: nobody appends between reading and writing
        except SessionBusy:
            raise SessionError(f"session {ref.session_id} is in use by another ketch process: wait for it to "
                               "finish, or add --fork-session to branch from it") from None
        except OSError as exc:
            raise SessionError(f"cannot open session {ref.session_id}: {exc.strerror or exc}") from None
        try:
            loaded = _load(ref.transcript)
        except SessionError:
            writer.close()
            raise
        writer.history = to_records(loaded.tail_repair)
        agent.session_id = ref.session_id
    agent.messages = loaded.messages
    _restore_todos(agent, loaded.messages)
    _restore_instructions(agent, loaded.messages)
    return writer, loaded.warning()


def _load(transcript: Path) -> Loaded:
    from ketch.agent.sessions.load import load_session

    try:
        return load_session(transcript)
    except OSError as exc:
        raise SessionError(f"cannot read session {transcript.stem}: {exc.strerror or exc}") from None


def _restore_todos(agent: Any, messages: list[Message]) -> None:
    """The task list is part of the session: take it from the last TodoWrite that succeeded."""
    failed = {b.tool_use_id for m in messages for b in m.content if isinstance(b, ToolResultBlock) and b.is_error}
    for message in reversed(messages):
        for call in reversed(message.tool_uses()):
            todos = call.input.get("todos")
            if call.name == "TodoWrite" and call.id not in failed and isinstance(todos, list):
                agent.state.todos = [dict(t) for t in todos if isinstance(t, dict)]
                return


def _restore_instructions(agent: Any, messages: list[Message]) -> None:
    """The user's prompts so far, verbatim, so a later compaction keeps them too.

    After an earlier compaction, the prompts before it live inside the compacted head.
    """
    import re

    prompts: list[str] = []
    for message in messages:
        if message.role != "user" or any(isinstance(b, ToolResultBlock) for b in message.content):
            continue
        text = "\n".join(b.text for b in message.content if isinstance(b, TextBlock))
        if text.startswith("<compacted-context>"):
            prompts += [m.strip("\n") for m in re.findall(r"<user-message>\n(.*?)\n</user-message>", text, re.DOTALL)]
        elif text:
            prompts.append(text)
    agent.instructions = prompts
