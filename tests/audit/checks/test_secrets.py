"""SecretsCheck: well-known formats first, guesses after, placeholders low, never the whole secret."""

from __future__ import annotations

import base64
import dataclasses
import json
import py_compile
import random
import string
from pathlib import Path

import pytest
from fake_keys import CONTEXT_RULES, WHOLE_KEY_RULES, key, snippet

from ketch.audit.checks.secrets import SecretsCheck
from ketch.audit.model import OVERLAP, ArtifactInfo, Finding, Kind, Piece, Severity

INFO = ArtifactInfo("pkg", ecosystem="npm")


def scan(files: dict[str, str | bytes], origin: str = "") -> list[Finding]:
    check = SecretsCheck()
    for path, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        check.visit(Piece(path, data, 0, len(data), True, origin), INFO)
    return check.finish(INFO)


def windows(check: SecretsCheck, path: str, data: bytes, size: int) -> None:
    """Feed `data` as the reader does past its whole-read limit: windows overlapping by OVERLAP."""
    offset = 0
    while True:
        check.visit(Piece(path, data[offset:offset + size], offset, len(data), False), INFO)
        if offset + size >= len(data):
            return
        offset += size - OVERLAP


def assert_never_whole(finding: Finding, secret: str) -> None:
    text = json.dumps(dataclasses.asdict(finding), default=str)
    core = secret.replace("\n", "")
    for i in range(4, max(5, len(core) - 8)):
        assert core[i:i + 8] not in text.replace("\\n", ""), f"{finding.rule} shows part of the secret"


@pytest.mark.parametrize("rule", WHOLE_KEY_RULES)
def test_every_well_known_format_is_found_and_masked(rule: str) -> None:
    text, secret = snippet(rule, seed=11)
    [finding] = scan({"package/dist/index.js": "// config\n" + text})
    assert finding.rule == f"credential/{rule}" and finding.kind is Kind.CREDENTIAL
    assert finding.severity >= Severity.HIGH and finding.line == 2
    assert finding.path == "package/dist/index.js" and finding.enables and finding.fix.startswith("Rotate")
    assert_never_whole(finding, secret.split("://", 1)[-1].split("@")[0].split(":")[-1] if "://" in secret else secret)


@pytest.mark.parametrize("rule", CONTEXT_RULES)
def test_formats_told_by_their_names_are_found(rule: str) -> None:
    text, secret = snippet(rule, seed=12)
    findings = [f for f in scan({"src/settings.py": text}) if f.severity > Severity.LOW]
    assert [f.rule for f in findings] == [f"credential/{rule}"]
    assert_never_whole(findings[0], secret)


def test_ranks_live_cloud_keys_critical_chat_high_and_test_mode_low() -> None:
    found = {f.rule: f.severity for f in scan({
        "a.js": f'a="{key("aws-access-key-id")}";b="{key("slack-token")}";c="{key("stripe-test-key")}";'
                f'd="{key("private-key")}"'.replace("\n", "\\n")})}
    assert found == {"credential/aws-access-key-id": Severity.CRITICAL, "credential/slack-token": Severity.HIGH,
                     "credential/stripe-test-key": Severity.LOW, "credential/private-key": Severity.CRITICAL}


@pytest.mark.parametrize("text", [
    'aws_access_key_id = "AKIA' + 'IOSFODNN7EXAMPLE"',
    'token = "ghp_' + "x" * 36 + '"',
    'key = "AKIA' + "X" * 16 + '"',
    'api_key = "your-api-key-here"',
    'password = "xxxxxxxxxxxx"',
    'url = "postgres://postgres:postgres@localhost:5432/dev"',
    'url = "mysql://user:${DB_PASSWORD}@db.acme-corp.net/app"',
    'jwt = "' + "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ijox"
    "NTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c" + '"',
])
def test_placeholders_and_examples_rank_low_at_most(text: str) -> None:
    assert all(f.severity <= Severity.LOW for f in scan({"README.md": text})), text


