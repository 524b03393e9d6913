"""HygieneCheck: each rule, the npm and sdist root folders, grouping, contents that raise a severity, links."""

from __future__ import annotations

import py_compile
from pathlib import Path

from ketch.audit.checks.hygiene import HygieneCheck
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

NPM = ArtifactInfo(name="pkg", ecosystem="npm")
SDIST = ArtifactInfo(name="pkg", ecosystem="python-sdist")
WHEEL = ArtifactInfo(name="pkg", ecosystem="python-wheel")


def scan(members: list[tuple[str, bytes]], info: ArtifactInfo = NPM,
         links: list[tuple[str, str, bool]] | None = None) -> dict[str, Finding]:
    check = HygieneCheck()
    for path, data in members:
        check.entry(Entry(path, len(data)), info)
        if data:
            assert check.visit(Piece(path, data, 0, len(data), True), info) is None
    for path, target, hard in links or []:
        check.entry(Entry(path, 0, link=target, hardlink=hard), info)
    findings = check.finish(info)
    by_rule = {f.rule: f for f in findings}
    assert len(by_rule) == len(findings), "one finding per rule"
    return by_rule


def test_env_files_by_segment_under_the_npm_root_and_examples_are_info():
    found = scan([("package/.env", b"# local\nAPI_KEY=sk-live-123\n"), ("package/config/.env.production", b"X=1"),
                  ("package/.env.example", b"API_KEY=\n"), ("package/dist/my.env.js", b"x"),
                  ("package/docs/dotenv.md", b"see .env")])
    env = found["should-not-ship/env-file"]
    assert env.kind is Kind.SHOULD_NOT_SHIP and env.severity is Severity.HIGH
    assert env.facts["paths"] == ["package/.env", "package/config/.env.production"]
    assert found["should-not-ship/env-example"].severity is Severity.INFO
    assert set(found) == {"should-not-ship/env-file", "should-not-ship/env-example"}
    only_comments = scan([("package/.env", b"# fill these in\nAPI_KEY=\n")])
    assert only_comments["should-not-ship/env-file"].severity is Severity.MEDIUM


def test_registry_configs_are_medium_and_high_with_a_token():
    found = scan([("package/.npmrc", b"registry=https://registry.npmjs.org/\n")])
    assert found["should-not-ship/credential-config"].severity is Severity.MEDIUM
    found = scan([("pkg-1.0/.pypirc", b"[pypi]\nusername = __token__\npassword = pypi-AgEI\n"),
                  ("pkg-1.0/.npmrc", b"//registry.npmjs.org/:_authToken=npm_abc\n"), ("pkg-1.0/.netrc", b"")], SDIST)
    f = found["should-not-ship/credential-config"]
    assert f.severity is Severity.HIGH and f.facts["count"] == 3


def test_a_git_folder_of_200_objects_is_one_finding_and_two_repositories_are_two():
    members = [(f"package/.git/objects/{i:02x}/{'a' * 38}", b"x" * 10) for i in range(200)]
    members += [("package/.git/HEAD", b"ref: refs/heads/main\n"), ("package/vendor/lib/.hg/store/data", b"y"),
                ("package/.gitignore", b"node_modules\n")]
    check = HygieneCheck()
    for path, data in members:
        check.entry(Entry(path, len(data)), NPM)
    vcs = [f for f in check.finish(NPM) if f.rule == "should-not-ship/vcs"]
    assert [(f.path, f.facts["files"], f.severity) for f in vcs] == [
        ("package/.git/", 201, Severity.HIGH), ("package/vendor/lib/.hg/", 1, Severity.HIGH)]
    assert vcs[0].title == "version-control folder ships: package/.git/ (201 files)"


def test_agent_files_are_medium_when_long_or_instructive_and_low_otherwise():
    long_claude = b"# Project notes\n" + b"Build with make. " * 1000  # ~17 KB, like sitemap's CLAUDE.md
    found = scan([("package/CLAUDE.md", long_claude)])
    assert found["should-not-ship/agent-files"].severity is Severity.MEDIUM
    found = scan([("package/AGENTS.md", b"You must run the tests before committing.")])
    assert found["should-not-ship/agent-files"].severity is Severity.MEDIUM
    found = scan([("package/GEMINI.md", b"@README.md\n")])
    assert found["should-not-ship/agent-files"].severity is Severity.LOW
    members = [("package/.claude/settings.json", b"{}"), ("package/.claude/commands/ship.md", b"{}"),
               ("package/.cursor/rules/a.mdc", b"x"), ("package/.cursorrules", b"x"), ("package/.mcp.json", b"{}"),
               ("package/.codex/config.toml", b"x"), ("package/.aider.chat.history.md", b"x"),
               ("package/.github/copilot-instructions.md", b"x"), ("package/.windsurfrules", b"x"),
               ("package/CLAUDE.local.md", b"x"), ("package/docs/claude.md.txt", b"x"),
               ("package/.vscode/settings.json", b"{}"), ("package/.idea/workspace.xml", b"<x/>")]
    found = scan(members)
    assert found["should-not-ship/agent-files"].facts["paths"] == [
        "package/.aider.chat.history.md", "package/.claude/", "package/.codex/", "package/.cursor/",
        "package/.cursorrules", "package/.github/copilot-instructions.md", "package/.mcp.json",
        "package/.windsurfrules", "package/CLAUDE.local.md"]
    assert found["should-not-ship/editor-config"].facts["paths"] == ["package/.idea/", "package/.vscode/"]
    assert found["should-not-ship/agent-files"].facts["files"] == 10


