"""Slash commands about the session and its context: compact, context, undo, resume, memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ketch.agent import events as ev
from ketch.ui.commands.registry import SlashCommand
from ketch.ui.render import human

REWIND_LISTED = 20


def _compact(repl: Any, arg: str) -> None:
    if repl.agent.meter is None:
        repl.r.error("compaction is off (KETCH_AUTOCOMPACT_PCT=off)")
        return
    if len(repl.agent.messages) < 2:
        repl.r.info("nothing to compact yet")
        return
    repl.run_events(repl.agent.compact(focus=arg or None))


def _context(repl: Any, arg: str) -> None:
    from ketch.ui.context_view import context_parts, context_used

    used, window = context_used(repl.agent)
    repl.r.line(f"context: ~{human(used)} of {human(window)} tokens ({100 * used / window:.0f}%)")
    for name, tokens in context_parts(repl.agent):
        repl.r.line(f"  {name:<18} ~{human(tokens)}")


def _undo(repl: Any, arg: str) -> None:
    from ketch.agent.undo.restore import NothingToUndo, Undo
    from ketch.agent.undo.shadow_store import ShadowError

    undo = Undo.for_workspace(repl.agent.config.workspace, repl.home)
    try:
        result = _apply_confirmed(repl, undo, None)
    except NothingToUndo as exc:
        repl.r.info(str(exc))
        return
    except (ShadowError, OSError) as exc:
        repl.r.error(f"undo failed: {exc}")
        return
    for action in result.done:
        repl.r.line(f"  {action.action:<9} {action.path}" + ("  (overwrote your changes)" if action.forced else ""))
    for c in result.conflicts:
        repl.r.warn(f"  left as is: {c.path}: {c.reason}")
    for path, reason in result.failed:
        repl.r.error(f"  could not restore {path}: {reason}")
    if not result.done and result.complete:
        repl.r.info("the files were already as before")


def _rewind(repl: Any, arg: str) -> None:
    """Pick a prompt of this conversation; go back to before it: conversation, files, or both.

    Every prompt is offered; files come into it only when a turn from there on changed some.
    """
    from ketch.agent.undo.restore import NothingToUndo, Undo
    from ketch.agent.undo.rewind_points import files_to_undo, rewind_points
    from ketch.agent.undo.shadow_store import ShadowError
    from ketch.ui.session_render import one_line

    undo = Undo.for_workspace(repl.agent.config.workspace, repl.home)
    try:
        records = undo.checkpoints(repl.agent.session_id)
    except (NothingToUndo, ShadowError, OSError):
        records = []
    points = rewind_points(repl.agent.messages, records)
    if not points:
        repl.r.info("nothing to rewind: this conversation has no prompt yet")
        return
    if len(points) > REWIND_LISTED:
        repl.r.info(f"  ({len(points) - REWIND_LISTED} earlier prompts not shown; /rewind N picks any)")
    for p in points[-REWIND_LISTED:]:
        files = len({f for c in p.checkpoints for f in c.files})
        changed = f"  · {files} file{'s' if files != 1 else ''} changed" if files else ""
        repl.r.line(f"  {p.number:>2}. {one_line(p.prompt, 60)}{changed}")
    answer = (arg or repl.ask_line("rewind to before which prompt? (number, Enter to cancel): ")).strip()
    target = next((p for p in points if answer.isdigit() and p.number == int(answer)), None)
    if target is None:
        repl.r.info("not rewound")
        return
    undoable = files_to_undo(points, target)
    if not undoable:
        what = "c"
        repl.r.info("no files were changed from there on: only the conversation goes back")
    else:
        what = repl.ask_line("restore [f]iles, [c]onversation or [b]oth? ").strip().lower()[:1]
        if what not in ("f", "c", "b"):
            repl.r.info("not rewound")
            return
    if what in ("f", "b") and not _rewind_files(repl, undo, min(c.seq for c in undoable)):
        return
    if what in ("c", "b"):
        dropped = sum(1 for p in points if p.number >= target.number)
        kept = repl.agent.rewind(target.message_index, dropped)
        turn = sum(1 for m in kept if m.role == "assistant") + 1
        repl.transcript.on_event(ev.Rewound(turn=turn, messages=list(kept)))
        repl.r.info(f"conversation rewound to before prompt {target.number} ({len(kept)} messages kept)")


def _rewind_files(repl: Any, undo: Any, seq: int) -> bool:
    """Restore the files to before checkpoint `seq`; False when that failed (nothing else to do)."""
    from ketch.agent.undo.restore import NothingToUndo
    from ketch.agent.undo.shadow_store import ShadowError

    try:
        result = _apply_confirmed(repl, undo, seq)
    except (NothingToUndo, ShadowError, OSError) as exc:
        repl.r.error(f"rewind failed: {exc}")
        return False
    for action in result.done:
        repl.r.line(f"  {action.action:<9} {action.path}")
    for conflict in result.conflicts:
        repl.r.warn(f"  left as is: {conflict.path}: {conflict.reason}")
    return True


def _apply_confirmed(repl: Any, undo: Any, seq: int | None) -> Any:
    """Undo the files to before checkpoint `seq` (None: the last one); files changed since the
    agent wrote them are overwritten only if the person says so."""
    plan = undo.plan(seq, repl.agent.session_id)
    if plan.conflicts:
        repl.r.warn("changed after the agent wrote them:")
        for conflict in plan.conflicts:
            repl.r.warn(f"  {conflict.path}: {conflict.reason}")
        if repl.confirm("overwrite them too?"):
            plan = undo.plan(seq, repl.agent.session_id, force=True)
    return undo.apply(plan)


def matching_sessions(refs: list[Any], query: str) -> list[Any]:
    """Sessions whose id starts with `query`, else those whose first prompt holds all its words."""
    query = query.strip()
    if not query:
        return refs
    by_id = [r for r in refs if r.session_id.startswith(query)]
    if by_id:
        return by_id
    words = query.lower().split()
    return [r for r in refs if all(w in (r.info.first_prompt or "").lower() for w in words)]


def _resume(repl: Any, arg: str) -> None:
    """`/resume`, `/resume ID-PREFIX` or `/resume words`: pick a session, narrowing by words."""
    import time

    from ketch.agent.sessions.store import list_sessions

    refs = [r for r in list_sessions(repl.home, repl.agent.config.workspace) if r.session_id != repl.agent.session_id]
    if not refs:
        repl.r.info("no other session in this folder")
        return
    query = arg
    while True:
        shown = matching_sessions(refs, query)
        if query.strip() and len(shown) == 1:
            chosen = shown[0]
            break
        if not shown:
            repl.r.info(f"no session matches {query.strip()!r}")
            shown, query = refs, ""  # the next words start a new search
        for i, ref in enumerate(shown[:20], 1):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(ref.info.updated))
            first = (ref.info.first_prompt or "").replace("\n", " ")[:48]
            repl.r.line(f"  {i:>2}. {when}  {ref.info.turns:>3} turns  {first}")
        answer = repl.ask_line("number, or words to narrow the list (Enter cancels): ").strip()
        if not answer:
            repl.r.info("not resumed")
            return
        if answer.isdigit() and 1 <= int(answer) <= min(20, len(shown)):
            chosen = shown[int(answer) - 1]
            break
        query = f"{query} {answer}".strip()  # words narrow what is listed
    repl.resume(chosen.session_id)


def _memory(repl: Any, arg: str) -> None:
    from ketch.agent.prompt import MEMORY_FILES

    ws = repl.agent.config.workspace
    folders: list[Path] = [repl.home, ws, *sorted(p for p in repl.agent.memory_folders() if p != ws)]
    shown = 0
    for folder in folders:
        for name in MEMORY_FILES:
            path = folder / name
            if path.is_file():
                scope = "user (every project)" if folder == repl.home else "project" if folder == ws else "subfolder"
                repl.r.line(f"  {scope:<22} {path}")
                shown += 1
                break  # AGENTS.md wins over CLAUDE.md in one folder
    if not shown:
        repl.r.info(f"no AGENTS.md or CLAUDE.md loaded (looked in {repl.home} and {ws})")


COMMANDS = [
    SlashCommand("compact", "summarise the conversation to free context: /compact [focus]", _compact),
    SlashCommand("context", "how much of the context window each part uses", _context),
    SlashCommand("undo", "revert the file changes of the last turn that made any", _undo),
    SlashCommand("rewind", "go back to before an earlier prompt: conversation, files, or both", _rewind),
    SlashCommand("resume", "pick one of this folder's sessions and continue it", _resume),
    SlashCommand("memory", "which AGENTS.md / CLAUDE.md files are loaded", _memory),
]
