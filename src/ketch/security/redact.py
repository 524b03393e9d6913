"""Exact-value redaction of known secrets (DESIGN.md §5.6).

Pattern scanners guess; this does not: it removes the literal values ketch itself
holds (API keys, credential-named environment variables and keys stored with
`ketch auth login`) from anything that leaves the process: tool output sent to the model,
transcripts, printed results.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

_MIN_LEN = 8  # shorter values would redact ordinary words


@dataclass
class Redactor:
    secrets: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls, extra: Iterable[str | None] = ()) -> Redactor:
        from ketch.security.secret_env import is_secret

        values = {v for k, v in os.environ.items() if len(v) >= _MIN_LEN and is_secret(k, v)}
        values.update(v for v in extra if v and len(v) >= _MIN_LEN)
        return cls(sorted(values, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self.secrets:
            if value in text:
                text = text.replace(value, "[REDACTED]")
        return text


def known_secret_values() -> list[str]:
    """Keys stored with `ketch auth login`, for `Redactor.from_environment(extra=...)`.

    Lives in security.credentials (which knows the stores); re-exported here because the
    redactor is where callers look. Imported lazily so this module stays light.
    """
    from ketch.security.credentials import known_secret_values as stored

    return stored()
