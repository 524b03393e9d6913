"""bzip2 and lzma zip members, decompressed with a bounded output per read.

zipfile decompresses these two methods with no output limit and cuts the result to the size the
central directory declares afterwards: bzip2 shrinks zeros about a million times, so a 1.6 kB
member declaring 1,000 bytes took 4 GB before the cut. Here the member's compressed bytes are read
from behind its local header and handed to the library's file readers (BZ2File, LZMAFile), which
ask the decompressor for at most what the caller reads; the archive's budget does the rest.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zipfile
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations only

BOUNDED = (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_LOCAL = struct.Struct("<4s22xHH")


class _Slice:
    """`length` bytes of a shared file from `start`, read with a seek each time (the file is the
    zip's own handle, shared with nothing else while a member is read)."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        self.handle = handle
        self.at = start
        self.left = length

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        self.handle.seek(self.at)
        data = self.handle.read(n)
        self.at += len(data)
        self.left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        return None


def open_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """A reader of a bzip2 or lzma member's decompressed bytes; zipfile.BadZipFile if it is malformed."""
    handle = archive.fp
    if handle is None:
        raise zipfile.BadZipFile("the archive is closed")
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL.size)
    if len(header) < _LOCAL.size:
        raise zipfile.BadZipFile("a local header is cut short")
    magic, name_len, extra_len = _LOCAL.unpack(header)
    if magic != b"PK\x03\x04":
        raise zipfile.BadZipFile("no local header where the directory says")
    raw = cast(IO[bytes], _Slice(handle, info.header_offset + _LOCAL.size + name_len + extra_len, info.compress_size))
    if info.compress_type == zipfile.ZIP_BZIP2:
        return cast(IO[bytes], _Declared(bz2.BZ2File(raw), info.file_size))
    # ZIP's lzma: a 4-byte header (version, size of the properties), the LZMA1 properties, raw data.
    head = raw.read(4)
    if len(head) < 4:
        raise zipfile.BadZipFile("an lzma header is cut short")
    props = raw.read(struct.unpack("<H", head[2:4])[0])
    if len(props) < 5:
        raise zipfile.BadZipFile("lzma properties are cut short")
    byte, dict_size = props[0], struct.unpack("<I", props[1:5])[0]
    lc, lp, pb = byte % 9, (byte // 9) % 5, byte // 45
    lzma1 = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
    return cast(IO[bytes], _Declared(lzma.LZMAFile(raw, format=lzma.FORMAT_RAW, filters=[lzma1]), info.file_size))


class _Declared:
    """A member's bytes cut at the size its directory entry declares, as zipfile cuts them."""

    def __init__(self, stream: bz2.BZ2File | lzma.LZMAFile, size: int) -> None:
        self.stream = stream
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.stream.read(n) if n > 0 else b""
        self.left -= len(data)
        return data

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
