"""Archives read member by member, never extracted: zip (wheels, jars, .npz, torch files), tar in
any compression (npm tarballs, sdists, docker-save images and their layers) and lone gzip files.

A hostile archive is data, not danger: nothing is written but bounded temp files for nested
archives too big for memory; `..`, absolute names and links are reported, never followed; a
member that claims or reaches a bomb's ratio is skipped, and the whole artifact stops expanding
at `Limits.ratio` times its own size (plus `Limits.slack`). Each of these is a finding; a
corrupt stream ends its archive with a finding, and the rest of the artifact goes on.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Protocol, cast

from ketch.audit.model import OVERLAP, Entry, Finding, Kind, Piece, Severity

Opener = Callable[[], IO[bytes]]

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_STREAMED = (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, ValueError,
             RuntimeError, NotImplementedError)


@dataclass(frozen=True)
class Limits:
    """What a reader may spend on one artifact; every one is exercised by a hostile-archive test."""

    whole: int = 64 << 20       # a member up to this arrives as one piece
    whole_map: int = 256 << 20  # a source map up to this arrives whole (Claude Code's was 57 MB)
    window: int = 16 << 20      # larger members arrive in windows of this size
    in_memory: int = 8 << 20    # a nested archive up to this is opened from memory, else from a temp file
    depth: int = 4              # archives inside archives inside ...
    ratio: int = 200            # a member, or the artifact as a whole, may expand this many times ...
    slack: int = 512 << 20      # ... plus this much (a plain tar of a 2 GB file expands 1×)
    members: int = 200_000      # each costs ~600 bytes of inventory and check state: 1M empty members took 643 MB


class Readable(Protocol):
    """Anything a member's bytes can be read from: a file, an archive member, a bounded git stream."""

    def read(self, n: int = -1, /) -> bytes: ...


class Sink(Protocol):
    """Where a reader hands what it finds: the scanner."""

    def entry(self, entry: Entry) -> None: ...

    def piece(self, piece: Piece) -> None: ...

    def problem(self, finding: Finding) -> None: ...

    def metadata(self, path: str, data: bytes) -> None: ...


class TooBig(Exception):
    """The artifact expanded past its budget: reading stops, the finding is already made."""


def kind_of(head: bytes) -> str:
    """Which archive reader a member's first bytes call for ("" when it is not an archive)."""
    if head.startswith(_ZIP):
        return "zip"
    if head.startswith((_GZIP, _BZIP2, _XZ)):
        return "compressed"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return ""


def archive_problem(title: str, path: str, severity: Severity = Severity.LOW, enables: str = "",
                    rule: str = "archive/unreadable") -> Finding:
    return Finding(Kind.ARCHIVE, severity, title, path=path, enables=enables, rule=rule,
                   fix="rebuild the artifact with the ecosystem's own packer (npm pack, python -m build)")


