"""Which keys a settings file may hold, and what to say about one that means nothing.

ketch reads Claude Code's format, so a file shared with Claude Code holds keys ketch does
not use: those pass without a word. Any other key is a typo or comes from somewhere else,
and silence would leave the person believing it works (`"modle"`, `"alow"`): it is a
one-line warning naming the file and the closest valid spelling. A misspelt `deny` or
`ask` list is an error instead, because the rules in it were meant to stop calls and would
not (DESIGN.md §5.8: a deny never fails open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Keys = tuple[str, ...]

# What ketch reads, by the object that holds it (() is the top level).
KNOWN: dict[Keys, frozenset[str]] = {
    (): frozenset({"model", "permissions", "sandbox", "env",
                   # MCP servers and Claude Code's answers about a project's (ext/mcp/config.py)
                   "mcpServers", "enableAllProjectMcpServers", "enabledMcpjsonServers", "disabledMcpjsonServers",
                   # Claude Code's hooks (ext/hooks/config.py)
                   "hooks", "disableAllHooks", "allowManagedHooksOnly"}),
    ("permissions",): frozenset({"allow", "ask", "deny", "defaultMode", "additionalDirectories",
                                 "disableBypassPermissionsMode"}),
    ("sandbox",): frozenset({"network", "writableCaches"}),
    ("sandbox", "network"): frozenset({"allowedHosts"}),
}
# Claude Code's own keys: meaningful in a shared file, unused by ketch, accepted in silence.
CLAUDE_CODE: dict[Keys, frozenset[str]] = {
    (): frozenset({
        "$schema", "apiKeyHelper", "awsAuthRefresh", "awsCredentialExport", "cleanupPeriodDays",
        "companyAnnouncements", "forceLoginMethod", "forceLoginOrgUUID", "includeCoAuthoredBy",
        "otelHeadersHelper", "outputStyle", "spinnerTipsEnabled", "statusLine", "alwaysThinkingEnabled",
        "subagentStatusLine", "theme", "verbose", "autoUpdates", "preferredNotifChannel",
        "enabledPlugins", "extraKnownMarketplaces",
    }),
    ("sandbox",): frozenset({"enabled", "autoAllowBashIfSandboxed", "excludedCommands", "allowUnsandboxedCommands",
                             "enableWeakerNestedSandbox", "ignoreViolations"}),
    ("sandbox", "network"): frozenset({"allowUnixSockets", "allowAllUnixSockets", "allowLocalBinding",
                                       "httpProxyPort", "socksProxyPort"}),
}
# Lists whose loss would loosen policy: a key that looks like one of them is an error.
STOP_LISTS = frozenset({("permissions", "deny"), ("permissions", "ask")})


@dataclass(frozen=True)
class UnknownKey:
    keys: Keys  # the full path of the unknown key, e.g. ("permissions", "alow")
    suggestion: str | None  # the closest key ketch reads at that level
    fatal: bool  # a misspelt deny/ask list

    @property
    def dotted(self) -> str:
        return ".".join(self.keys)

    def message(self) -> str:
        hint = f' (did you mean "{self.suggestion}"?)' if self.suggestion else ""
        if self.fatal:
            return (f'unknown key "{self.dotted}"{hint}: rules under a misspelt {self.suggestion} list would '
                    f"never apply, so ketch stops here; rename the key")
        return f'unknown key "{self.dotted}" is ignored{hint}'


def unknown_keys(data: dict[str, Any], extra: frozenset[str] = frozenset()) -> list[UnknownKey]:
    """Every key in `data` that ketch neither reads nor knows from Claude Code, in file order.

    `extra` names more top-level keys the caller reads (the per-project store's `project`).
    """
    found: list[UnknownKey] = []
    for level, known in KNOWN.items():
        holder: Any = data
        for key in level:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        allowed = known | CLAUDE_CODE.get(level, frozenset()) | (extra if level == () else frozenset())
        for key in holder:
            if key in allowed:
                continue
            close = _closest(key, known)
            fatal = close is not None and (*level, close) in STOP_LISTS
            found.append(UnknownKey((*level, key), close, fatal))
    return found


def _closest(key: str, known: frozenset[str]) -> str | None:
    import difflib  # only when a file has an unknown key

    by_case = {k.lower(): k for k in known}
    if key.lower() in by_case:
        return by_case[key.lower()]
    match = difflib.get_close_matches(key.lower(), list(by_case), n=1, cutoff=0.6)
    return by_case[match[0]] if match else None
