"""The REPL's side of hooks: asking about a project's hook set once, and listing what is active.

A project's hooks run programs outside the sandbox, so the person sees every command (escaped)
before approving the set; the approval is kept outside the tree and asked again when it changes.
"""

from __future__ import annotations

from typing import Any

from ketch.terminal_text import printable as clean


def ask_pending_hooks(repl: Any) -> None:
    """Show each of the project's unapproved hooks and ask once for the whole set."""
    bridge = repl.agent.hooks
    found = getattr(bridge, "hooks", None)
    if found is None or not found.pending:
        return
    from ketch.ui.permission_prompt import reveal

    r = repl.r
    r.line(f"? This project has {len(found.pending)} hook(s) you have not approved. They run outside the "
           "sandbox with your user rights (never with ketch's credentials):", "bold yellow")
    for hook in found.pending:
        where = f"{hook.event}" + (f" [{hook.matcher}]" if hook.matcher else "")
        r.line(f"    {reveal(clean(where))}: {reveal(clean(hook.command))}", "bold")
        r.info(f"      from {clean(hook.source)}, timeout {hook.timeout_s:g} s")
    if not repl.confirm("approve these hooks and run them?"):
        r.info("  not run; ketch asks again next time")
        found.pending = []
        return
    from ketch.ext.hooks.approvals import approve_hooks

    try:
        kept = approve_hooks(repl.agent.config.workspace, found.pending)
        r.info(f"  approved (kept in {clean(str(kept))})")
    except OSError as exc:
        r.error(f"  could not record the approval ({clean(str(exc))}); they run for this session only")
    found.active += found.pending
    found.pending = []


def hook_lines(agent: Any) -> list[str]:
    """`/hooks`: every active hook, by event, with where it came from; then what is held back."""
    found = getattr(agent.hooks, "hooks", None)
    if found is None:
        return ["no hooks in this session (add them under \"hooks\" in your settings, Claude Code's format)"]
    if found.disabled_by and not found.active:
        return [f"all hooks are off: disableAllHooks in {clean(found.disabled_by)}"]
    lines = []
    if found.disabled_by:  # it reaches only the hooks of its own settings layer and those below
        lines.append(f"  (disableAllHooks in {clean(found.disabled_by)} cannot switch off these:)")
    for hook in found.active:
        matcher = f" [{hook.matcher}]" if hook.matcher else ""
        lines.append(f"  {hook.event}{clean(matcher)}: {clean(hook.command)}  ({hook.scope}: {clean(hook.source)}, "
                     f"{hook.timeout_s:g} s)")
    for hook in found.pending:
        lines.append(f"  not approved: {hook.event}: {clean(hook.command)}  ({clean(hook.source)})")
    return lines or ["no active hooks"]
