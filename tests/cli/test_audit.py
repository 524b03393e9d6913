"""`ketch audit` end to end: the real command, in a subprocess, on artifacts built as their packers
build them. What the issue's proof asks for: the 2.1.88 shape, an inline map, a wheel with `.env`
and an AWS key, an sdist whose `.pyc` holds a token, GGUF and safetensors weights, CLAUDE.md in a
package, a zip bomb, a traversal tar; every format; exit statuses; --against, --extract, --many."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import audit_artifacts as art
import pytest
from audit_archives import tar_bytes


def ketch_audit(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("npm_config", "PIP_INDEX"))}
    return subprocess.run([sys.executable, "-m", "ketch", "audit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, check=False)


def as_json(*args: str | Path, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    proc = ketch_audit(*args, "--format", "json", cwd=cwd)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def kinds(report: dict[str, Any], severity_at_least: str = "info") -> set[str]:
    order = ["info", "low", "medium", "high", "critical"]
    floor = order.index(severity_at_least)
    return {f["kind"] for f in report["findings"] if order.index(f["severity"]) >= floor}


def test_the_2_1_88_shape_source_and_roadmap_only_in_the_map(tmp_path: Path) -> None:
    _, new = art.claude_like(tmp_path)
    status, doc = as_json(new)
    [report] = doc["reports"]
    assert status == 1  # original source of an unlicensed package: high, the default --fail-on
    assert report["ecosystem"] == "npm" and report["version"] == "1.0.88"
    assert "Original source of 3 files" in report["summary"] and "No model weights." in report["summary"]
    roadmap = [f for f in report["findings"] if f["kind"] == "roadmap"]
    names = {n for f in roadmap for n in f["facts"].get("names", [])}
    assert set(art.FLAGS) <= names
    assert any(f["severity"] == "medium" for f in roadmap)  # present only inside the map
    source = [f for f in report["findings"] if f["kind"] == "source"]
    assert source and all(".npmignore" in f["fix"] for f in source if f["severity"] in ("high", "medium"))


def test_against_the_previous_release_names_the_new_map_and_flags(tmp_path: Path) -> None:
    old, new = art.claude_like(tmp_path)
    _, doc = as_json(new, "--against", old)
    [change] = doc["changes"]
    assert list(change["new_maps"]) == ["package/cli.js.map"]
    assert set(art.FLAGS) <= set(change["new_flag_names"])
    rules = {f["rule"] for f in doc["reports"][0]["findings"]}
    assert {"diff/new-source-map", "diff/new-flag-names"} <= rules


def test_extract_rebuilds_the_original_sources(tmp_path: Path) -> None:
    _, new = art.claude_like(tmp_path)
    out = tmp_path / "what-they-see"
    proc = ketch_audit(new, "--extract", out, "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    assert "wrote 3 original source files" in proc.stderr
    assert "feature('KAIROS')" in (out / "src" / "main.ts").read_text()


def test_inline_map_is_found(tmp_path: Path) -> None:
    _, doc = as_json(art.inline_map_bundle(tmp_path))
    assert "source" in kinds(doc["reports"][0])


def test_wheel_with_env_and_aws_key_is_critical_and_never_prints_the_secret(tmp_path: Path) -> None:
    wheel = art.wheel_with_env(tmp_path)
    for fmt in ("terminal", "json", "markdown", "sarif"):
        proc = ketch_audit(wheel, "--format", fmt)
        assert proc.returncode == 1
        assert art.AWS_SECRET not in proc.stdout and art.AWS_ID not in proc.stdout
    _, doc = as_json(wheel)
    report = doc["reports"][0]
    assert {"credential", "should-not-ship"} <= kinds(report)
    assert report["counts"]["critical"] >= 1
    assert "rotate" in report["summary"]


def test_sdist_pyc_token_is_found(tmp_path: Path) -> None:
    _, doc = as_json(art.sdist_with_pyc_token(tmp_path))
    creds = [f for f in doc["reports"][0]["findings"] if f["kind"] == "credential"]
    assert creds and creds[0]["path"].endswith("settings.cpython-311.pyc")
    assert art.GITHUB_TOKEN not in json.dumps(doc)


def test_weights_are_named_with_their_parameters(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    art.gguf_model(folder)
    art.safetensors_model(folder)
    status, doc = as_json(folder)
    weights = [f for f in doc["reports"][0]["findings"] if f["kind"] == "weights"]
    assert status == 1 and len(weights) == 2
    assert {f["facts"].get("parameters") for f in weights} == {40, 10}
    assert doc["reports"][0]["summary"].startswith("Model weights: 2 files")


def test_claude_md_in_a_package(tmp_path: Path) -> None:
    status, doc = as_json(art.package_with_claude_md(tmp_path))
    found = [f for f in doc["reports"][0]["findings"] if f["kind"] == "should-not-ship"]
    assert found and found[0]["severity"] == "medium" and "CLAUDE.md" in json.dumps(found[0])
    assert status == 0  # medium is below the default --fail-on high ...
    assert ketch_audit(art.package_with_claude_md(tmp_path), "--fail-on", "medium").returncode == 1  # ... not medium


def test_zip_bomb_and_traversal_tar_are_findings_not_crashes(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * (150 << 20))
    evil = tmp_path / "evil.tar"
    evil.write_bytes(tar_bytes({"../../../tmp/pwned": b"x"}, mode="w"))
    for target, rule in ((bomb, "archive/bomb"), (evil, "archive/path-traversal")):
        _, doc = as_json(target)
        assert rule in {f["rule"] for f in doc["reports"][0]["findings"]}
    assert not Path("/tmp/pwned").exists()


def test_sarif_is_valid_shape(tmp_path: Path) -> None:
    proc = ketch_audit(art.wheel_with_env(tmp_path), "--format", "sarif")
    doc = json.loads(proc.stdout)
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert run["results"] and all(r["ruleId"] in rule_ids for r in run["results"])
    assert all(r["level"] in ("error", "warning", "note") for r in run["results"])


def test_markdown_and_terminal_lead_with_the_headline(tmp_path: Path) -> None:
    _, new = art.claude_like(tmp_path)
    md = ketch_audit(new, "--format", "markdown").stdout
    assert md.startswith("# ketch audit") and "Original source of 3 files" in md
    term = ketch_audit(new).stdout
    assert "Original source of 3 files" in term and "\x1b[" not in term  # no colour when not a terminal


def test_many_audits_every_listed_target(tmp_path: Path) -> None:
    listed = [art.wheel_with_env(tmp_path), art.package_with_claude_md(tmp_path), art.inline_map_bundle(tmp_path)]
    (tmp_path / "list.txt").write_text("# artifacts\n" + "\n".join(map(str, listed)) + "\n")
    _, doc = as_json("--many", tmp_path / "list.txt", "--jobs", "2")
    assert [r["target"] for r in doc["reports"]] == [str(p) for p in listed]


def test_config_declares_public_flags_ignores_and_fail_on(tmp_path: Path) -> None:
    _, new = art.claude_like(tmp_path)
    (tmp_path / ".ketch").mkdir()
    (tmp_path / ".ketch" / "audit.json").write_text(json.dumps({
        "publicFlags": list(art.FLAGS), "ignore": [{"rule": "source/*"}], "failOn": "high"}))
    _, doc = as_json(new, cwd=tmp_path)
    report = doc["reports"][0]
    names = {n for f in report["findings"] if f["kind"] == "roadmap" for n in f["facts"].get("names", [])}
    assert not names & set(art.FLAGS)
    assert report["ignored"] >= 1 and "source" not in kinds(report, "medium")


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent/pkg.tgz"], "no such file or folder"),
    (["npm:"], "not an npm spec"),
    (["x", "--fail-on", "severe"], "unknown severity"),
    ([], "nothing to audit"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    if args[:1] == ["x"]:
        (tmp_path / "x").write_text("x")
    proc = ketch_audit(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_malformed_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".ketch").mkdir()
    (tmp_path / ".ketch" / "audit.json").write_text("{not json")
    (tmp_path / "a.txt").write_text("a")
    proc = ketch_audit("a.txt", cwd=tmp_path)
    assert proc.returncode == 2 and "audit.json: not valid JSON" in proc.stderr


def test_a_clean_package_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "clean-1.0.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": b'{"name": "clean", "version": "1.0.0", "license": "MIT"}',
                                "package/index.js": b"module.exports = (a, b) => a + b\n"}))
    status, doc = as_json(path)
    assert status == 0 and kinds(doc["reports"][0], "low") == set()


def test_ctrl_c_ends_a_subcommand_with_130_and_one_line(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import ketch.cli
    import ketch.cli.audit

    def interrupted(argv: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(ketch.cli.audit, "main", interrupted)
    with pytest.raises(SystemExit) as exit_:
        ketch.cli.main(["audit", "x"])
    assert exit_.value.code == 130
    assert capsys.readouterr().err.strip() == "ketch audit: interrupted"
