"""Permission rules that can never match any call: said out loud, and a stop never fails open.

`bash(rm:*)` names no tool (names are case-sensitive), `Bsh(npm test:*)` is a typo,
`TodoWrite(x)` puts a pattern on a tool that takes no path or command, `Read(domain:x)` a
host on a tool that fetches nothing. The gate would skip each of them in silence. For an
allow rule that is a warning (the person is asked more than they expected); for a deny or
ask rule it is an error that stops the run (DESIGN.md §5.8: the call it was meant to stop
would run). Rules for Claude Code's tools that ketch does not have yet, and for MCP tools
(`mcp__server__tool`), are accepted: shared settings name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ketch.agent.permissions.rules import Rule

# Claude Code's other tool names: rules for them are accepted (shared settings), they just match nothing yet.
KNOWN_ELSEWHERE = frozenset({"WebFetch", "WebSearch", "Task", "NotebookEdit", "NotebookRead", "LS", "KillShell",
                             "BashOutput", "Skill", "SlashCommand", "ExitPlanMode"})
PATH_FIELDS = frozenset({"file_path", "path", "notebook_path"})


def why_never_matches(rule: Rule, tool_fields: Mapping[str, Iterable[str]]) -> str | None:
    """Why `rule` can match no call of the tools (name -> input field names), or None when it can.

    The reason ends with the closest valid spelling when there is one.
    """
    if rule.tool not in tool_fields:
        if rule.tool.startswith("mcp__") or rule.tool in KNOWN_ELSEWHERE:
            return None
        suggestion = closest_tool(rule.tool, [*tool_fields, *KNOWN_ELSEWHERE])
        if suggestion is None:
            return f"names no tool (ketch's tools: {', '.join(sorted(tool_fields))})"
        case = " (tool names are case-sensitive)" if suggestion.lower() == rule.tool.lower() else ""
        return f'names no tool{case}: did you mean "{Rule(suggestion, rule.spec)}"?'
    if rule.spec is None:
        return None
    fields = frozenset(tool_fields[rule.tool])
    if "command" in fields:
        return None  # Bash: any words may match a command
    if rule.spec.strip().startswith("domain:"):
        if "url" in fields:
            return None
        return f'puts a domain on {rule.tool}, which fetches no URL: did you mean "{rule.tool}" or a path?'
    if fields & PATH_FIELDS:
        return None
    return f'puts a pattern on {rule.tool}, which takes no path or command: did you mean "{rule.tool}"?'


def closest_tool(name: str, names: Iterable[str]) -> str | None:
    """The tool name `name` most likely meant: the same letters in another case, else the nearest."""
    import difflib

    by_case = {n.lower(): n for n in names}
    if name.lower() in by_case:
        return by_case[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(by_case), n=1, cutoff=0.6)
    return by_case[match[0]] if match else None
