"""A text file's encoding, byte-order mark and line endings, kept through an edit.

Edits must leave a file as its project wrote it (DESIGN.md §4): a latin-1 file stays
latin-1, a BOM stays, CRLF stays CRLF, a final newline stays. And the text a model sees
must be valid Unicode: a file that is not UTF-8 is decoded as Windows-1252 (every byte
means a character, so the round trip is exact) rather than carried as lone surrogates that
no request, transcript or terminal can encode.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketch.tools.base import ToolError

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
LEGACY = "cp1252"


@dataclass(frozen=True)
class FileFormat:
    encoding: str = "utf-8"
    bom: bytes = b""

    @property
    def note(self) -> str:
        """A line for the model when the file is not plain UTF-8 (empty when it is)."""
        if self.encoding == LEGACY or self.encoding == "latin-1":
            return (f"[This file is not UTF-8; it is shown decoded as {self.encoding} (Windows latin-1). "
                    "Edits keep that encoding.]")
        if self.encoding.startswith("utf-16"):
            return f"[This file is {self.encoding.upper()} with a byte-order mark; edits keep it.]"
        return ""

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            raise ToolError(f"the new text has {bad!r}, which this file's encoding ({self.encoding}) cannot hold; "
                            "write it another way (an escape, or plain ASCII)") from None


def decode(raw: bytes) -> tuple[str, FileFormat]:
    """The file's text and how to write it back."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(encoding), FileFormat(encoding, bom)
            except UnicodeDecodeError:
                break
    try:
        return raw.decode("utf-8"), FileFormat()
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode(LEGACY), FileFormat(LEGACY)
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined: latin-1 takes every byte
        return raw.decode("latin-1"), FileFormat("latin-1")


def uses_crlf(text: str) -> bool:
    """Most line breaks are CRLF."""
    crlf = text.count("\r\n")
    return crlf > 0 and crlf >= text.count("\n") - crlf


def follow_line_endings(before: str, new: str) -> str:
    """`new` with its line breaks in `before`'s convention."""
    if uses_crlf(before):
        return new.replace("\r\n", "\n").replace("\n", "\r\n")
    return new


def keep_final_newline(before: str, after: str) -> str:
    """A file that ended with a line break still does after the edit."""
    if before.endswith("\n") and after and not after.endswith("\n"):
        return after + ("\r\n" if uses_crlf(before) else "\n")
    return after
