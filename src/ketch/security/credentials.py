"""Stored API keys: the OS keyring when it works, else an owner-only file (DESIGN.md §5.6).

Where a key is looked for, in order (the caller checks the provider's environment variable,
e.g. ANTHROPIC_API_KEY, before all of these, and it always wins):

1. `$KETCH_HOME/credentials.json` (0600 in a 0700 folder). It is read first because it is
   cheap: importing `keyring` costs tens of milliseconds, which start-up must not pay when
   the key is in the file or the environment.
2. The OS keyring (service "ketch", user = provider), through the optional `keyring`
   package, unless KETCH_KEYRING=0. A missing package, the `fail` backend, a chainer with no
   backends, or any keyring exception all mean "no keyring".

`store_key` writes to the keyring when one is usable and removes any file copy (the file is
read first, so a stale copy there would shadow the new key); otherwise it writes the file.
The file is never world-readable, not even for an instant (see security.private_file).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ketch.config.providers import API_KEY_ENV, PROVIDERS
from ketch.config.settings import ketch_home
from ketch.errors import CredentialError
from ketch.security.private_file import write_private_atomic

SERVICE = "ketch"
FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class StoredKey:
    value: str
    where: str  # "keyring (BackendName)" or the file's path


def credentials_path() -> Path:
    return ketch_home() / FILE_NAME


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise CredentialError(f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")


# --- the file store ------------------------------------------------------------------------


def _read_file() -> dict[str, str]:
    return _read_data()[0]


def _read_data() -> tuple[dict[str, str], dict[str, Any]]:
    """The provider keys, and the file's other sections (MCP servers' OAuth tokens), kept as they are."""
    path = credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, {}
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise CredentialError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: fix it, or delete "
                              "the file and run `ketch auth login` again") from None
    keys = data.get("keys", {}) if isinstance(data, dict) else None
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise CredentialError(f'{path}: expected {{"keys": {{"anthropic": "..."}}}}: delete the file and run '
                              "`ketch auth login` again")
    sections = {k: v for k, v in data.items() if k not in ("version", "keys") and isinstance(v, dict)}
    return {k: v for k, v in keys.items() if v}, sections


def _write_file(keys: dict[str, str], sections: dict[str, Any] | None = None) -> None:
    """Write the keys; `sections` None keeps the file's other sections as they are."""
    path = credentials_path()
    if sections is None:
        sections = _read_data()[1]
    sections = {k: v for k, v in sections.items() if v}
    if not keys and not sections:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    body = {"version": 1, "keys": dict(sorted(keys.items())), **dict(sorted(sections.items()))}
    write_private_atomic(path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))


def read_section(name: str) -> dict[str, Any]:
    """A section of the credential file beside the provider keys (e.g. "mcpOAuth"), {} when absent."""
    return dict(_read_data()[1].get(name, {}))


def write_section(name: str, value: dict[str, Any]) -> None:
    """Replace one section (an empty one is removed); the keys and other sections stay. The callers
    serialise their own read-modify-write; the file itself is replaced atomically, 0600 from its first byte."""
    keys, sections = _read_data()
    sections[name] = value
    _write_file(keys, sections)


# --- the keyring ---------------------------------------------------------------------------


def keyring_enabled() -> bool:
    return os.environ.get("KETCH_KEYRING", "").strip() != "0"


def _keyring() -> Any | None:
    """The keyring module when a real backend is there, else None. Imports it on first use."""
    if not keyring_enabled():
        return None
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return None
        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            return None
        return keyring
    except Exception:  # noqa: BLE001 - ImportError, a broken backend, a locked D-Bus session...
        return None


def _backend_name(keyring: Any) -> str:
    try:
        return type(keyring.get_keyring()).__name__
    except Exception:  # noqa: BLE001 - a backend may raise anything; the name is for display only
        return "unknown"


