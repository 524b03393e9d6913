"""One error tree: every exception ketch defines is a KetchError, and each maps to one exit status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ketch.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    ConfigError,
    CredentialError,
    KetchError,
    PipedInputError,
    SandboxUnavailable,
    SessionError,
    ToolError,
    UsageError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "ketch"

# Exceptions used as control flow, not failures: they never reach the person as an error.
CONTROL_FLOW = {
    "ui/turn.py": {"QuitRequested"},            # the person asked to leave mid-turn
    "ui/commands/builtin.py": {"Quit"},         # /exit
    "agent/permissions/change_preview.py": {"_NoPreview"},
    "security/sandbox/proxy.py": {"Refusal"},  # the proxy's refusal of one request, raised to unwind
    "agent/run_state.py": {"Stop"},             # a run's end, carrying its events
    "audit/archives.py": {"TooBig",             # an artifact past its expansion budget: reading unwinds
                          "HugeHeader"},        # a tar record too big to read: a TarError, so the tar ends with a finding
}


def _exception_classes() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                if any(b.endswith(("Exception", "Error", "Interrupt")) or b in {"KetchError", "ToolError"}
                       for b in bases):
                    found.append((str(path.relative_to(SRC)), node.name, bases))
    return found


def test_every_exception_ketch_defines_is_in_the_tree():
    import importlib

    outside = []
    for where, name, _bases in _exception_classes():
        if name in CONTROL_FLOW.get(where, set()):
            continue
        module = importlib.import_module("ketch." + where[:-3].replace("/", ".").removesuffix(".__init__"))
        if not issubclass(getattr(module, name), KetchError):
            outside.append(f"{where}: {name}")
    assert outside == [], "derive these from a class in ketch/errors.py (or list them as control flow)"


@pytest.mark.parametrize(("error", "status"), [
    (UsageError("x"), EXIT_USAGE), (ConfigError("x"), EXIT_USAGE), (CredentialError("x"), EXIT_USAGE),
    (SessionError("x"), EXIT_USAGE), (PipedInputError("x"), EXIT_USAGE), (ToolError("x"), EXIT_FAILED),
    (SandboxUnavailable("x"), EXIT_FAILED), (KetchError("x"), EXIT_FAILED),
])
def test_each_failure_has_one_exit_status(error, status):
    assert error.exit_status == status


def test_the_person_sees_a_sandbox_failure_but_not_every_tool_error():
    assert SandboxUnavailable.tell_user and not ToolError.tell_user
