"""Random (version 4) UUIDs as text, without importing `uuid`.

On Linux `import uuid` imports `platform` and runs its detection: ~2 ms of every start on the
2-core VM (BENCHMARKS.md), for ids that need only sixteen random bytes: the session id, the
`uuid` of each stream-json message.
"""

from __future__ import annotations

import os


def uuid4() -> str:
    """What `str(uuid.uuid4())` returns: 16 bytes from os.urandom, version 4, the RFC 4122 variant."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10xx
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
