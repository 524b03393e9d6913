"""Each connected MCP server's prompts as slash commands: `/mcp__server__prompt ARG1 ARG2`.

Listed in a background thread when a server connects (or reconnects), registered on the main
thread (the registry is read by completion there), and listed by /help under their own heading.
The words after the command fill the prompt's arguments in order, the last taking the rest of
the line; the text the server returns is sent as the person's prompt (its `@` words are not
expanded: the server's text does not get to attach files).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketch.ui.commands.registry import Registry, SlashCommand

if TYPE_CHECKING:
    from ketch.ext.mcp.client import McpClient, PromptInfo
    from ketch.ext.mcp.manager import McpManager

LIST_TIMEOUT_S = 10.0
GET_TIMEOUT_S = 30.0
SOURCE = "mcp"


def command_name(server: str, prompt: str) -> str:
    from ketch.ext.mcp.tools import tool_name

    return tool_name(server, prompt)  # the same characters and length as a tool's name


def usage(info: PromptInfo) -> str:
    return " ".join(name.upper() if required else f"[{name.upper()}]" for name, required in info.arguments)


def arguments(info: PromptInfo, text: str) -> tuple[dict[str, str], str | None]:
    """The prompt's arguments from the words typed after the command, or (_, what is missing)."""
    names = [name for name, _ in info.arguments]
    words = text.split(None, len(names) - 1) if names and text.strip() else []
    if not names and text.strip():
        return {}, "takes no arguments"
    values = dict(zip(names, words))
    missing = [name.upper() for name, required in info.arguments if required and not values.get(name)]
    return values, f"needs {' '.join(missing)}" if missing else None


class PromptCommands:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._listed: dict[str, McpClient] = {}  # the session each server's prompts were listed from
        self._done: dict[str, list[PromptInfo]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def sync(self, manager: McpManager, wait: bool = False) -> None:
        """List the prompts of servers connected since the last call; register what has been listed.
        `wait`: for listings under way (each bounded by LIST_TIMEOUT_S)."""
        for name in list(manager.servers):
            client = manager.connected_client(name)
            if client is not None and self._listed.get(name) is not client:
                self._listed[name] = client
                thread = threading.Thread(target=self._list, args=(name, client), daemon=True, name="mcp-prompts")
                self._threads.append(thread)
                thread.start()
        if wait:
            for thread in self._threads:
                thread.join()
        self._threads = [t for t in self._threads if t.is_alive()]
        with self._lock:
            done, self._done = self._done, {}
        for server, prompts in done.items():
            for info in prompts:
                self._register(server, info)

    def _list(self, server: str, client: McpClient) -> None:
        from ketch.errors import McpError

        try:
            prompts = client.list_prompts(LIST_TIMEOUT_S)
        except McpError:
            return
        with self._lock:
            self._done[server] = prompts

    def _register(self, server: str, info: PromptInfo) -> None:
        name = command_name(server, info.name)
        existing = self.registry.get(name)
        if existing is not None and existing.source != SOURCE:
            return  # never shadow a built-in or the person's own command
        about = (info.description.strip().splitlines() or [""])[0][:120]
        self.registry.register(SlashCommand(name, f"{about} (MCP server {server})".lstrip(), _handler(server, info),
                                            usage=usage(info), source=SOURCE))


def _handler(server: str, info: PromptInfo) -> Callable[[Any, str], None]:
    def run(repl: Any, arg: str) -> None:
        from ketch.errors import McpError

        name = command_name(server, info.name)
        manager = repl.mcp.manager
        client = manager.connected_client(server) if manager is not None else None
        if client is None:
            repl.r.error(f"/{name}: MCP server {server!r} is not connected (/mcp shows why)")
            return
        values, problem = arguments(info, arg)
        if problem:
            repl.r.error(f"/{name} {problem}: /{name} {usage(info)}".rstrip())
            return
        try:
            text = client.get_prompt(info.name, values, GET_TIMEOUT_S)
        except McpError as exc:
            repl.r.error(f"/{name}: {exc}")
            return
        if not text.strip():
            repl.r.info(f"/{name}: the server's prompt is empty; nothing sent")
            return
        lines = len(text.splitlines())
        repl.r.info(f"  sending the prompt {info.name!r} of MCP server {server!r} ({lines} line{'s' * (lines != 1)})")
        repl.run_prompt(text, mentions=False)

    return run
