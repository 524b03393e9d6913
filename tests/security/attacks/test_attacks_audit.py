"""Attacks on `ketch audit` by a hostile package author or repository (issue 14: "hostile input is
handled"): each test builds the artifact an attacker would ship and runs the real reader or command.

Written by someone who had not read tests/audit first; each test failed before its fix.
"""

from __future__ import annotations

import bz2
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import fake_keys
import pytest
from audit_archives import tar_bytes

from ketch.audit.scan import AuditOptions, audit_path

SRC = str(Path(__file__).resolve().parents[3] / "src")
GH = fake_keys.key("github-token", seed=7)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _ketch_audit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "ketch", "audit", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, check=False)


def _peak_rss_mb(target: Path) -> tuple[float, list[str]]:
    """Audit `target` in a fresh interpreter; its own peak RSS (MiB) and the findings' rules.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would include pytest's own."""
    code = ("import sys, json; from pathlib import Path; "
            "from ketch.audit.scan import AuditOptions, audit_path; "
            "r = audit_path(Path(sys.argv[1]), AuditOptions()); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(json.dumps([int(hwm) / 1024, [f.rule for f in r.findings]]))")
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": SRC}, check=True)
    peak, rules = json.loads(out.stdout)
    return float(peak), list(rules)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", *args], cwd=cwd, check=True,
                   capture_output=True)


@needs_git
def test_git_history_of_a_partial_clone_runs_no_command_from_its_promisor_remote(tmp_path: Path) -> None:
    """A partial clone fetches missing objects on demand from its promisor remote, whose URL the
    repository's own config names: `ext::sh -c ...` (with protocol.ext.allow=always, also repo config)
    runs any command when `--git` asks git for a blob the clone never fetched."""
    server = tmp_path / "server"
    server.mkdir()
    _git(server, "init", "-q")
    _git(server, "config", "uploadpack.allowFilter", "true")
    (server / "a.txt").write_text("one\n")
    _git(server, "add", "a.txt")
    _git(server, "commit", "-qm", "one")
    (server / "a.txt").write_text("two\n")
    _git(server, "commit", "-qam", "two")
    victim = tmp_path / "victim"
    _git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", server.as_uri(), str(victim))
    marker = tmp_path / "PWNED"
    _git(victim, "config", "remote.origin.url", f"ext::sh -c touch% {marker}")
    _git(victim, "config", "protocol.ext.allow", "always")
    result = _ketch_audit(str(victim), "--git", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    assert not marker.exists()


def _zeros_bz2(size: int) -> bytes:
    compressor = bz2.BZ2Compressor(9)
    block = b"\0" * (1 << 20)
    return b"".join(compressor.compress(block) for _ in range(size >> 20)) + compressor.flush()


def _one_member_tar(name: str, size: int) -> bytes:
    """A tar header for one member of `size` zero bytes (the data itself left to the compressor)."""
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def test_bzip2_tar_bomb_of_a_few_kilobytes_stays_within_memory(tmp_path: Path) -> None:
    """tarfile's stream mode decompresses each block it reads with no output limit; bzip2 shrinks
    zeros about a million times, so 3 kB of `.tar.bz2` became gigabytes in one call."""
    compressor = bz2.BZ2Compressor(9)
    parts = [compressor.compress(_one_member_tar("package/zero.bin", 640 << 20))]
    block = b"\0" * (1 << 20)
    parts += [compressor.compress(block) for _ in range(640)]
    bomb = tmp_path / "pkg.tar.bz2"
    bomb.write_bytes(b"".join(parts) + compressor.flush())
    assert bomb.stat().st_size < 10_000
    peak, rules = _peak_rss_mb(bomb)
    assert peak < 200, f"peak RSS {peak:.0f} MiB"
    assert "archive/bomb" in rules


def test_compressed_zeros_that_read_as_an_empty_tar_are_a_bomb_not_clean(tmp_path: Path) -> None:
    """Zeros read as a tar's end marker; what follows it was decompressed to the end, uncounted
    (3 MB of gzip took 24 s; 2 kB of bzip2 took gigabytes) and the report said "nothing to report"."""
    bomb = tmp_path / "zeros.tar.bz2"
    bomb.write_bytes(_zeros_bz2(640 << 20))
    peak, rules = _peak_rss_mb(bomb)
    assert peak < 200, f"peak RSS {peak:.0f} MiB"
    assert "archive/bomb" in rules


def _zip_with_raw_member(name: str, method: int, compressed: bytes, claimed: int) -> bytes:
    """A zip of one member whose compressed bytes and declared size are whatever the attacker says."""
    raw = name.encode()
    crc = zlib.crc32(b"\0" * claimed)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 46, 0, method, 0, 0, crc, len(compressed), claimed,
                        len(raw), 0) + raw + compressed
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 46, 46, 0, method, 0, 0, crc, len(compressed),
                          claimed, len(raw), 0, 0, 0, 0, 0, 0) + raw
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def test_bzip2_zip_member_that_lies_about_its_size_stays_within_memory(tmp_path: Path) -> None:
    """zipfile decompresses bzip2 and lzma members with no output limit, then cuts the output to the
    declared size: 1.6 kB declaring 1,000 bytes made 4 GB RSS (and passed as clean)."""
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip_with_raw_member("package/a.txt", zipfile.ZIP_BZIP2, _zeros_bz2(1 << 30), 1000))
    peak, _rules = _peak_rss_mb(bomb)
    assert peak < 200, f"peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_honest_bzip2_and_lzma_zip_members_are_still_read(tmp_path: Path, method: int) -> None:
    path = tmp_path / "honest.zip"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("pkg/config.py", f"TOKEN = '{GH}'\n" + "x = 1\n" * 20_000)
    report = audit_path(path, AuditOptions())
    assert "credential/github-token" in {f.rule for f in report.findings}


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_a_folder_named_through_dotdot_or_a_symlink_is_still_read(tmp_path: Path, how: str) -> None:
    """Files are opened component by component from a canonical path; `ketch audit ..` (or a folder
    reached through a symlink, as /tmp is on macOS) was not canonical, so every file failed to open,
    quietly (info level), and a shipped `.env` with a live key went unreported: exit 0."""
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / ".env").write_text(f"GITHUB_TOKEN={GH}\n")
    if how == "dotdot":
        result = _ketch_audit("..", "--format", "json", cwd=project / "sub")
    else:
        (tmp_path / "link").symlink_to(project)
        result = _ketch_audit(str(tmp_path / "link"), "--format", "json")
    rules = {f["rule"] for f in json.loads(result.stdout)["reports"][0]["findings"]}
    assert "credential/github-token" in rules
    assert result.returncode == 1


