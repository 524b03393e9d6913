"""The built-in tools, in the order the model sees them.

Imports stay cheap (stdlib only at module level), so building the list costs no more
than reading eight small data files when the definitions are first asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

from ketch.tools.base import Tool
from ketch.tools.bash import BashTool
from ketch.tools.edit import EditTool, MultiEditTool
from ketch.tools.glob import GlobTool
from ketch.tools.grep import GrepTool
from ketch.tools.read import ReadTool
from ketch.tools.todo import TodoWriteTool
from ketch.tools.write import WriteTool


def default_tools() -> list[Tool]:
    """Fresh instances of the Claude-Code-dialect core tools."""
    return [
        BashTool(),
        GlobTool(),
        GrepTool(),
        ReadTool(),
        EditTool(),
        MultiEditTool(),
        WriteTool(),
        TodoWriteTool(),
    ]


def tool_by_name(name: str, tools: Iterable[Tool] | None = None) -> Tool | None:
    """The tool called `name` among `tools` (default: the built-ins), or None."""
    for tool in default_tools() if tools is None else tools:
        if tool.name == name:
            return tool
    return None
