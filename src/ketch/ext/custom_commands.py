"""Custom slash commands: markdown prompt files, as in Claude Code.

`<project>/.ketch/commands/review.md` becomes `/review`, `$KETCH_HOME/commands/git/pr.md`
becomes `/git:pr`; the project's file wins over the user's on a name clash. A Claude Code
project's `.claude/commands/` is read too; where it and `.ketch/commands/` both define a
name, `.ketch/` wins and the person is told once. The body is a
prompt template: `$ARGUMENTS` is what the person typed after the command, `$1`, `$2`... its
shell-style words. Optional front matter (`---` lines) may give `description:` (shown in
/help and the completion menu) and `argument-hint:`; other keys are ignored on purpose.

Why a project's commands load even in an untrusted folder (DESIGN.md §5.5 holds nothing
from a project before trust): a command is only text that the person sends as their own
prompt, and only when they type its name — the same as pasting it. Nothing here runs, nor
allows, nor changes a setting: no shell interpolation in the body, and keys that would let
a project loosen policy (Claude Code's `allowed-tools`, `model`) are not read at all. One
thing text CAN do is carry a secret to the model, so a project's command file must really
live in the project's commands folder (a symlink to `~/.aws/credentials` or to the project's
`.env` named `review.md` is refused), and every file must be a small regular UTF-8 file;
anything else is skipped with one warning.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 128 * 1024      # a prompt, not a data dump; also bounds what a bad repo can make us read
MAX_FILES = 500             # per folder: a huge tree must not slow the prompt's appearance
MAX_DEPTH = 4               # `a:b:c:d` is deep enough for any real collection
_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_PLACEHOLDER = re.compile(r"\$(ARGUMENTS|[1-9][0-9]*)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CustomCommand:
    name: str             # "review", "git:pr"
    body: str             # the template, front matter removed
    description: str
    argument_hint: str
    source: str           # "project" or "user"
    path: Path            # the file as found (for messages and re-reading)
    root: Path            # the canonical commands folder a project's file must stay inside


def command_folders(workspace: Path, ketch_home: Path) -> list[tuple[str, Path]]:
    """Where commands come from, in load order: later folders win a name clash."""
    return [("user", ketch_home / "commands"), ("project", workspace / ".claude" / "commands"),
            ("project", workspace / ".ketch" / "commands")]


def load_commands(workspace: Path, ketch_home: Path, warn: Callable[[str], None]) -> dict[str, CustomCommand]:
    """Every readable command by name; each bad file costs one warning line and is skipped."""
    found: dict[str, CustomCommand] = {}
    for source, folder in command_folders(workspace, ketch_home):
        if not folder.is_dir():
            continue
        # A project's command files must really be in its commands folder, and that folder in
        # the project (a link to `.env` or `~/.aws/credentials` is not a prompt). The user's own
        # files may live anywhere they like.
        root = Path(os.path.realpath(folder))
        if source == "project" and not _inside(root, Path(os.path.realpath(workspace))):
            warn(f"skipped custom commands in {folder}: the folder points outside the project")
            continue
        for path, name in _walk(folder, warn):
            command = read_command(path, name, source, root, warn)
            if command is None:
                continue
            shadowed = found.get(name)
            if shadowed is not None and shadowed.source == "project":
                warn(f"/{name}: {_rel(path, workspace)} is used, not {_rel(shadowed.path, workspace)}")
            found[name] = command
    return found


def expand_slash_prompt(prompt: str, workspace: Path, ketch_home: Path, warn: Callable[[str], None]) -> str:
    """`ketch -p "/review src/app.py"`: a custom command's text with its arguments; else `prompt`.

    Headless runs have no built-in slash commands, so only a custom name is expanded and any
    other text starting with `/` (a path, say) goes to the model as it was written.
    """
    if not prompt.startswith("/") or prompt.startswith("//"):
        return prompt
    name, *rest = re.split(r"\s", prompt[1:], maxsplit=1)
    command = load_commands(workspace, ketch_home, warn).get(name)
    return prompt if command is None else expand(command.body, rest[0].strip() if rest else "")


def _walk(folder: Path, warn: Callable[[str], None]) -> list[tuple[Path, str]]:
    """(file, command name) for every `*.md` below `folder`; hidden entries are skipped and
    symlinked folders not followed (a link could loop, or lead anywhere)."""
    out: list[tuple[Path, str]] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        rel_parts = Path(current).relative_to(folder).parts
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and len(rel_parts) + 1 < MAX_DEPTH)
        for filename in sorted(files):
            if filename.startswith(".") or not filename.endswith(".md"):
                continue
            parts = [*rel_parts, filename[:-3]]
            if not all(_NAME_PART.fullmatch(p) for p in parts):
                warn(f"skipped custom command {Path(current) / filename}: a command name may use only "
                     "letters, digits, '.', '_' and '-'")
                continue
            if len(out) >= MAX_FILES:
                warn(f"skipped the rest of {folder}: more than {MAX_FILES} command files")
                return out
            out.append((Path(current) / filename, ":".join(parts)))
    return out


def read_command(path: Path, name: str, source: str, root: Path,
                 warn: Callable[[str], None]) -> CustomCommand | None:
    """One command file, or None (after one warning) if it cannot be a command."""
    real = Path(os.path.realpath(path))
    if source == "project" and not _inside(real, root):
        warn(f"skipped custom command {path}: it points outside the project's commands folder ({real})")
        return None
    try:
        info = os.stat(real)
        if not stat.S_ISREG(info.st_mode):
            warn(f"skipped custom command {path}: not a regular file")
            return None
        if info.st_size > MAX_BYTES:
            warn(f"skipped custom command {path}: larger than {MAX_BYTES // 1024} KB")
            return None
        with open(real, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        warn(f"skipped custom command {path}: cannot read it ({exc.strerror or exc})")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        warn(f"skipped custom command {path}: not UTF-8 text")
        return None
    meta, body = split_front_matter(text)
    description = _visible(meta.get("description", "") or _first_line(body))
    return CustomCommand(name, body, description, _visible(meta.get("argument-hint", "")), source, path, root)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(`key: value` pairs, body). Only flat string values: it is YAML-ish, not YAML, so a
    heavy parser is not imported to start the REPL. Without a closing `---` it is all body."""
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        return {}, text
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or line[:1].isspace():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key.strip().lower()] = value
    return meta, "\n".join(lines[end + 1:]).lstrip("\n")


def expand(template: str, arguments: str) -> str:
    """The prompt to send: placeholders filled in one pass (text that came from the arguments
    is never expanded again). With no placeholder, arguments are appended, not dropped."""
    arguments = arguments.strip()
    words = _split_words(arguments)
    used = False

    def fill(found: re.Match[str]) -> str:
        nonlocal used
        used = True
        key = found.group(1)
        if key == "ARGUMENTS":
            return arguments
        index = int(key) - 1
        return words[index] if index < len(words) else ""

    text = _PLACEHOLDER.sub(fill, template).strip()
    if arguments and not used:
        text = f"{text}\n\nARGUMENTS: {arguments}"
    return text


def _split_words(arguments: str) -> list[str]:
    import shlex

    try:
        return shlex.split(arguments)
    except ValueError:  # an unclosed quote: the person still meant words
        return arguments.split()


def _first_line(body: str) -> str:
    for line in body.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:60] + ("…" if len(line) > 60 else "")
    return ""


def _visible(text: str) -> str:
    """Shown in menus and /help: a control character from a file must not reach the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:200]


def _rel(path: Path, workspace: Path) -> str:
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        return str(path)


def _inside(path: Path, root: Path) -> bool:
    return path.parts[: len(root.parts)] == root.parts