def _npm_with_map(tmp_path: Path, sources: list[str], contents: list[str], **package: str) -> Path:
    doc = {"name": "victim", "version": "1.0.0", "license": "UNLICENSED", **package}
    source_map = json.dumps({"version": 3, "sources": sources, "sourcesContent": contents, "mappings": "AAAA"})
    path = tmp_path / "victim-1.0.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": json.dumps(doc).encode(),
                                "package/dist/cli.js.map": source_map.encode()}))
    return path


@pytest.mark.parametrize("hostile", ["é" * 200 + "/x.ts", "src/\ud800x.ts"], ids=["long-utf8", "lone-surrogate"])
def test_extract_survives_source_names_the_file_system_cannot_take(tmp_path: Path, hostile: str) -> None:
    """Segments were cut at 200 characters, but 200 `é` are 400 bytes (NAME_MAX is 255): ENAMETOOLONG
    ended the run with exit 2 and no report. A lone surrogate (valid JSON `\\ud800`) crashed it."""
    artifact = _npm_with_map(tmp_path, [hostile, "src/ok.ts"], ["a\n", "b\n"])
    dest = tmp_path / "out"
    result = _ketch_audit(str(artifact), "--extract", str(dest), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["reports"][0]["findings"]
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert "src/ok.ts" in written and len(written) == 2


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "sarif"])
def test_a_lone_surrogate_in_a_map_source_path_does_not_crash_the_report(tmp_path: Path, fmt: str) -> None:
    """JSON may spell a lone surrogate (`\\ud800`); it reached the report's path and evidence, and
    writing the report raised UnicodeEncodeError: a traceback instead of a report, in every format."""
    artifact = _npm_with_map(tmp_path, ["src/\ud800x.ts"], ["export const a = 1\n"])
    result = _ketch_audit(str(artifact), "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "\\ud800" in result.stdout


FORGED = "   critical  nothing else to see"


def test_a_newline_in_package_metadata_cannot_forge_report_lines(tmp_path: Path) -> None:
    """printable() keeps newlines (right for prose, wrong for a name): a package.json name, version or
    map source path with `\\n` printed lines of the attacker's choosing into the terminal report."""
    artifact = _npm_with_map(tmp_path, [f"src/a.ts\n{FORGED}"], ["export const a = 1\n"],
                             name=f"victim\n{FORGED}", version=f"1.0.0\n{FORGED}")
    result = _ketch_audit(str(artifact))
    assert result.returncode == 1, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith(FORGED)]


