"""Stored credentials: private file, atomic writes, lookup order, a fake keyring (never the real one)."""

from __future__ import annotations

import json
import os
import stat
import sys
import types
from pathlib import Path

import pytest

from ketch.errors import ConfigError
from ketch.security import credentials as cred
from ketch.security import private_file
from ketch.security.redact import Redactor, known_secret_values

ANT = "sk-ant-api03-AAAAbbbbCCCCddddEEEE9f3c"
OAI = "sk-proj-ZZZZyyyyXXXXwwwwVVVV71ab"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ketch-home"
    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setenv("KETCH_KEYRING", "0")
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


class FakeBackend:
    """Stands in for an OS keyring backend; records every call."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []
        self.fail_set = False

    def get_password(self, service: str, user: str) -> str | None:
        self.calls.append(f"get {user}")
        return self.store.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.calls.append(f"set {user}")
        if self.fail_set:
            raise RuntimeError("collection locked")
        self.store[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        self.calls.append(f"delete {user}")
        del self.store[(service, user)]


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch):
    """A `keyring` package in sys.modules whose backend is a FakeBackend, and KETCH_KEYRING=1."""
    backend = FakeBackend()
    fail = types.ModuleType("keyring.backends.fail")
    chainer = types.ModuleType("keyring.backends.chainer")

    class FailKeyring:  # the shapes ketch must treat as "no keyring"
        pass

    class ChainerBackend:
        def __init__(self, backends: list) -> None:
            self.backends = backends

    fail.Keyring = FailKeyring  # type: ignore[attr-defined]
    chainer.ChainerBackend = ChainerBackend  # type: ignore[attr-defined]
    backends = types.ModuleType("keyring.backends")
    backends.fail, backends.chainer = fail, chainer  # type: ignore[attr-defined]
    mod = types.ModuleType("keyring")
    mod.backends = backends  # type: ignore[attr-defined]
    state = {"backend": backend}

    def get_keyring():
        b = state["backend"]
        if isinstance(b, Exception):
            raise b
        return b

    mod.get_keyring = get_keyring  # type: ignore[attr-defined]
    for name in ("get_password", "set_password", "delete_password"):
        setattr(mod, name, lambda *a, _n=name: getattr(state["backend"], _n)(*a))
    monkeypatch.setitem(sys.modules, "keyring", mod)
    monkeypatch.setitem(sys.modules, "keyring.backends", backends)
    monkeypatch.setitem(sys.modules, "keyring.backends.fail", fail)
    monkeypatch.setitem(sys.modules, "keyring.backends.chainer", chainer)
    monkeypatch.setenv("KETCH_KEYRING", "1")
    backend.state = state  # type: ignore[attr-defined]
    backend.FailKeyring, backend.ChainerBackend = FailKeyring, ChainerBackend  # type: ignore[attr-defined]
    return backend


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the file store ------------------------------------------------------------------------


def test_file_store_is_0600_in_a_0700_folder(isolated):
    where = cred.store_key("anthropic", ANT)
    path = cred.credentials_path()
    assert where == str(path)
    assert mode_of(path) == 0o600 and mode_of(isolated) == 0o700
    assert json.loads(path.read_text())["keys"] == {"anthropic": ANT}
    assert cred.get_stored_key("anthropic") == ANT and cred.get_stored_key("openai") is None


def test_file_is_0600_even_with_a_permissive_umask(isolated):
    old = os.umask(0)
    try:
        cred.store_key("openai", OAI)
    finally:
        os.umask(old)
    assert mode_of(cred.credentials_path()) == 0o600


def test_never_world_readable_even_for_a_moment(isolated, monkeypatch):
    """When the data is written and renamed, the temp file is already 0600."""
    seen: list[int] = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(mode_of(Path(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(private_file.os, "replace", spy)
    cred.store_key("anthropic", ANT)
    cred.store_key("openai", OAI)
    assert seen == [0o600, 0o600]


def test_write_is_atomic(isolated, monkeypatch):
    cred.store_key("anthropic", ANT)
    before = cred.credentials_path().read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(private_file.os, "replace", crash)
    with pytest.raises(OSError):
        cred.store_key("openai", OAI)
    assert cred.credentials_path().read_bytes() == before
    assert sorted(p.name for p in isolated.iterdir()) == ["credentials.json"]  # temp cleaned up


def test_existing_loose_home_is_tightened(isolated):
    isolated.mkdir(mode=0o755)
    os.chmod(isolated, 0o755)
    cred.store_key("anthropic", ANT)
    assert mode_of(isolated) == 0o700


def test_a_planted_symlink_temp_is_not_followed(isolated, tmp_path):
    isolated.mkdir(mode=0o700)
    target = tmp_path / "attacker-readable"
    tmp = isolated / f".credentials.json.{os.getpid()}.tmp"
    tmp.symlink_to(target)
    cred.store_key("anthropic", ANT)
    assert not target.exists()
    assert cred.get_stored_key("anthropic") == ANT


def test_delete_key(isolated):
    cred.store_key("anthropic", ANT)
    cred.store_key("openai", OAI)
    assert cred.delete_key("anthropic") is True
    assert cred.get_stored_key("anthropic") is None and cred.get_stored_key("openai") == OAI
    assert cred.delete_key("anthropic") is False
    assert cred.delete_key("openai") is True
    assert not cred.credentials_path().exists()  # no empty file left behind


def test_corrupted_file_is_a_one_line_config_error(isolated):
    isolated.mkdir()
    cred.credentials_path().write_text('{"keys": ')
    with pytest.raises(ConfigError) as info:
        cred.get_stored_key("anthropic")
    assert "\n" not in str(info.value) and "credentials.json: invalid JSON at line 1" in str(info.value)
    cred.credentials_path().write_text('{"keys": {"anthropic": 5}}')
    with pytest.raises(cred.CredentialError, match="delete the file"):
        cred.get_stored_key("anthropic")


def test_unknown_provider(isolated):
    with pytest.raises(cred.CredentialError, match="unknown provider 'gemini'"):
        cred.store_key("gemini", ANT)


@pytest.mark.parametrize(("key", "masked"), [
    ("sk-ant-api03-AAAAbbbbCCCCddddEEEE9f3c", "sk-ant-…9f3c"),
    ("sk-proj-ZZZZyyyyXXXXwwwwVVVV71ab", "sk-proj-…71ab"),
    ("sk-0123456789abcdefghij", "sk-…ghij"),
    ("abcdefghijklmnopqrstuvwxyz", "…wxyz"),
    ("sk-ant-short", "sk-ant-…"),
    ("tiny", "…"),
])
def test_mask(key, masked):
    assert cred.mask(key) == masked


def test_env_override(monkeypatch):
    assert cred.env_override("anthropic") is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    assert cred.env_override("anthropic") == "ANTHROPIC_API_KEY"
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert cred.env_override("openai") is None


# --- the keyring (a fake one: tests never touch the user's real keyring) ---------------------


def test_keyring_used_when_usable_and_file_copy_removed(isolated, fake_keyring, monkeypatch):
    monkeypatch.setenv("KETCH_KEYRING", "0")
    cred.store_key("anthropic", "sk-ant-old-value-in-the-file-0000")
    monkeypatch.setenv("KETCH_KEYRING", "1")
    where = cred.store_key("anthropic", ANT)
    assert where == "keyring (FakeBackend)"
    assert fake_keyring.store == {("ketch", "anthropic"): ANT}
    assert not cred.credentials_path().exists()  # the stale file copy would have shadowed it
    assert cred.get_stored_key("anthropic") == ANT
    assert cred.lookup("anthropic").where == "keyring (FakeBackend)"


def test_file_is_read_first_and_keyring_not_asked(isolated, fake_keyring, monkeypatch):
    monkeypatch.setenv("KETCH_KEYRING", "0")
    cred.store_key("anthropic", ANT)
    monkeypatch.setenv("KETCH_KEYRING", "1")
    fake_keyring.store[("ketch", "anthropic")] = "sk-ant-keyring-value-1111111"
    fake_keyring.calls.clear()
    assert cred.get_stored_key("anthropic") == ANT
    assert fake_keyring.calls == []
    assert cred.get_stored_key("openai") is None and fake_keyring.calls == ["get openai"]


def test_file_hit_does_not_import_keyring(isolated, monkeypatch):
    """With the key in the file, keyring is never imported (it is slow to import)."""
    monkeypatch.setenv("KETCH_KEYRING", "0")
    cred.store_key("anthropic", ANT)
    monkeypatch.setenv("KETCH_KEYRING", "1")
    monkeypatch.delitem(sys.modules, "keyring", raising=False)

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "keyring" or name.startswith("keyring."):
                raise AssertionError("keyring imported")

    monkeypatch.setattr(sys, "meta_path", [Blocker(), *sys.meta_path])
    assert cred.get_stored_key("anthropic") == ANT
    assert "keyring" not in sys.modules


def test_ketch_keyring_0_never_touches_the_keyring(isolated, fake_keyring, monkeypatch):
    monkeypatch.setenv("KETCH_KEYRING", "0")
    assert cred.store_key("openai", OAI) == str(cred.credentials_path())
    assert cred.get_stored_key("anthropic") is None
    cred.delete_key("openai")
    assert fake_keyring.calls == []


@pytest.mark.parametrize("broken", ["fail", "empty-chainer", "raises"])
def test_unusable_keyring_falls_back_to_the_file(isolated, fake_keyring, broken):
    fake_keyring.state["backend"] = {
        "fail": fake_keyring.FailKeyring(),
        "empty-chainer": fake_keyring.ChainerBackend([]),
        "raises": RuntimeError("no D-Bus session"),
    }[broken]
    assert cred.store_key("anthropic", ANT) == str(cred.credentials_path())
    assert cred.get_stored_key("anthropic") == ANT


def test_keyring_write_failure_falls_back_to_the_file(isolated, fake_keyring):
    fake_keyring.fail_set = True
    assert cred.store_key("anthropic", ANT) == str(cred.credentials_path())
    assert mode_of(cred.credentials_path()) == 0o600


def test_delete_removes_from_file_and_keyring(isolated, fake_keyring, monkeypatch):
    cred.store_key("anthropic", ANT)  # keyring
    monkeypatch.setenv("KETCH_KEYRING", "0")
    cred.store_key("openai", OAI)  # file
    monkeypatch.setenv("KETCH_KEYRING", "1")
    assert cred.delete_key("anthropic") is True and fake_keyring.store == {}
    assert cred.delete_key("openai") is True
    assert cred.get_stored_key("anthropic") is None and cred.get_stored_key("openai") is None


# --- redaction -----------------------------------------------------------------------------


def test_known_secret_values_from_the_file(isolated):
    assert known_secret_values() == []
    cred.store_key("anthropic", ANT)
    cred.store_key("openai", OAI)
    assert sorted(known_secret_values()) == sorted([ANT, OAI])
    redact = Redactor.from_environment(known_secret_values())
    assert redact(f"token={ANT} and {OAI}") == "token=[REDACTED] and [REDACTED]"


def test_known_secret_values_include_keyring_when_loaded(isolated, fake_keyring):
    cred.store_key("anthropic", ANT)
    assert known_secret_values() == [ANT]


def test_known_secret_values_never_raise_on_a_broken_file(isolated):
    isolated.mkdir()
    cred.credentials_path().write_text("{")
    assert known_secret_values() == []