def test_generic_assignments_are_guesses_below_known_formats() -> None:
    rng = random.Random(4)
    value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    findings = scan({"app/settings.py": f'SECRET_KEY = "{value}"\n', "app/.env": f"DB_PASSWORD={value[:20]}x9Q\n"})
    assert {f.kind for f in findings} == {Kind.SECRET_GUESS}
    assert all(f.severity is Severity.MEDIUM for f in findings)
    assert {f.line for f in findings} == {1}
    for f in findings:
        assert_never_whole(f, value[:20])


@pytest.mark.parametrize("text", [
    'password = os.environ["DB_PASSWORD"]', "const apiKey = process.env.API_KEY;", 'token = os.getenv("TOKEN")',
    'password: "${{ secrets.DB_PASSWORD }}"', 'secret = "{{ vault_secret }}"', 'api_key = "<your key>"',
    'tokenUrl: "https://auth.example.com/oauth/token"', 'password_field = "passwordConfirmation"',
    'token_type = "bearer_access_token"', 'if (password === "") return', 'SECRET_NAME = "prod/db/credentials"',
    '"integrity": "sha512-' + base64.b64encode(bytes(range(64))).decode() + '"',
    'session_token_hash = "' + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" + '"',
    'token_id = "123e4567-e89b-12d3-a456-426614174000"',
    'secretIcon = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"',
])
def test_obvious_non_secrets_are_not_reported(text: str) -> None:
    assert [f for f in scan({"src/app.py": text}) if f.severity > Severity.LOW] == []


