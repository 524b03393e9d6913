"""Read: a text file as numbered lines, the way Claude Code shows it.

The output is what the model will copy from when it edits, so it must be exact (no
reflowing, no dropped whitespace) and bounded (a 50 MB log must not land in the context).
Reading records the file's mtime so Write and Edit can tell whether the model has seen
the current version.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ketch.conversation import ToolDef
from ketch.tools.base import ToolContext, ToolError, ToolKind, ToolResult, load_definition
from ketch.tools.files import format_line
from ketch.tools.paths import missing, resolve
from ketch.tools.target import Target, open_target
from ketch.tools.text_codec import FileFormat, decode
from ketch.tools.validate import require_valid

DEFAULT_LIMIT = 2000
MAX_WHOLE_FILE_BYTES = 256 * 1024
# Bound on the text one call returns, however large the requested range.
MAX_OUTPUT_CHARS = 100_000
BINARY_SNIFF_BYTES = 8192
COUNT_LINES_MAX_BYTES = 256 * 1024 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a jar, wheel or Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x7fELF", "an ELF executable or library"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"MZ", "a Windows executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x00asm", "a WebAssembly module"),
    (b"\x93NUMPY", "a NumPy array"),
    (b"RIFF", "a RIFF media file (WAV, AVI or WebP)"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
)


def describe_binary(head: bytes) -> str:
    """A human name for a binary file's type, from its first bytes; generic when unknown."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "an MP4/QuickTime media file"
    if len(head) >= 4 and head[:4] in (b"\x03\xf3\r\n", b"\x42\x0d\x0d\x0a", b"\xa7\x0d\x0d\x0a", b"\xcb\x0d\x0d\x0a"):
        return "compiled Python bytecode"
    return "a binary file"