def test_markdown_report_renders_no_link_or_image_from_the_artifact(tmp_path: Path) -> None:
    """A markdown report is pasted into pull requests and CI summaries: a package name such as
    `[docs](https://evil.example)` or `![x](https://evil.example/pixel)` became a live link and an
    image fetched by every reader; a newline in a path broke out of its code span."""
    artifact = _npm_with_map(tmp_path, ["src/a.ts\n- **critical** fake\n`"], ["export const a = 1\n"],
                             name="[docs](https://evil.example/) ![x](https://evil.example/pixel) <img src=x>")
    result = _ketch_audit(str(artifact), "--format", "markdown")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "](https://evil.example" not in out.replace("\\]", "")
    assert "<img" not in out
    assert not [line for line in out.splitlines() if line.startswith("- **critical** fake")]


def test_archives_nested_in_archives_are_not_all_held_in_memory_at_once(tmp_path: Path) -> None:
    """Each level of a nested archive was opened from the bytes its parent had read whole, and each
    parent kept its bytes while its child was read: five stored zips of 60 MB peaked at 944 MB."""
    inner = b"var a=function(b){return b.x+c.y*2};\n" * (40 << 20 >> 5)
    name = "cli.js"
    for level in range(5):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(name, inner)
        inner, name = buf.getvalue(), f"level{level}.zip"
    nested = tmp_path / "nested.zip"
    nested.write_bytes(inner)
    peak, _rules = _peak_rss_mb(nested)
    assert peak < 200, f"peak RSS {peak:.0f} MiB"


def test_a_member_dense_with_secret_keywords_stays_within_memory(tmp_path: Path) -> None:
    """Every `password`, `token` and `secret` is a keyword hit kept until the piece is searched: a
    whole member dense with them held millions of hit tuples (60 MB peaked at 710 MB)."""
    line = b'var a=function(b){return b.token+"password"+process.env.SECRET_KEY};\n'
    path = tmp_path / "dense.js"
    path.write_bytes(line * (16 << 20 >> 6))
    peak, _rules = _peak_rss_mb(path)
    assert peak < 150, f"peak RSS {peak:.0f} MiB"


def test_a_source_map_with_a_byte_order_mark_is_still_a_source_map(tmp_path: Path) -> None:
    """Windows tools write UTF-8 with a BOM; JSON readers (json.loads on bytes, browsers) skip it,
    but the map sniffing did not: the map's original source and its flag names went unreported."""
    source_map = json.dumps({"version": 3, "sources": ["src/main.ts"], "mappings": "AAAA",
                             "sourcesContent": ["if (feature('BOM_ROADMAP')) {\n  start()\n}\n"]}).encode()
    path = tmp_path / "bom-1.0.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": b'{"name": "bom", "version": "1.0.0"}',
                                "package/dist/cli.js.map": b"\xef\xbb\xbf" + source_map}))
    rules = {f.rule for f in audit_path(path, AuditOptions()).findings}
    assert "source/summary" in rules
    assert any(r.startswith("roadmap/") for r in rules)


def test_a_credential_in_a_utf16_file_is_found(tmp_path: Path) -> None:
    """PowerShell's `>` writes UTF-16 with a BOM: `echo GITHUB_TOKEN=... > config.txt` on Windows
    shipped a token that byte patterns over UTF-8 never saw."""
    path = tmp_path / "win-1.0.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": b'{"name": "win", "version": "1.0.0"}',
                                "package/config.txt": f"GITHUB_TOKEN={GH}\r\n".encode("utf-16")}))
    rules = {f.rule for f in audit_path(path, AuditOptions()).findings}
    assert "credential/github-token" in rules


@pytest.mark.parametrize("repository", ["git@gitlab.acme.corp:team/engine.git", "https://git.acme.internal/team/engine",
                                        "http://10.1.2.3/team/engine.git"])
