"""The Skill tool (Claude Code's name and input: `skill`, optional `args`) and the prompt section.

Loading a skill returns text and nothing else: its instructions, its folder and the files it
bundles, so the model may Read them. Those Reads meet the gate like any other; a user-level
skill's folder is made readable without a question by the composition root (cli/extensions.py),
the way ketch's own long-output files are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.errors import ToolError
from ketch.ext.skills.loader import Skill, bundled_files, front_matter, read_body_text
from ketch.security.prompt_files import Refused
from ketch.tools.base import ToolContext, ToolKind, ToolResult


@cache
def _data(name: str) -> str:
    return (resources.files("ketch.ext.skills") / "data" / name).read_text(encoding="utf-8")


MAX_SECTION_BYTES = 6000  # ~1.5k tokens: the first request stays ≤ 20 kB (DESIGN.md §6) however many are installed


def prompt_section(skills: list[Skill]) -> str:
    """The system prompt's list: one line per skill, name and capped description only; past
    MAX_SECTION_BYTES the rest are counted, not listed (the Skill tool names them all when
    asked for one it does not know)."""
    lines = [_data("section.md").strip()]
    size = len(lines[0].encode())
    for shown, skill in enumerate(skills):
        line = f"- {skill.name}: {skill.description}"
        size += len(line.encode()) + 1
        if size > MAX_SECTION_BYTES:
            lines.append(f"- ... and {len(skills) - shown} more skills, not listed here to keep this prompt short")
            break
        lines.append(line)
    return "\n".join(lines)


@dataclass
class SkillTool:
    skills: list[Skill]
    home: Path
    name: str = "Skill"
    kind: ToolKind = "other"
    _by_name: dict[str, Skill] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {s.name: s for s in self.skills}

    def definition(self) -> ToolDef:
        schema = json.loads(_data("Skill.json"))
        return ToolDef(name=self.name, description=_data("Skill.md").strip(), input_schema=schema)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from ketch.ext.custom_commands import expand

        requested = str(input.get("skill", "")).strip().lstrip("/")
        skill = self._by_name.get(requested)
        if skill is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise ToolError(f"no skill named {requested!r}; the installed skills are: {known}")
        # Read again, by the same rules: the file may have changed (or been swapped for a link) since start-up.
        text = read_body_text(skill.folder, skill.root, self.home)
        if isinstance(text, Refused):
            raise ToolError(f"skill {skill.name!r} cannot be loaded: {text.reason}")
        if text is None:
            raise ToolError(f"skill {skill.name!r} is gone: {skill.path} no longer exists")
        _, body = front_matter(text)
        folder = str(skill.folder)
        body = expand(body.replace("${CLAUDE_SKILL_DIR}", folder), str(input.get("args") or ""))
        files, more = bundled_files(skill)
        listing = "\n".join(f"- {folder}/{name}" for name in files) if files else "(none)"
        if more:
            listing += f"\n- ... and more: list {folder} to see them all"
        return ToolResult(f"Skill {skill.name!r} loaded ({skill.source}).\n"
                          f"Base directory for this skill: {folder}\n"
                          f"Files bundled with it (Read them when the instructions call for them):\n{listing}\n\n"
                          f"{body}")