def _keyring_get(provider: str, keyring: Any | None = None) -> StoredKey | None:
    keyring = keyring or _keyring()
    if keyring is None:
        return None
    try:
        value = keyring.get_password(SERVICE, provider)
    except Exception:  # noqa: BLE001 - a backend may raise anything (D-Bus, a locked collection): no key
        return None
    return StoredKey(value, f"keyring ({_backend_name(keyring)})") if value else None


# --- the API -------------------------------------------------------------------------------


def lookup(provider: str) -> StoredKey | None:
    """The stored key and where it lives: the file first, then the keyring."""
    _check_provider(provider)
    value = _read_file().get(provider)
    if value:
        return StoredKey(value, str(credentials_path()))
    return _keyring_get(provider)


def get_stored_key(provider: str) -> str | None:
    """The stored key for `provider`, or None. The environment variable is the caller's to check."""
    found = lookup(provider)
    return found.value if found else None


def store_key(provider: str, key: str) -> str:
    """Store `key` and return where it went (for the user, never containing the key)."""
    _check_provider(provider)
    keyring = _keyring()
    if keyring is not None:
        try:
            keyring.set_password(SERVICE, provider, key)
        except Exception:  # noqa: BLE001 - e.g. a locked collection: fall back to the file
            keyring = None
        else:
            keys = _read_file()
            if keys.pop(provider, None) is not None:
                _write_file(keys)
            return f"keyring ({_backend_name(keyring)})"
    keys = _read_file()
    keys[provider] = key
    _write_file(keys)
    return str(credentials_path())


def delete_key(provider: str) -> bool:
    """Remove the stored key from the file and the keyring; True when one was removed."""
    _check_provider(provider)
    removed = False
    keys = _read_file()
    if keys.pop(provider, None) is not None:
        _write_file(keys)
        removed = True
    keyring = _keyring()
    if keyring is not None:
        try:
            if keyring.get_password(SERVICE, provider):
                keyring.delete_password(SERVICE, provider)
                removed = True
        except Exception:  # noqa: BLE001, S110 - a backend that cannot delete keeps its copy; the file's is gone
            pass
    return removed


def env_override(provider: str) -> str | None:
    """The name of the environment variable that overrides the stored key, when it is set."""
    name = API_KEY_ENV[provider]
    return name if os.environ.get(name) else None


def known_secret_values() -> list[str]:
    """Every stored key, for exact-value redaction.

    The file store is always read (it is cheap). The keyring is asked only when the module is
    already loaded, i.e. this process already paid for it because a key lives there: every
    run calls this, and start-up must not import keyring for a key that is in the environment.
    A broken store yields what could be read: redaction must never stop a run.
    """
    values: list[str] = []
    try:
        keys, sections = _read_data()
        values += list(keys.values())
        values += [v for v in _nested_strings(sections.get("mcpOAuth", {}), _SECRET_FIELDS) if len(v) >= 8]
    except CredentialError:
        pass
    if "keyring" in sys.modules:
        keyring = _keyring()
        for provider in PROVIDERS:
            found = _keyring_get(provider, keyring) if keyring else None
            if found:
                values.append(found.value)
    return sorted(set(values))


_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "client_secret"})


def _nested_strings(value: Any, fields: frozenset[str]) -> list[str]:
    """The string values of `fields` anywhere in nested dicts."""
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        if key in fields and isinstance(item, str):
            found.append(item)
        found += _nested_strings(item, fields)
    return found


@cache
def _prefix() -> re.Pattern[str]:
    """A key's readable prefix (`sk-ant-`); compiled at first use: only `auth status` masks keys."""
    return re.compile(r"^[A-Za-z]+-(?:[A-Za-z]+-)?")


def mask(key: str) -> str:
    """A recognisable but useless form of a key: `sk-ant-…9f3c`."""
    prefix_match = _prefix().match(key)
    prefix = prefix_match.group(0) if prefix_match and len(prefix_match.group(0)) <= 10 else ""
    tail = key[-4:] if len(key) - len(prefix) >= 16 else ""
    return f"{prefix}…{tail}"
