"""The registry of slash commands: SlashCommand entries by name and alias, so more can be added.

A handler gets the running REPL and the text after the command name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SlashCommand:
    name: str
    help: str
    handler: Callable[[Any, str], None]
    usage: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""  # "" for a built-in; "project" or "user" for a prompt-file command; "mcp": a server's prompt
    complete: Callable[[Any, str], list[str]] | None = None  # (repl, typed) -> whole arguments to offer


class Registry:
    def __init__(self) -> None:
        self._commands: dict[str, SlashCommand] = {}
        self._aliases: dict[str, str] = {}

    def register(self, command: SlashCommand) -> None:
        self._commands[command.name] = command
        for alias in command.aliases:
            self._aliases[alias] = command.name

    def get(self, name: str) -> SlashCommand | None:
        return self._commands.get(self._aliases.get(name, name))

    def all(self) -> list[SlashCommand]:
        return sorted(self._commands.values(), key=lambda c: c.name)

    def names(self) -> list[tuple[str, str]]:
        return [(c.name, c.help) for c in self.all()]

    def complete_arguments(self, repl: Any, before: str) -> list[tuple[str, str]]:
        """(argument, what is typed of it) for `/name partial`: the command's offers that start with it."""
        name, _, typed = before[1:].partition(" ")
        command = self.get(name)
        if command is None or command.complete is None:
            return []
        return [(offer, typed) for offer in command.complete(repl, typed) if offer.startswith(typed) and offer != typed]

    def dispatch(self, repl: Any, text: str) -> bool:
        """Run `/name args`; False if there is no such command (the caller says so)."""
        parts = text[1:].split(None, 1)  # `/fix\nmore lines`: the arguments may start on a new line
        command = self.get(parts[0]) if parts else None
        if command is None:
            return False
        command.handler(repl, parts[1].strip() if len(parts) > 1 else "")
        return True