def _decode(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.removesuffix("\n")
    text = text.removesuffix("\r")
    return text


def _split_lines(text: str) -> Iterator[str]:
    """Lines ending in "\\n" (only "\\n" breaks a line, as in the file), the last one maybe without."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _count_rest(lines: Iterable[bytes | str]) -> int:
    return sum(1 for _ in lines)


def _line_count(fh: IO[bytes]) -> int:
    """Lines in the rest of the file (a final line without newline counts), up to a bound."""
    count = 0
    last = b""
    seen = 0
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        count += chunk.count(b"\n")
        last = chunk
        seen += len(chunk)
        if seen >= COUNT_LINES_MAX_BYTES:
            return count
    if last and not last.endswith(b"\n"):
        count += 1
    return count


def open_regular(target: Target, workspace: Path) -> tuple[IO[bytes], os.stat_result]:
    """Open the target for reading only if it is a regular file, with a readable error otherwise.

    The type is checked before opening (on the entry itself, never through a symlink),
    because merely opening some devices acts (a tape rewinds, a watchdog arms), and again on
    the open descriptor, in case the entry was swapped in between; O_NONBLOCK keeps a FIFO
    swapped in that way from hanging the open.
    """
    path = target.path
    try:
        entry = target.lstat()
        if entry is None:
            raise FileNotFoundError(path)
        _check_regular(path, entry)
        fd = target.open_read(nonblocking=True)
    except FileNotFoundError:
        shown = missing(path, workspace)
        raise ToolError(f"File does not exist: {shown}{_did_you_mean(path) if shown == str(path) else ''}") from None
    except IsADirectoryError:
        raise ToolError(_directory_message(path)) from None
    except PermissionError:
        raise ToolError(f"Permission denied: {path}") from None
    except OSError as exc:
        raise ToolError(f"Cannot open {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        _check_regular(path, st)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def _check_regular(path: Path, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(_directory_message(path))
    if not stat.S_ISREG(st.st_mode):
        raise ToolError(f"{path} is not a regular file (a device, FIFO or socket); it cannot be read")


def _directory_message(path: Path) -> str:
    return f"{path} is a directory, not a file. List it with Glob (e.g. pattern \"*\") or `ls` in Bash."


def _did_you_mean(path: Path) -> str:
    """Suggest a near-miss sibling name; models often get one letter or an extension wrong."""
    try:
        names = os.listdir(path.parent)
    except OSError:
        return ""
    import difflib

    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.75)
    return f" (did you mean {path.parent / close[0]}?)" if close else ""


def _as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    number = int(value)
    if name == "limit" and number < 1:
        raise ToolError("limit must be at least 1")
    return number


class ReadTool:
    name = "Read"
    kind: ToolKind = "read"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        path = resolve(input["file_path"], ctx.workspace)
        offset = _as_int(input.get("offset"), "offset")
        limit = _as_int(input.get("limit"), "limit")
        with open_target(path, ctx, self.kind) as target:
            fh, st = open_regular(target, ctx.workspace)
        try:
            with fh:
                text = self._read(fh, st, path, offset, limit)
        except OSError as exc:
            raise ToolError(f"Error reading {path}: {exc.strerror or exc}") from None
        with ctx.state.lock:
            ctx.state.read_files[str(path)] = st.st_mtime_ns
        return ToolResult(text)

    def _read(self, fh: IO[bytes], st: os.stat_result, path: Path, offset: int | None, limit: int | None) -> str:
        head = fh.read(BINARY_SNIFF_BYTES)
        fmt = FileFormat()
        if st.st_size <= MAX_WHOLE_FILE_BYTES:
            # Decoded whole, exactly as Edit will decode it: a latin-1 or UTF-16 file reads as
            # its real characters, and old_string copied from here matches (tools.text_codec).
            fh.seek(0)
            text, fmt = decode(fh.read())
            if fmt.bom:
                head = head[len(fmt.bom):].replace(b"\x00", b"") if fmt.encoding.startswith("utf-16") else head
        if b"\x00" in head:
            raise ToolError(f"{path} is {describe_binary(head)}, not text; Read only shows text files.")
        if st.st_size > MAX_WHOLE_FILE_BYTES and offset is None and limit is None:
            fh.seek(0)
            lines = f"{_line_count(fh)} lines"
            if st.st_size > COUNT_LINES_MAX_BYTES:
                lines = "at least " + lines  # counting stopped; saying so beats a minute of I/O
            raise ToolError(
                f"{path} is {st.st_size // 1024} KiB ({lines}), over the 256 KiB limit for a whole-file "
                f"read. Use offset and limit to read a range (e.g. offset=1, limit={DEFAULT_LIMIT}), or Grep to find "
                "the part you need."
            )
        if not head:
            return f"The file {path} exists but is empty."
        fh.seek(0)
        source: Iterable[bytes | str] = _split_lines(text) if st.st_size <= MAX_WHOLE_FILE_BYTES else fh
        start = max(offset or 1, 1)
        count = limit if limit is not None else DEFAULT_LIMIT
        out: list[str] = []
        size = 0
        consumed = 0
        stopped_early = False
        for consumed, raw in enumerate(source, start=1):
            if consumed < start:
                continue
            if len(out) >= count:
                stopped_early = True
                break
            line = format_line(consumed, _decode(raw))
            size += len(line) + 1
            if size > MAX_OUTPUT_CHARS and out:
                stopped_early = True
                break
            out.append(line)
        if not out:
            return (
                f"The file {path} has {consumed} line{'s' if consumed != 1 else ''}; offset {start} is past "
                f"the end. Use an offset between 1 and {max(consumed, 1)}."
            )
        if stopped_early:
            last = start + len(out) - 1
            exact = fh.tell() + COUNT_LINES_MAX_BYTES >= st.st_size
            total = consumed + (_count_rest(source) if source is not fh else _line_count(fh))
            of = f" of {total}" if exact else f" of at least {total}"
            out.append(f"\n[Showing lines {start}-{last}{of}. Use offset={last + 1} to read more.]")
        if fmt.note:
            out.append(f"\n{fmt.note}")
        return "\n".join(out)