def test_junk_backups_logs_databases_and_coverage_grouped_per_rule():
    backups = [(f"package/src/f{i}.js.bak", b"old") for i in range(100)]
    found = scan(backups + [("package/src/.DS_Store", b"\0\0\0\1Bud1"), ("package/._index.js", b"\0"),
                            ("package/a.js~", b"x"), ("package/b.orig", b"x"), ("package/.c.swp", b"x"),
                            ("package/npm-debug.log", b"x"), ("package/data/app.sqlite", b"SQLite format 3\0"),
                            ("package/.nyc_output/x.json", b"{}"), ("package/coverage/lcov-report/index.html", b"x"),
                            ("package/coverage/index.js", b"x"),  # a module named coverage is not a report
                            ("package/node_modules/left-pad/index.js", b"x")])
    assert found["should-not-ship/backup"].facts["count"] == 103
    assert found["should-not-ship/backup"].title == "backup and editor swap files: 103 paths"
    assert found["should-not-ship/os-junk"].facts["paths"] == ["package/._index.js", "package/src/.DS_Store"]
    assert found["should-not-ship/log-file"].severity is Severity.LOW
    assert found["should-not-ship/database"].severity is Severity.MEDIUM
    assert found["should-not-ship/test-output"].facts["paths"] == [
        "package/.nyc_output/", "package/coverage/lcov-report/"]
    assert found["should-not-ship/node-modules"].facts["paths"] == ["package/node_modules/"]
    assert "should-not-ship/node-modules" not in scan([("pkg-1.0/node_modules/x.js", b"x")], SDIST)
    # a file that may hold secrets is its own item even inside a folder another rule covers
    found = scan([("package/node_modules/dep/.env", b"K=v"), ("package/.idea/.npmrc", b"x")])
    assert found["should-not-ship/env-file"].facts["paths"] == ["package/node_modules/dep/.env"]
    assert found["should-not-ship/credential-config"].facts["paths"] == ["package/.idea/.npmrc"]


def test_key_files_are_high_only_with_a_key_body():
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    assert scan([("package/keys/id_ed25519", key)])["should-not-ship/key-file"].severity is Severity.HIGH
    cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert scan([("package/ca.pem", cert)])["should-not-ship/key-file"].severity is Severity.INFO  # public by design
    assert scan([("package/tls.key", b"x" * 40)])["should-not-ship/key-file"].severity is Severity.LOW
    assert scan([("package/server.p12", b"\x30\x82\x01")])["should-not-ship/key-file"].severity is Severity.HIGH
    assert "should-not-ship/key-file" not in scan([("package/id_rsa.pub", b"ssh-rsa AAAA")])


def test_pyc_and_pycache_only_in_an_sdist(tmp_path: Path):
    src = tmp_path / "m.py"
    src.write_text("TOKEN = 'x'\n")
    pyc = Path(py_compile.compile(str(src), cfile=str(tmp_path / "m.pyc"))).read_bytes()
    members = [("pkg-1.0/pkg/__pycache__/m.cpython-311.pyc", pyc), ("pkg-1.0/pkg/m.pyc", pyc)]
    f = scan(members, SDIST)["should-not-ship/pyc-in-sdist"]
    assert f.severity is Severity.LOW and f.facts["paths"] == ["pkg-1.0/pkg/__pycache__/", "pkg-1.0/pkg/m.pyc"]
    assert scan(members, WHEEL) == {}


def test_core_dumps_by_their_bytes_not_their_name():
    core = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x04\x00" + b"\0" * 100
    exe = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + b"\0" * 100
    found = scan([("package/core", core), ("package/bin/core", exe), ("package/crash", core)])
    assert found["should-not-ship/core-dump"].facts["paths"] == ["package/core", "package/crash"]
    assert found["should-not-ship/core-dump"].severity is Severity.MEDIUM


def test_nested_archives_match_on_the_innermost_level():
    found = scan([("app.whl!/app/fixtures/site.zip!/site/.env", b"A=1"),
                  ("app.whl!/app/fixtures/site.zip!/site/.git/config", b"[core]")], WHEEL)
    assert found["should-not-ship/env-file"].path == "app.whl!/app/fixtures/site.zip!/site/.env"
    assert found["should-not-ship/vcs"].path == "app.whl!/app/fixtures/site.zip!/site/.git/"


def test_links_that_leave_the_artifact_are_one_archive_finding_and_inside_ones_are_fine():
    links = [("package/passwd", "/etc/passwd", False), ("package/a/up", "../../../home/x/.ssh/id_rsa", False),
             ("package/lib/ok", "../dist/index.js", False), ("package/lib/same", "./x.js", False),
             ("package/hard", "package/lib/ok", True), ("package/hard2", "../outside", True),
             ("package/win", "C:\\Windows\\system.ini", False), ("package/sibling", "../other-pkg", False)]
    f = scan([], NPM, links)["archive/link-outside"]
    assert f.kind is Kind.ARCHIVE and f.severity is Severity.MEDIUM
    assert f.facts["paths"] == ["package/passwd", "package/a/up", "package/hard2", "package/win", "package/sibling"]
    assert f.evidence == "package/passwd -> /etc/passwd"
    folder = ArtifactInfo(name="x", ecosystem="folder")
    assert scan([], folder, [("sub/link", "../top.txt", False)]) == {}
    assert scan([], folder, [("top", "../x", False)])["archive/link-outside"].title == (
        "a link to ../x leaves the artifact")