class ArchiveReader:
    """Streams one artifact's members into a Sink, recursing into nested archives to `Limits.depth`."""

    def __init__(self, sink: Sink, limits: Limits, input_size: int) -> None:
        self.sink = sink
        self.limits = limits
        self.budget = limits.slack + limits.ratio * max(input_size, 1)
        self.expanded = 0
        self.unpacked = 0  # decompressed tar streams, read as a whole (their members count in `expanded` too)
        self.members = 0
        self.top_name = "data"  # what a lone compressed file at the top holds is named after it

    def grow_budget(self, input_size: int) -> None:
        """A folder's files are inputs too: each one read raises what its archives may expand to."""
        self.budget += self.limits.ratio * input_size

    # -- one member ------------------------------------------------------------------------

    def member(self, path: str, size: int, stream: Readable, depth: int) -> None:
        """Hand one member's bytes to the sink as pieces, then open it if it is an archive."""
        self.members += 1
        if self.members > self.limits.members:
            self.sink.problem(archive_problem(f"more than {self.limits.members:,} members: the rest were not read",
                                              path, Severity.MEDIUM, rule="archive/too-many-members"))
            raise TooBig
        self.sink.entry(Entry(path, size))
        whole_limit = self.limits.whole_map if path.endswith(".map") else self.limits.whole
        if size <= whole_limit:
            data = self._read(stream, whole_limit + 1, path)
            if len(data) < size:
                self._short(path, len(data), size)
            self.sink.piece(Piece(path, data, 0, len(data), True))
            if depth == 0:
                self.sink.metadata(path, data)
            kind = kind_of(data[:512])
            if not kind:
                return
            if len(data) <= self.limits.in_memory:
                self.nested(path, kind, lambda: io.BytesIO(data), len(data), depth + 1)
                return
            # Spooled, and this level's copy let go: each level of a nested archive holding its bytes
            # while its child is read made five stored 60 MB zips peak at 944 MB.
            size = len(data)
            with tempfile.TemporaryFile(prefix="ketch-audit-") as spool:
                spool.write(data)
                del data
                spool.flush()
                self.nested(path, kind, lambda: _reopen(spool), size, depth + 1)
            return
        self._windows(path, size, stream, depth)

    def _windows(self, path: str, size: int, stream: Readable, depth: int) -> None:
        """A member too big to hold: windows that overlap by OVERLAP, spooled to a temp file only if
        it is itself an archive (its members are read from there)."""
        window = self.limits.window
        carry = b""
        offset = 0
        spool: IO[bytes] | None = None
        kind = ""
        while True:
            chunk = self._read(stream, window, path)
            if offset == 0:
                kind = kind_of(chunk[:512])
                if kind:
                    spool = tempfile.TemporaryFile(prefix="ketch-audit-")  # noqa: SIM115 - closed after its nested read
            if spool is not None:
                spool.write(chunk)
            data = carry + chunk
            start = offset - len(carry)
            last = len(chunk) < window
            if data:
                self.sink.piece(Piece(path, data, start, size, False))
            offset += len(chunk)
            if last:
                break
            carry = data[-OVERLAP:]
        if offset < size:
            self._short(path, offset, size)
        if spool is not None:
            with spool:
                spool.flush()
                self.nested(path, kind, lambda: _reopen(spool), offset, depth + 1)

    def _short(self, path: str, got: int, size: int) -> None:
        self.sink.problem(archive_problem(f"truncated: {got:,} of {size:,} bytes", path, rule="archive/truncated"))

    def _read(self, stream: Readable, n: int, path: str) -> bytes:
        data = stream.read(n)
        self.expanded += len(data)
        if self.expanded > self.budget:
            self.bomb(path)
        return data

    def _unpack(self, n: int, path: str) -> None:
        self.unpacked += n
        if self.unpacked > self.budget:
            self.bomb(path)

    def bomb(self, path: str) -> None:
        """Say the artifact is a decompression bomb, and stop reading it (TooBig)."""
        self.sink.problem(archive_problem(
            f"expands past {self.budget >> 20:,} MiB ({self.limits.ratio}× its size): a decompression bomb; "
            "reading stopped here", path, Severity.MEDIUM,
            enables="an installer or scanner that unpacks it fills its disk or memory", rule="archive/bomb"))
        raise TooBig

    # -- archives ---------------------------------------------------------------------------

    def nested(self, path: str, kind: str, opener: Opener, size: int, depth: int) -> None:
        """Open an archive found at `path` (the artifact itself when depth is 0)."""
        if depth > self.limits.depth:
            self.sink.problem(archive_problem(f"an archive nested deeper than {self.limits.depth} levels was not opened",
                                              path, Severity.INFO, rule="archive/too-deep"))
            return
        prefix = f"{path}!/" if path else ""
        if kind == "zip":
            self.zip(opener, prefix, size, depth)
        elif kind in ("tar", "compressed"):
            self.tar(opener, prefix, path, depth)

    def zip(self, opener: Opener, prefix: str, size: int, depth: int) -> None:
        try:
            archive = zipfile.ZipFile(opener())
        except _STREAMED as exc:
            self.sink.problem(archive_problem(f"unreadable zip: {_why(exc)}", prefix.rstrip("!/")))
            return
        with archive:
            for info in archive.infolist():
                name = prefix + _clean_name(info.filename, self.sink, prefix)
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    target = archive.read(info)[:4096].decode("utf-8", "replace") if info.file_size < 4096 else "?"
                    self.sink.entry(Entry(name, 0, link=target))
                    continue
                if info.flag_bits & 0x1:
                    self.sink.problem(archive_problem("an encrypted member was not read", name, Severity.INFO,
                                                      rule="archive/encrypted"))
                    continue
                if (info.file_size > self.limits.slack // 4
                        and info.file_size > self.limits.ratio * max(info.compress_size, 1)):
                    self.sink.problem(archive_problem(
                        f"claims {info.file_size:,} bytes from {info.compress_size:,}: a zip bomb; not read", name,
                        Severity.MEDIUM, enables="an installer or scanner that unpacks it fills its disk or memory",
                        rule="archive/bomb"))
                    continue
                try:
                    with _open_member(archive, info) as stream:
                        self.member(name, info.file_size, stream, depth)
                except TooBig:
                    raise
                except _STREAMED as exc:
                    self.sink.problem(archive_problem(f"unreadable member: {_why(exc)}", name))

    def tar(self, opener: Opener, prefix: str, path: str, depth: int) -> None:
        """Any tar, any compression, in stream mode (one pass, no seeking); a gzip that holds no
        tar is read as one compressed file."""
        raw = opener()
        stream = Counted(decompressed(raw), lambda n: self._unpack(n, path))
        try:
            archive = tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|", tarinfo=_TarInfo)  # noqa: SIM115 - `with archive` below; open may raise
        except tarfile.ReadError:
            raw.close()
            self._lone_compressed(opener, prefix, path, depth)
            return
        except _STREAMED as exc:
            raw.close()
            self.sink.problem(archive_problem(f"unreadable archive: {_why(exc)}", path))
            return
        last = path
        try:
            with archive, raw:
                for info in archive:
                    name = prefix + _clean_name(info.name, self.sink, prefix)
                    last = name
                    if info.issym() or info.islnk():
                        self.sink.entry(Entry(name, 0, link=info.linkname, hardlink=info.islnk()))
                    elif info.isfile():
                        member = archive.extractfile(info)
                        if member is not None:
                            self.member(name, info.size, member, depth)
                # To the compressed stream's end, counted: tarfile stops quietly at a header cut short
                # (a truncated download would look complete), and zeros after the end marker are a bomb.
                while stream.read(1 << 20):
                    pass
        except TooBig:
            raise
        except _STREAMED as exc:
            self.sink.problem(archive_problem(f"truncated or corrupt after {last or 'its start'}: {_why(exc)}",
                                              path, rule="archive/truncated"))

    def _lone_compressed(self, opener: Opener, prefix: str, path: str, depth: int) -> None:
        """A compressed file that holds no tar: decompressed into a temp file (its size is unknown
        until then), within the artifact's budget, then read as one member."""
        import bz2
        import gzip

        raw = opener()
        head = raw.read(8)
        raw.seek(0)
        stream: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile
        if head.startswith(_GZIP):
            stream = gzip.GzipFile(fileobj=raw)
        elif head.startswith(_BZIP2):
            stream = bz2.BZ2File(raw)
        else:
            stream = lzma.LZMAFile(raw)  # noqa: SIM115 - `with stream` below
        name = path.rsplit("/", 1)[-1] if path else self.top_name
        inner = prefix + (name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".bz2").removesuffix(".xz") or "data")
        with stream, tempfile.TemporaryFile(prefix="ketch-audit-") as spool:
            try:
                while chunk := self._read(stream, self.limits.window, path):
                    spool.write(chunk)
            except _STREAMED as exc:
                self.sink.problem(archive_problem(f"corrupt compressed data: {_why(exc)}", path or name,
                                                  rule="archive/truncated"))
                return
            size = spool.tell()
            self.expanded -= size  # counted once, when read again below
            spool.seek(0)
            self.member(inner, size, spool, depth)


