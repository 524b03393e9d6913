"""A note on a command's output when it failed because the sandbox has no network.

`curl`, `pip`, `npm` or `git` in the sandbox say "Could not resolve host" and nothing else;
neither the model nor the person can tell that the sandbox, not the network, is why, nor
what to change. When the output shows a name-resolution or connection failure (or ketch's
allow-list proxy refused a host during the call), the result gets one line naming the
setting that admits a host. The note is advice only: commands can never change that setting
(ketch's settings are protected paths).
"""

from __future__ import annotations

import re
from pathlib import Path

# What common clients print when a name does not resolve or a connection cannot be made.
_FAILURE = re.compile(
    r"could not resolve (?:host|proxy)|couldn't resolve host|unable to resolve host"
    r"|temporary failure in name resolution|name or service not known|nodename nor servname"
    r"|getaddrinfo (?:failed|enotfound|eai_again)|\benotfound\b|\beai_again\b"
    r"|failed to establish a new connection|network is unreachable|no route to host"
    r"|failed to connect to|couldn't connect to server",
    re.IGNORECASE,
)
_HOST_AFTER = re.compile(
    r"(?:resolve host(?: address)?:?|ENOTFOUND|Failed to connect to|connect to host)\s+'?([A-Za-z0-9][A-Za-z0-9.-]{0,252})",
    re.IGNORECASE,
)
_HOST = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def failed_host(output: str) -> str | None:
    """The host a client names in its failure message, if it is a plain host name."""
    for match in _HOST_AFTER.finditer(output):
        host = match.group(1).rstrip(".").lower()
        if _HOST.match(host) and host not in ("localhost",):
            return host
    return None


def network_hint(output: str, settings_file: Path, refused: list[str] | None = None) -> str | None:
    """The note to append to a sandboxed command's output, or None when none applies.

    `refused` lists what ketch's allow-list proxy turned down during the call (when the
    sandbox has allowed hosts); without it, the output's own wording is the evidence.
    """
    if refused:
        what = "; ".join(dict.fromkeys(refused))
        return (f"[ketch sandbox: the network allow-list refused: {what}. The user can allow a host by adding "
                f"it to \"sandbox\": {{\"network\": {{\"allowedHosts\": [...]}}}} in {settings_file}]")
    if not _FAILURE.search(output):
        return None
    host = failed_host(output) or "example.com"
    return (f"[ketch sandbox: commands run without network access, which is likely why this failed. "
            f"The user can allow a host with \"sandbox\": {{\"network\": {{\"allowedHosts\": [\"{host}\"]}}}} "
            f"in {settings_file} (or the project's .ketch/settings.json once the folder is trusted); "
            f"commands cannot change those files.]")
