"""security.folder_listings: a remembered listing is used only while the folder is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketch.security.git import listings as folder_listings
from ketch.security.git.listings import listing


@pytest.fixture(autouse=True)
def _fresh():
    folder_listings.forget_all()
    yield
    folder_listings.forget_all()


def _list(folder: Path) -> folder_listings.Listing | None:
    return listing(str(folder), os.lstat(folder))


def test_reads_subfolders_and_dot_git(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")
    (tmp_path / "file").write_text("x")
    os.symlink("a", tmp_path / "link")
    got = _list(tmp_path)
    assert got is not None and got.subfolders == ("a",) and got.has_dot_git


def test_a_change_in_the_folder_is_seen_even_when_remembered(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_listings, "RACY_NS", -(10**18))  # remember even a folder changed just now
    assert _list(tmp_path).subfolders == ()
    (tmp_path / "new").mkdir()  # the folder's ctime moves on
    assert _list(tmp_path).subfolders == ("new",)
    os.mkdir(tmp_path / "new" / ".git")
    os.rename(tmp_path / "new", tmp_path / "renamed")
    assert _list(tmp_path).subfolders == ("renamed",)


def test_a_folder_changed_just_now_is_not_remembered(tmp_path):
    (tmp_path / "a").mkdir()
    _list(tmp_path)
    assert str(tmp_path) not in folder_listings._REMEMBERED  # same clock tick as a later change


def test_remembered_listing_is_reused_while_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_listings, "RACY_NS", -(10**18))
    (tmp_path / "a").mkdir()
    first = _list(tmp_path)
    assert _list(tmp_path) is first


def test_unreadable_folder(tmp_path):
    assert listing(str(tmp_path / "missing"), os.lstat(tmp_path)) is None
