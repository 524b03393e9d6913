"""Find the installed skills: `SKILL.md` folders, as Claude Code lays them out.

Where from, first found wins a name clash:

    project   <workspace>/.ketch/skills/<name>/SKILL.md
              <workspace>/.claude/skills/<name>/SKILL.md
    user      $KETCH_HOME/skills/<name>/SKILL.md
              ~/.claude/skills/<name>/SKILL.md

The project wins over the user as its custom commands do; inside one level `.ketch/` wins
over `.claude/`, and the person is told once. A skill is prompt text only (DESIGN.md §5.6):
its front matter's `allowed-tools`, `model` and the rest are not read, so a skill grants no
tool and changes no setting. Only `name` and `description` reach the system prompt, cut to
~40 tokens a skill; the body is read when the model asks for it (the Skill tool). A project's
SKILL.md is read by the rules of every project prompt file (security.prompt_files): real path
inside the project, a small regular file, not a credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ketch.security.prompt_files import Refused, read_prompt_file

SKILL_FILE = "SKILL.md"
MAX_SKILL_BYTES = 128 * 1024   # a skill's instructions, not a data dump
MAX_SKILLS = 100               # per folder: a huge tree must not slow start-up
MAX_NAME_CHARS = 64            # Claude Code's limit for a skill's name
MAX_DESCRIPTION_CHARS = 120    # and shorter still when the name is long:
MAX_LINE_BYTES = 160           # "- name: description" ≤ 160 bytes: ≤ 40 tokens at 4 bytes a token
MAX_BUNDLED = 50               # files listed when a skill is loaded


@cache
def _name() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


@cache
def _control() -> re.Pattern[str]:
    """Escape sequences' introducers, other C0/C1 controls, line and paragraph separators, bidi overrides."""
    return re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Skill:
    name: str
    description: str      # one line, capped: what the system prompt shows
    source: str           # "project" or "user"
    folder: Path          # the skill's folder as found
    root: Path            # where its files must really be: the project, or the skill's own folder

    @property
    def path(self) -> Path:
        return self.folder / SKILL_FILE


def skill_folders(workspace: Path, ketch_home: Path, home: Path) -> list[tuple[str, Path]]:
    """Where skills come from, highest precedence first."""
    return [("project", workspace / ".ketch" / "skills"), ("project", workspace / ".claude" / "skills"),
            ("user", ketch_home / "skills"), ("user", home / ".claude" / "skills")]


def load_skills(workspace: Path, ketch_home: Path, home: Path, warn: Callable[[str], None]) -> list[Skill]:
    """Every usable skill, sorted by name; each one skipped costs one line to `warn`."""
    found: dict[str, Skill] = {}
    workspace = Path(os.path.realpath(workspace))
    for source, folder in skill_folders(workspace, ketch_home, home):
        if not os.path.isdir(folder):
            continue
        for skill in _folder_skills(source, folder, workspace, home, warn):
            first = found.get(skill.name)
            if first is None:
                found[skill.name] = skill
            elif first.source == skill.source:
                warn(f"skill {skill.name!r}: {_short(first.path, workspace)} is used, "
                     f"not {_short(skill.path, workspace)}")
    return sorted(found.values(), key=lambda s: s.name)


def _folder_skills(source: str, folder: Path, workspace: Path, home: Path,
                   warn: Callable[[str], None]) -> list[Skill]:
    if source == "project" and not _inside(Path(os.path.realpath(folder)), workspace):
        warn(f"skipped the skills in {folder}: the folder points outside the project")
        return []
    try:
        entries = sorted(e for e in os.listdir(folder) if not e.startswith("."))
    except OSError as exc:
        warn(f"skipped the skills in {folder}: cannot list it ({exc.strerror or exc})")
        return []
    if len(entries) > MAX_SKILLS:
        warn(f"skipped the skills of {folder} after the first {MAX_SKILLS}")
        entries = entries[:MAX_SKILLS]
    skills = []
    for entry in entries:
        skill_dir = folder / entry
        if not os.path.lexists(skill_dir / SKILL_FILE):
            continue
        root = workspace if source == "project" else Path(os.path.realpath(skill_dir))
        skill = read_skill(skill_dir, source, root, home, warn)
        if skill is not None:
            skills.append(skill)
    return skills