def test_realistic_clean_bundle_lock_files_and_images_have_no_findings() -> None:
    rng = random.Random(7)
    png = base64.b64encode(bytes(rng.randrange(256) for _ in range(3000))).decode()
    bundle = ('"use strict";var e=require("react"),t=Symbol.for("react.element");function n(e,t){var n={};'
              'for(var r in e)n[r]=e[r];return n.token=t,n}const o={tokenize:function(e){return e.split(/\\s+/)},'
              'passwordStrength:e=>e.length>12?"strong":"weak",secretPanel:"secret-panel__item"};'
              f'const img="data:image/png;base64,{png}";module.exports={{n,o,img}};\n'
              '//# sourceMappingURL=index.js.map\n') * 50
    lock = {"name": "app", "lockfileVersion": 3, "packages": {
        f"node_modules/pkg{i}": {"version": f"1.{i}.0", "resolved": f"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz",
                                 "integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode()}
        for i in range(40)}}
    cargo = "".join(f'[[package]]\nname = "crate{i}"\nversion = "0.{i}.1"\nchecksum = "{rng.randbytes(32).hex()}"\n\n'
                    for i in range(40))
    ids = json.dumps([{"id": str(__import__("uuid").UUID(int=rng.getrandbits(128))), "requestId": rng.randbytes(16).hex()}
                      for _ in range(40)])
    findings = scan({"dist/index.js": bundle, "package-lock.json": json.dumps(lock, indent=2), "Cargo.lock": cargo,
                     "fixtures/ids.json": ids})
    assert [(f.rule, f.evidence) for f in findings if f.severity > Severity.LOW] == []


def test_a_token_cut_by_a_window_edge_is_found_once_with_its_line() -> None:
    size = 3 * OVERLAP
    token = key("github-token", seed=21)
    head = ("x" * 99 + "\n") * ((size - 20) // 100)
    data = (head + "a" * ((size - 21) - len(head)) + "\"" + token + ";\n" + "y" * (size * 2)).encode()
    assert data.index(token.encode()) < size < data.index(token.encode()) + len(token)
    check = SecretsCheck()
    windows(check, "dist/cli.js", data, size)
    [finding] = check.finish(INFO)
    assert finding.rule == "credential/github-token" and finding.facts["occurrences"] == 1
    assert finding.line == head.count("\n") + 1


def test_a_token_inside_the_overlap_is_counted_once() -> None:
    size = 3 * OVERLAP
    token = key("npm-token", seed=2)
    data = ("z" * (size - OVERLAP // 2) + "=" + token + "\n" + "z" * size).encode()
    check = SecretsCheck()
    windows(check, "dist/cli.js", data, size)
    [finding] = check.finish(INFO)
    assert finding.facts["occurrences"] == 1 and finding.facts["files"] == 1 and finding.line == 1


def test_a_token_in_real_pyc_bytes(tmp_path: Path) -> None:
    token = key("huggingface-token", seed=9)
    source = tmp_path / "settings.py"
    source.write_text(f'HF_TOKEN = "{token}"\nMODEL = "acme/tiny"\n')
    compiled = tmp_path / "settings.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    data = compiled.read_bytes()
    assert b"\x00" in data[:64]  # really binary
    [finding] = scan({"pkg/__pycache__/settings.cpython-311.pyc": data})
    assert finding.rule == "credential/huggingface-token" and finding.severity is Severity.CRITICAL
    assert finding.line is None


def test_the_same_secret_in_many_files_is_one_finding_with_the_count() -> None:
    token = key("stripe-secret-key", seed=5)
    files = {f"dist/chunk-{i}.js": f'const s="{token}";' for i in range(8)}
    [finding] = scan(files)
    assert finding.facts["files"] == 8 and len(finding.facts["paths"]) == 5
    assert "8 files" in finding.evidence and token[8:] not in finding.evidence


def test_sources_decoded_from_maps_are_scanned_and_say_so() -> None:
    token = key("anthropic-api-key", seed=1)
    [finding] = scan({"package/cli.js.map#src/config.ts": f'export const KEY = "{token}";\n'}, origin="map")
    assert finding.facts["origins"] == ["map"] and finding.path.endswith("#src/config.ts")


def test_a_gcp_service_account_file_is_one_finding_not_two() -> None:
    text, _ = snippet("gcp-service-account-key", seed=3)
    assert [f.rule for f in scan({"creds/sa.json": text})] == ["credential/gcp-service-account-key"]


def test_pem_headers_in_crypto_code_are_not_keys() -> None:
    text = ('const H="-----BEGIN RSA PRIVATE KEY-----",F="-----END RSA PRIVATE KEY-----";'
            'function toPem(k){return H+"\\n"+wrap(k.toString("base64"))+"\\n"+F}')
    assert scan({"lib/pem.js": text}) == []


def test_findings_are_cleared_by_finish() -> None:
    check = SecretsCheck()
    data = key("npm-token").encode()
    check.visit(Piece("a", data, 0, len(data), True), INFO)
    assert len(check.finish(INFO)) == 1 and check.finish(INFO) == []


@pytest.mark.parametrize(("text", "name"), [
    ("a" * 40 + "credentials" + "b" * 30 + ' = "{v}"', "a" * 40 + "credentials" + "b" * 30),  # the longest name
    ("x.y-" + "a" * 36 + "Password" + "b" * 30 + '"] = "{v}"', "x.y-" + "a" * 36 + "Password" + "b" * 30),
    ('cfg["db_secret"]  :  "{v}"', "db_secret"), ("API_TOKEN={v}", "API_TOKEN"), ("auth_key =>\t'{v}'", "auth_key"),
])
def test_guessed_names_at_the_edges_of_the_assignment_pattern(text: str, name: str) -> None:
    # secret_guess._NAME opens with a lookahead for speed that must reject no real assignment.
    from ketch.audit.checks.secret_guess import find_guesses
    from ketch.audit.checks.secret_hits import lower_anchors

    data = text.format(v="Zq8vN2xLp4Rt7Wm9Yc3Kb6Hd").encode()
    assert [(h.name, h.value) for h in find_guesses(data, lower_anchors().find(data.lower()))] == [
        (name, "Zq8vN2xLp4Rt7Wm9Yc3Kb6Hd")]
