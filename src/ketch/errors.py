"""Every failure ketch names, and the exit status each one ends the `ketch` command with.

One tree, so a front end ends with `exc.exit_status` whatever the failure, and a newcomer
sees every failure in one place (the classes marked * live beside the code that raises them,
because they carry that code's fields; they all derive from a class here):

    KetchError                       exit 1: the run or command failed
    ├── UsageError                   exit 2: bad input from the person; `str()` says what to fix
    │   ├── ConfigError              a settings file, flag or rule that cannot be applied
    │   │   ├── CredentialError      the credential store cannot be used
    │   │   ├── MissingVariable *    an MCP entry's ${VAR} is unset, with no default (ext/mcp/entries.py)
    │   │   └── DefinitionError *    a subagent definition that cannot be used (ext/subagents/definitions.py)
    │   ├── SessionError             a session the person named cannot be used
    │   ├── AuditError               `ketch audit` cannot read what it was given or do what it was asked
    │   │   └── MapError *           a source map that cannot be read (audit/checks/mapfile.py)
    │   └── PipedInputError          piped stdin that cannot be used
    ├── ToolError                    shown to the model as an error result; never ends the process
    │   ├── SandboxUnavailable       the OS sandbox cannot run commands here (the person is told too)
    │   └── McpError                 an MCP server failed, refused or broke the protocol (ext/mcp/)
    │       └── HttpStatusError *    an HTTP error status; AuthorizationRequired * on 401/403 (ext/mcp/http_common.py)
    ├── ProviderError *              a model call failed for good (providers/base.py)
    ├── RetryableError *             a failure another attempt may fix (providers/retry.py)
    ├── ShadowError *, NothingToUndo *     undo cannot be done (agent/undo/)
    ├── ModelFileError *, InstallError *, HubError *, BuildCheckError *   local models
    ├── RuleSyntaxError *            a permission rule that does not parse (agent/permissions/rules.py)
    ├── PathChanged *                a path moved under a tool between its check and its open
    ├── SessionBusy *                another ketch is writing this session (agent/sessions/lock.py)
    └── HostProgramMissing *         git or bwrap not found where ketch may run it from (security/host_programs.py)

KeyboardInterrupt (Ctrl-C) ends with exit status 130 wherever it lands.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class KetchError(Exception):
    """The root of every failure ketch raises on purpose."""

    exit_status = EXIT_FAILED


class UsageError(KetchError):
    """Bad input from the person: printed as one line that says what to fix."""

    exit_status = EXIT_USAGE


class ConfigError(UsageError):
    """A settings problem, phrased as one line that says what to fix."""


class CredentialError(ConfigError):
    """The credential store cannot be used; one line that says what to fix."""


class SessionError(UsageError):
    """A session the person named cannot be used (unknown, damaged beyond reading, locked)."""


class AuditError(UsageError):
    """`ketch audit` cannot read the artifact it was given, or do what it was asked (an `--extract`
    destination, a spec); one line that says what to fix.

    A hostile or damaged member inside a readable artifact is a finding, not this error.
    """


class PipedInputError(UsageError):
    """Piped input that cannot be used: one line for the user."""


class ToolError(KetchError):
    """Raised by a tool for a failure the model should read and can act on.

    `tell_user`: the person running ketch must see it as well, not only the model.
    """

    tell_user = False


class SandboxUnavailable(ToolError):
    """The OS sandbox cannot run commands here; the message says why and how to fix it.

    Ketch fails closed (DESIGN.md §5.1): it never falls back to running a command
    unsandboxed. It is a ToolError so that any tool whose runner raises it (Bash, Grep,
    Glob) hands the model an error result instead of crashing the session.
    """

    tell_user = True


class OldStringNotFound(ToolError):
    """Edit's old_string matches nothing in the file. Its own type, with the file's length, so that a
    caller may say more without matching the message's words (the small-model profile: a short file
    is better written whole)."""

    def __init__(self, message: str, file_lines: int = 0) -> None:
        super().__init__(message)
        self.file_lines = file_lines


class McpError(ToolError):
    """An MCP server could not be started or reached, broke the protocol, or answered a call with an
    error. A tool call that meets it gives the model an error result; a server that meets it at
    start-up is reported in one line and the session goes on without it."""
