"""Put the person's and the project's prompt-file commands (`ext.custom_commands`) into the
REPL's slash-command registry, so /help, completion and dispatch treat them like the rest.

A built-in name always wins: a repository must not be able to turn `/exit` or `/permissions`
into "send this text to the model".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ketch.ui.commands.registry import Registry, SlashCommand


def register_custom(registry: Registry, workspace: Path, ketch_home: Path, warn: Callable[[str], None]) -> int:
    """Add every custom command that does not shadow a built-in; the number added."""
    from ketch.ext.custom_commands import load_commands

    added = 0
    for name, command in sorted(load_commands(workspace, ketch_home, warn).items()):
        if registry.get(name) is not None:
            warn(f"skipped custom command /{name} ({command.path}): a built-in command has that name")
            continue
        registry.register(SlashCommand(name, f"{command.description} ({command.source})".lstrip(),
                                       _handler(command), usage=command.argument_hint, source=command.source))
        added += 1
    return added


def _handler(command: Any) -> Callable[[Any, str], None]:
    def run(repl: Any, arg: str) -> None:
        from ketch.ext.custom_commands import expand, read_command

        # Read again, so an edit to the file takes effect without restarting ketch.
        current = read_command(command.path, command.name, command.source, command.root, repl.r.warn)
        if current is None:
            repl.r.error(f"/{command.name} is not usable now (see the warning above)")
            return
        repl.run_prompt(expand(current.body, arg))

    return run
