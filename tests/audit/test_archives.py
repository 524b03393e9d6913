"""Archives read member by member, and hostile ones handled as findings: bombs, traversal names,
links, corrupt and truncated streams, deep nesting, members larger than memory."""

from __future__ import annotations

import gzip
import io
import itertools
import tarfile
import zipfile
from pathlib import Path

import pytest
from audit_archives import SMALL, Recorder, run, tar_bytes, zip_bytes

from ketch.audit.model import Finding, Kind
from ketch.audit.scan import AuditOptions, audit_path


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def test_npm_tarball_members_stream_with_metadata(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg-1.0.0.tgz"
    pkg.write_bytes(tar_bytes({"package/package.json": b'{"name": "pkg", "version": "1.0.0", "license": "MIT", '
                                                        b'"repository": {"url": "git+https://example.org/pkg.git"}}',
                               "package/dist/index.js": b"console.log(1)\n"}))
    rec = Recorder()
    report = audit_path(pkg, AuditOptions(limits=SMALL), checks=[rec])
    assert [e.path for e in rec.entries] == ["package/package.json", "package/dist/index.js"]
    assert rec.content("package/dist/index.js") == b"console.log(1)\n"
    assert (report.info.ecosystem, report.info.name, report.info.version, report.info.license) == (
        "npm", "pkg", "1.0.0", "MIT")
    assert report.info.repository == "git+https://example.org/pkg.git"
    assert report.files == 2 and report.findings == []


def test_wheel_metadata_and_nested_archives_get_bang_paths(tmp_path: Path) -> None:
    inner = tar_bytes({"package/secret.txt": b"inner"})
    whl = tmp_path / "demo-1.0-py3-none-any.whl"
    whl.write_bytes(zip_bytes({
        "demo/__init__.py": b"",
        "demo/vendor/dep.tgz": inner,
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense-Expression: "
                                       b"Apache-2.0\nProject-URL: Source, https://example.org/demo\n\nbody\n",
    }))
    rec = Recorder()
    report = audit_path(whl, AuditOptions(limits=SMALL), checks=[rec])
    assert rec.content("demo/vendor/dep.tgz!/package/secret.txt") == b"inner"
    assert (report.info.ecosystem, report.info.license, report.info.repository) == (
        "python-wheel", "Apache-2.0", "https://example.org/demo")


def test_sdist_is_recognised_from_its_root_folder(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-2.0.tar.gz"
    sdist.write_bytes(tar_bytes({"demo-2.0/PKG-INFO": b"Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n\n",
                                 "demo-2.0/demo/__init__.py": b""}))
    _, findings = run(sdist)
    report = audit_path(sdist, AuditOptions(limits=SMALL), checks=[Recorder()])
    assert report.info.ecosystem == "python-sdist" and report.info.version == "2.0" and findings == []


def test_a_member_larger_than_the_whole_limit_arrives_in_overlapping_windows(tmp_path: Path) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB, four times the whole limit
    path = tmp_path / "a.tar"
    path.write_bytes(tar_bytes({"big.bin": big}, mode="w"))
    rec, findings = run(path)
    pieces = [p for p in rec.pieces if p.path == "big.bin"]
    assert len(pieces) > 4 and not any(p.whole for p in pieces)
    assert all(p.size == len(big) for p in pieces)
    assert rec.content("big.bin") == big and findings == []
    assert all(b.offset < a.offset + len(a.data) for a, b in itertools.pairwise(pieces))  # they overlap


def test_zip_bomb_by_declared_ratio_is_a_finding_and_not_read(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (4 << 20))
        archive.writestr("ok.txt", b"fine")
    rec, findings = run(bomb)
    assert "archive/bomb" in rules(findings)
    assert "zeros.bin" not in {p.path for p in rec.pieces} and rec.content("ok.txt") == b"fine"


def test_gzip_bomb_stops_the_artifact_at_its_budget(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(tar_bytes({f"z{i}.bin": b"\0" * (1 << 20) for i in range(6)}))
    rec, findings = run(bomb)
    assert "archive/bomb" in rules(findings)
    read = {p.path: p.offset + len(p.data) for p in rec.pieces}  # windows overlap: count each byte once
    assert sum(read.values()) <= SMALL.slack + SMALL.ratio * bomb.stat().st_size + SMALL.window


def test_traversal_and_absolute_names_are_reported_and_shown_without_escape(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    evil.write_bytes(tar_bytes({"../../etc/cron.d/x": b"* * * * * root sh", "/abs/file": b"x", "ok": b"y"}, mode="w"))
    rec, findings = run(evil)
    traversal = [f for f in findings if f.rule == "archive/path-traversal"]
    assert len(traversal) == 2 and all(f.kind is Kind.ARCHIVE for f in traversal)
    assert {e.path for e in rec.entries} == {"etc/cron.d/x", "abs/file", "ok"}
    assert not (tmp_path / "etc").exists() and list(tmp_path.iterdir()) == [evil]


def test_symlink_and_hardlink_members_are_entries_never_followed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, target in (("link", tarfile.SYMTYPE, "/etc/passwd"), ("hard", tarfile.LNKTYPE, "/etc/shadow")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    path = tmp_path / "links.tar"
    path.write_bytes(buf.getvalue())
    rec, _ = run(path)
    assert {(e.path, e.link, e.hardlink) for e in rec.entries} == {("link", "/etc/passwd", False),
                                                                   ("hard", "/etc/shadow", True)}
    assert rec.pieces == []


def test_zip_symlink_member_is_an_entry(tmp_path: Path) -> None:
    path = tmp_path / "l.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/home/someone/.ssh/id_rsa")
    rec, _ = run(path)
    assert [(e.path, e.link) for e in rec.entries] == [("link", "/home/someone/.ssh/id_rsa")]


def test_truncated_tar_and_corrupt_gzip_keep_what_was_read(tmp_path: Path) -> None:
    data = tar_bytes({"a.txt": b"first", "b.txt": b"x" * 50_000})
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(data[: len(data) // 2])
    rec, findings = run(cut)
    assert rec.content("a.txt") == b"first"
    assert "archive/truncated" in rules(findings)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 20)
    _, findings = run(broken)
    assert findings and all(f.kind is Kind.ARCHIVE for f in findings)


def test_lone_gzip_is_one_member(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress(b"hello"))
    rec, findings = run(path)
    assert rec.content("notes.txt") == b"hello" and findings == []


def test_nesting_beyond_the_depth_limit_is_not_opened(tmp_path: Path) -> None:
    data = b"deep"
    for _ in range(5):
        data = zip_bytes({"inner.zip": data})
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    _, findings = run(path)
    assert "archive/too-deep" in rules(findings)


def test_docker_save_layers_are_read_as_nested_tars(tmp_path: Path) -> None:
    layer = tar_bytes({"app/.env": b"SECRET=1", "app/main.py": b"print()"}, mode="w")
    image = tar_bytes({"manifest.json": b'[{"Config": "c.json", "Layers": ["abc/layer.tar"]}]', "abc/layer.tar": layer},
                      mode="w")
    path = tmp_path / "image.tar"
    path.write_bytes(image)
    rec = Recorder()
    report = audit_path(path, AuditOptions(limits=SMALL), checks=[rec])
    assert report.info.ecosystem == "docker"
    assert rec.content("abc/layer.tar!/app/.env") == b"SECRET=1"


def test_a_nested_archive_bigger_than_memory_is_spooled_and_read(tmp_path: Path) -> None:
    import os

    noise = os.urandom(200_000)  # incompressible: the nested zip is larger than SMALL.whole
    path = tmp_path / "outer.tar"
    path.write_bytes(tar_bytes({"inner.zip": zip_bytes({"n.bin": noise, "hello.txt": b"hi"})}, mode="w"))
    rec, findings = run(path)
    assert rec.content("inner.zip!/hello.txt") == b"hi" and rec.content("inner.zip!/n.bin") == noise
    assert findings == []


def test_a_file_that_is_no_archive_is_audited_as_itself(tmp_path: Path) -> None:
    path = tmp_path / "cli.js"
    path.write_bytes(b"var a=1;\n")
    rec, _ = run(path)
    assert rec.content("cli.js") == b"var a=1;\n"


def test_too_many_members_stops_with_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"f{i}": b"" for i in range(600)}))
    rec, findings = run(path)
    assert "archive/too-many-members" in rules(findings) and len(rec.entries) == SMALL.members


@pytest.mark.parametrize("payload", [b"PK\x03\x04" + b"\0" * 40, b"\xfd7zXZ\x00" + b"\0" * 30, b"BZh9" + b"1" * 30])
def test_garbage_with_archive_magic_is_a_finding_not_a_crash(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(payload)
    _, findings = run(path)
    assert findings and all(f.kind is Kind.ARCHIVE for f in findings)