def read_skill(skill_dir: Path, source: str, root: Path, home: Path, warn: Callable[[str], None]) -> Skill | None:
    """One skill's name and description, or None after one warning."""
    text = read_body_text(skill_dir, root, home)
    if isinstance(text, Refused):
        warn(f"skipped skill {visible(str(skill_dir / SKILL_FILE))}: {text.reason}")
        return None
    if text is None:
        return None
    meta, _ = front_matter(text)
    name = meta.get("name") or skill_dir.name
    if not _name().fullmatch(name) or len(name) > MAX_NAME_CHARS:
        warn(f"skipped skill {visible(str(skill_dir))}: its name {visible(name)!r} must be up to "
             f"{MAX_NAME_CHARS} letters, digits, '-', '_', '.' or ':'")
        return None
    description = one_line(meta.get("description", ""))
    if not description:
        warn(f"skipped skill {name!r} ({visible(str(skill_dir))}): its SKILL.md has no description: in its front "
             "matter, say when to use it")
        return None
    return Skill(name, cap(description, MAX_LINE_BYTES - len(f"- {name}: ")), source, skill_dir, root)


def read_body_text(skill_dir: Path, root: Path, home: Path) -> str | Refused | None:
    return read_prompt_file(skill_dir / SKILL_FILE, root, max_bytes=MAX_SKILL_BYTES, home=home)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """(`key: value` pairs, body). YAML-ish, not YAML: flat keys, quoted or plain values, and a
    value continued on indented lines (`description: >` and the like) joined into one line."""
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {}, text
    meta: dict[str, str] = {}
    key = None
    for line in lines[1:end]:
        if line[:1].isspace() and key is not None:
            meta[key] = (meta[key] + " " + line.strip()).strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or line[:1].isspace():
            key = None
            continue
        key = name.strip().lower()
        value = value.strip()
        if value in (">", "|", ">-", "|-", ">+", "|+"):
            value = ""
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key] = value
    return meta, "\n".join(lines[end + 1:]).lstrip("\n")


def one_line(text: str) -> str:
    """Control characters (escape sequences, bidi overrides) become spaces; whitespace collapses."""
    return " ".join(_control().sub(" ", text).split())


def cap(description: str, max_bytes: int) -> str:
    """At most MAX_DESCRIPTION_CHARS characters and `max_bytes` UTF-8 bytes, "…" marking a cut."""
    if len(description) <= MAX_DESCRIPTION_CHARS and len(description.encode()) <= max_bytes:
        return description
    cut = description[: MAX_DESCRIPTION_CHARS - 1]
    while len(cut.encode()) > max_bytes - 3:  # "…" is 3 bytes
        cut = cut[:-1]
    return cut.rstrip() + "…"


def visible(text: str) -> str:
    """For a warning: a control character from a file name must not reach the terminal."""
    return _control().sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def bundled_files(skill: Skill) -> tuple[list[str], bool]:
    """The files a skill ships beside SKILL.md, relative to its folder, and whether there are more
    than MAX_BUNDLED: names only (the model Reads them through the gate). Hidden entries and
    linked folders are not walked."""
    out: list[str] = []
    for current, dirs, files in os.walk(skill.folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(current).relative_to(skill.folder)
        for filename in sorted(files):
            if filename.startswith(".") or (rel == Path(".") and filename == SKILL_FILE):
                continue
            if len(out) >= MAX_BUNDLED:
                return out, True
            out.append(visible(str(rel / filename)))
    return out, False


def _short(path: Path, workspace: Path) -> str:
    try:
        return visible(str(path.relative_to(workspace)))
    except ValueError:
        return visible(str(path))


def _inside(path: Path, root: Path) -> bool:
    return path.parts[: len(root.parts)] == root.parts