_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)
_MAX_EXTENDED = 8 << 20


class HugeHeader(tarfile.TarError):
    """A pax or GNU long-name record too big to be anything but an attack."""


class _TarInfo(tarfile.TarInfo):
    """tarfile reads a pax or GNU long-name record whole before parsing it: 400 kB of gzip claiming
    a 400 MB record peaked at 846 MB. Real ones are a few hundred bytes (xattrs: kilobytes)."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > _MAX_EXTENDED:
            raise HugeHeader(f"an extended header claims {self.size:,} bytes")
        return super()._proc_member(tarfile)  # type: ignore[misc,no-any-return]


def decompressed(raw: IO[bytes]) -> IO[bytes]:
    """`raw`, decompressed by the library's file readers, which ask for a bounded output per call.

    tarfile's own stream mode ("r|*") decompresses each block it reads with no output limit, and
    bzip2 shrinks zeros about a million times: 3 kB of `.tar.bz2` became gigabytes in one call.
    """
    import bz2
    import gzip

    head = raw.read(6)
    raw.seek(0)
    if head.startswith(_GZIP):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw))
    if head.startswith(_BZIP2):
        return cast(IO[bytes], bz2.BZ2File(raw))
    if head.startswith(_XZ):
        return cast(IO[bytes], lzma.LZMAFile(raw))
    return raw


class Counted:
    """A tar's decompressed stream, every byte counted (`spend` may stop the read): headers, members
    never handed on (devices, unknown types) and what follows the end marker included."""

    def __init__(self, stream: IO[bytes], spend: Callable[[int], None]) -> None:
        self.stream = stream
        self.spend = spend
        # read1: what one read of the compressed input gives; read() would drop it all when a later
        # read finds the stream cut short, and a truncated download keeps what it holds.
        self._read = getattr(stream, "read1", stream.read)

    def read(self, n: int = -1) -> bytes:
        data = self._read(n if n >= 0 else 1 << 20)
        self.spend(len(data))
        return data


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    from ketch.audit.zipmembers import BOUNDED, open_bounded

    return open_bounded(archive, info) if info.compress_type in BOUNDED else archive.open(info)


def _reopen(spool: IO[bytes]) -> IO[bytes]:
    """An independent handle on a spooled temp file, so a nested reader may close it freely."""
    handle = open(os.dup(spool.fileno()), "rb")  # noqa: SIM115 - the nested reader closes it
    handle.seek(0)
    return handle


def _clean_name(name: str, sink: Sink, prefix: str) -> str:
    """A member name as shown: `..` and absolute names are reported and shown without their escape."""
    shown = name.replace("\\", "/")
    parts = [p for p in shown.split("/") if p not in ("", ".")]
    if shown.startswith("/") or (len(shown) > 1 and shown[1] == ":") or ".." in parts:
        sink.problem(archive_problem(
            f"member name escapes the archive: {name!r}", prefix + "/".join(p for p in parts if p != ".."),
            Severity.MEDIUM, enables="a naive extractor writes outside its folder", rule="archive/path-traversal"))
        parts = [p for p in parts if p != ".."]
    return "/".join(parts)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
