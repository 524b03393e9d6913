"""What kind of opaque file a head of bytes is, the way `file(1)` would say it, in a few lines.

For the large-binary finding: a person deciding whether a 40 MB member belongs in the package
wants "ELF executable" or "SQLite database", not a hex dump. Archives are told apart so the
caller can leave them to the reader, which unpacks zip, tar and gzip members itself.
"""

from __future__ import annotations

import struct

_SAMPLE = 65536
# bytes a text file is made of: printable ASCII, common controls, and anything ≥ 0x80 (UTF-8, latin-1)
_TEXTISH = bytes(range(0x20, 0x7F)) + b"\t\n\r\f\v\b\x1b" + bytes(range(0x80, 0x100))

# (offset, magic, description), checked in order; first match wins
_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x7fELF", "ELF executable or library"),
    (0, b"\xfe\xed\xfa\xce", "Mach-O binary"), (0, b"\xfe\xed\xfa\xcf", "Mach-O binary"),
    (0, b"\xce\xfa\xed\xfe", "Mach-O binary"), (0, b"\xcf\xfa\xed\xfe", "Mach-O binary"),
    (0, b"\0asm", "WebAssembly module"),
    (0, b"SQLite format 3\0", "SQLite database"),
    (0, b"%PDF-", "PDF document"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"), (0, b"\xff\xd8\xff", "JPEG image"), (0, b"GIF8", "GIF image"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM video"), (0, b"OggS", "Ogg media"), (0, b"fLaC", "FLAC audio"),
    (0, b"ID3", "MP3 audio"), (4, b"ftyp", "MP4/QuickTime media"),
    (0, b"PAR1", "Parquet data"), (0, b"ARROW1", "Arrow data"), (0, b"\x89HDF\r\n\x1a\n", "HDF5 data"),
    (0, b"wOFF", "WOFF font"), (0, b"wOF2", "WOFF2 font"), (0, b"OTTO", "OpenType font"),
    (0, b"\x00\x01\x00\x00\x00", "TrueType font"),
    (0, b"\x28\xb5\x2f\xfd", "zstd-compressed data"), (0, b"\xfd7zXZ\0", "xz-compressed data"),
    (0, b"BZh", "bzip2-compressed data"), (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"), (0, b"\x04\x22\x4d\x18", "LZ4-compressed data"),
    (0, b"!<arch>\n", "ar archive (static library or .deb)"),
    (0, b"MDMP", "Windows minidump"),
    (0, b"\xed\xab\xee\xdb", "RPM package"),
)
_RIFF = {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}


def is_archive(head: bytes) -> bool:
    """zip, gzip or tar: the reader opens these and hands their members to the checks."""
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06") or head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar"


def is_text(head: bytes) -> bool:
    """No NUL and under 1% control bytes in the first 64 KB (a UTF-16 BOM counts as text too)."""
    sample = head[:_SAMPLE]
    if sample[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    if not sample or b"\0" in sample:
        return not sample
    return len(sample.translate(None, _TEXTISH)) * 100 <= len(sample)


def guess(head: bytes) -> str:
    """A short description of an opaque head of bytes."""
    for offset, magic, what in _MAGICS:
        if head[offset:offset + len(magic)] == magic:
            if what.startswith("ELF") and len(head) >= 18:
                return _elf(head)
            return what
    if head[:2] == b"MZ":
        return "Windows PE executable or DLL"
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12], "RIFF media")
    if head[:4] == b"\xca\xfe\xba\xbe" and len(head) >= 8:
        # fat Mach-O counts its architectures (a few); a Java class has its version there (≥ 45)
        return "Mach-O universal binary" if struct.unpack_from(">I", head, 4)[0] < 20 else "Java class file"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "Python pickle (runs code when loaded)"
    return "unrecognised binary data"


def _elf(head: bytes) -> str:
    order = "<" if head[5:6] == b"\x01" else ">"
    e_type = struct.unpack_from(order + "H", head, 16)[0]
    return {1: "ELF relocatable object", 2: "ELF executable", 3: "ELF shared library or PIE executable",
            4: "ELF core dump"}.get(e_type, "ELF file")


def is_core_dump(head: bytes) -> bool:
    return head[:4] == b"\x7fELF" and len(head) >= 18 and guess(head) == "ELF core dump" or head[:4] == b"MDMP"