def test_a_repository_on_an_internal_host_does_not_make_leaked_source_look_public(tmp_path: Path,
                                                                                 repository: str) -> None:
    """`license: MIT` plus any `repository` made a source-map leak medium, "likely already public at
    <repository>": a proprietary package that names its private GitLab looked already published."""
    artifact = _npm_with_map(tmp_path, ["src/engine.ts"], ["export const engine = 1\n"], license="MIT",
                             repository=repository)
    summary = next(f for f in audit_path(artifact, AuditOptions()).findings if f.rule == "source/summary")
    assert summary.severity.label == "high"
    assert "already public" not in summary.enables


class _Registry:
    """An npm registry on 127.0.0.1 whose packument sends the tarball elsewhere, and a second host
    (127.0.0.2) that records every request it gets."""

    def __init__(self, tarball: str) -> None:
        import http.server
        import threading

        self.seen: list[str] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                registry.seen.append(f"{self.server.server_address[0]}{self.path}")
                if self.path == "/victim":
                    url = tarball.format(other=registry.other_url, home=registry.url)
                    body = json.dumps({"dist-tags": {"latest": "1.0.0"},
                                       "versions": {"1.0.0": {"version": "1.0.0", "dist": {"tarball": url}}}}).encode()
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", registry.other_url + "/latest/meta-data/")
                    self.end_headers()
                    return
                else:
                    body = tar_bytes({"package/package.json": b'{"name": "victim", "version": "1.0.0"}'})
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.servers = [http.server.ThreadingHTTPServer((host, 0), Handler) for host in ("127.0.0.1", "127.0.0.2")]
        self.url, self.other_url = (f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self.servers)
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("tarball", ["{other}/victim-1.0.0.tgz", "{home}/redirect"], ids=["other-host", "redirect"])
def test_npm_spec_fetches_nothing_off_the_configured_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              tarball: str) -> None:
    """The issue: no network "unless given npm:/pypi: specs, and then only to the configured registry".
    The packument's tarball address, and redirects, were followed to any host."""
    from ketch.audit.fetch import fetch
    from ketch.errors import AuditError

    registry = _Registry(tarball)
    try:
        monkeypatch.setenv("npm_config_registry", registry.url + "/")
        with pytest.raises(AuditError, match="only from the configured registry"):
            fetch("npm:victim@1.0.0", tmp_path)
    finally:
        registry.close()
    assert not [s for s in registry.seen if s.startswith("127.0.0.2")]


def test_npm_spec_on_the_registrys_own_host_is_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ketch.audit.fetch import fetch

    registry = _Registry("{home}/victim-1.0.0.tgz")
    try:
        monkeypatch.setenv("npm_config_registry", registry.url + "/")
        [fetched] = fetch("npm:victim@1.0.0", tmp_path)
    finally:
        registry.close()
    with tarfile.open(fetched.path) as archive:
        assert archive.getnames() == ["package/package.json"]


def test_a_tar_extended_header_claiming_hundreds_of_megabytes_is_not_read_into_memory(tmp_path: Path) -> None:
    """tarfile reads a pax (or GNU long-name) header's record whole before parsing it: 400 kB of
    gzip whose first header claims a 400 MB pax record peaked at 846 MB."""
    import gzip

    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 400 << 20
    path = tmp_path / "pax.tgz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        for _ in range(400):
            out.write(b"\0" * (1 << 20))
    peak, rules = _peak_rss_mb(path)
    assert peak < 150, f"peak RSS {peak:.0f} MiB"
    assert rules


def test_extract_writes_sources_as_they_come_instead_of_holding_every_map(tmp_path: Path) -> None:
    """--extract collected every decoded source and wrote them at the end, so memory grew with the
    artifact's total map content (6 maps of 25 MB: 243 MB; 12 of 10 MB: 200 MB), within a budget of 200× the input."""
    content = "export function f(x) { return x * 2 }\n" * (20 << 20 >> 6)
    members = {f"package/dist/m{i}.js.map": json.dumps({"version": 3, "sources": [f"src/m{i}.ts"], "mappings": "AAAA",
                                                         "sourcesContent": [content]}).encode() for i in range(12)}
    artifact = tmp_path / "maps-1.0.0.tgz"
    artifact.write_bytes(tar_bytes(members))
    dest = tmp_path / "out"
    code = ("import sys; from ketch.cli.audit import main; "
            "main([sys.argv[1], '--extract', sys.argv[2], '--format', 'json', '-o', '/dev/null']); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code, str(artifact), str(dest)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=300, check=True)
    peak = int(out.stdout.split()[-1]) / 1024
    assert len(list((dest / "src").iterdir())) == 12
    assert peak < 150, f"peak RSS {peak:.0f} MiB"
