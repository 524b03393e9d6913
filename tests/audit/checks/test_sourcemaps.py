"""SourceMapCheck: external and inline maps, their content handed on, the leak weighed by license."""

from __future__ import annotations

import base64
import json

from fixtures import (
    MAIN_TS,
    OPEN_PUBLIC,
    UNLICENSED,
    inline_bundle,
    inline_comment,
    kairos_release,
    piece,
    scan,
    source_map,
    third_party_map,
    windows,
)

from ketch.audit.checks.mapfile import MapError, parse_map
from ketch.audit.checks.sourcemaps import SourceMapCheck
from ketch.audit.model import ArtifactInfo, Kind, Severity


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_an_external_map_hands_back_each_original_source_as_a_map_piece():
    members = dict(kairos_release())
    rest, *derived = SourceMapCheck().visit(piece("package/cli.js.map", members["package/cli.js.map"]), UNLICENSED)
    assert rest.path == "package/cli.js.map" and rest.origin == "" and b"sourcesContent" not in rest.data
    assert b'"sources"' in rest.data  # the map without its content still stands in for it, for the later checks
    assert [p.path for p in derived] == ["package/cli.js.map#../src/main.ts", "package/cli.js.map#../src/tools/index.ts",
                                         "package/cli.js.map#../node_modules/lodash/identity.js"]
    assert all(p.origin == "map" and p.whole and p.offset == 0 for p in derived)
    assert derived[0].data == MAIN_TS.encode() and derived[0].size == len(MAIN_TS.encode())


def test_the_2_1_88_shape_is_high_for_an_unlicensed_package_with_exact_counts():
    findings = scan([SourceMapCheck()], kairos_release(), UNLICENSED)
    assert by_rule(findings, "source/map-content") == []  # one map: its summary says it once
    [summary] = by_rule(findings, "source/summary")
    assert (summary.kind, summary.severity, summary.path) == (Kind.SOURCE, Severity.HIGH, "package/cli.js.map")
    assert summary.facts["sources"] == 4 and summary.facts["inline"] is False
    assert "not public" in summary.enables and "*.map" in summary.fix and "without content" in summary.fix
    main, tools = len(MAIN_TS.encode()), len(b"export const tools = [\n  feature('VOICE_MODE') ? voiceTool : null,"
                                                b"\n  readTool,\n];\n")
    assert summary.facts["files"] == 2 and summary.facts["lines"] == 19 and summary.facts["maps"] == 1
    assert summary.facts["bytes"] == main + tools
    assert summary.facts["top_paths"] == ["../src/main.ts", "../src/tools/index.ts"]
    assert summary.facts["paths"] == ["package/cli.js.map"] and summary.facts["third_party_files"] == 1
    assert summary.title == "original source of 2 files, 19 lines: an implementation reference"
    assert summary.severity == Severity.HIGH


def test_an_open_licensed_package_with_a_repository_is_medium_and_says_where_it_is_public():
    findings = scan([SourceMapCheck()], kairos_release(), OPEN_PUBLIC)
    [one] = by_rule(findings, "source/summary")
    assert one.severity == Severity.MEDIUM and "likely already public at https://github.com/developit/mitt" in one.enables
    no_repo = ArtifactInfo(name="x", license="MIT")
    assert by_rule(scan([SourceMapCheck()], kairos_release(), no_repo), "source/summary")[0].severity == Severity.HIGH
    for closed in ("", "UNLICENSED", "SEE LICENSE IN LICENSE.md", "Proprietary", "MIT-like but proprietary"):
        info = ArtifactInfo(name="x", license=closed, repository="https://example.com/x")
        assert by_rule(scan([SourceMapCheck()], kairos_release(), info), "source/summary")[0].severity == Severity.HIGH


def test_an_inline_base64_map_in_the_last_line_is_decoded():
    path, data = inline_bundle()
    check = SourceMapCheck()
    [derived] = check.visit(piece(path, data), UNLICENSED)
    assert derived.path == "package/dist/index.js#src/index.ts" and derived.data == b"export const answer: number = 42;\n"
    [one] = by_rule(check.finish(UNLICENSED), "source/summary")
    assert one.facts["inline"] is True and one.facts["files"] == 1 and one.facts["lines"] == 1
    assert "inline" in one.fix


def test_a_percent_encoded_inline_map_and_two_concatenated_maps_are_both_read():
    from urllib.parse import quote
    first = source_map({"a.ts": "const a = 1;\n"})
    second = source_map({"b.ts": "const b = 2;\nconst c = 3;\n"})
    data = (b"var a=1;\n" + inline_comment(first) + b"var b=2;\n/*# sourceMappingURL=data:application/json,"
            + quote(second.decode()).encode() + b" */\n")
    derived = SourceMapCheck().visit(piece("x.css", data), UNLICENSED)
    assert [p.path for p in derived] == ["x.css#a.ts", "x.css#b.ts"]


def test_a_bundler_mentioning_the_marker_in_its_own_code_is_not_a_map():
    data = b'function c(m){return "//# sourceMappingURL=data:application/json;base64,"+btoa(m)}'
    check = SourceMapCheck()
    assert check.visit(piece("node_modules/bundler/x.js", data), UNLICENSED) is None
    assert check.finish(UNLICENSED) == []


def test_a_map_of_only_node_modules_discloses_little():
    findings = scan([SourceMapCheck()], [third_party_map()], UNLICENSED)
    assert {f.severity for f in findings} == {Severity.LOW}
    [one] = by_rule(findings, "source/summary")
    assert one.facts["files"] == 0 and one.facts["third_party_files"] == 2 and "third-party" in one.title


def test_sources_without_content_are_internal_layout_listing_the_telling_paths():
    data = source_map({"webpack://@acme/agent/./src/a.ts": None, "/Users/alice/acme/packages/core/src/b.ts": None,
                       "src/c.ts": None, "../../packages/secret-sauce/index.ts": None,
                       "../node_modules/x/index.js": None})
    [one] = SourceMapCheck_run([("dist/a.js.map", data)])
    assert (one.kind, one.severity, one.rule) == (Kind.INTERNAL, Severity.LOW, "internal/map-sources")
    assert one.facts["sources"] == 5 and one.facts["layout_count"] == 3
    assert one.facts["layout"] == ["webpack://@acme/agent/./src/a.ts", "/Users/alice/acme/packages/core/src/b.ts",
                                   "../../packages/secret-sauce/index.ts"]


def SourceMapCheck_run(members):
    return scan([SourceMapCheck()], members, UNLICENSED)


def test_indexed_maps_with_sections_are_flattened():
    inner1 = json.loads(source_map({"a.ts": "a\nb\n"}))
    inner2 = json.loads(source_map({"b.ts": "c\n", "c.ts": None}))
    doc = {"version": 3, "sections": [{"offset": {"line": 0, "column": 0}, "map": inner1},
                                       {"offset": {"line": 9, "column": 0}, "map": inner2},
                                       {"offset": {"line": 20, "column": 0}, "url": "other.js.map"}]}
    parsed = parse_map(json.dumps(doc).encode())
    assert parsed.sources == ["a.ts", "b.ts", "c.ts"] and parsed.contents == [("a.ts", "a\nb\n"), ("b.ts", "c\n")]
    assert parsed.external_sections == 1


def test_a_json_member_opening_with_version_3_is_a_map_whatever_its_name():
    data = b'{"version":3,"sources":["x.ts"],"sourcesContent":["let x = 1"],"mappings":""}'
    _rest, derived = SourceMapCheck().visit(piece("package/data/blob.json", data), UNLICENSED)
    assert derived.path == "package/data/blob.json#x.ts"
    assert SourceMapCheck().visit(piece("package/x.json", b'{"version":"3.1.0"}'), UNLICENSED) is None


def test_source_root_is_joined_and_xssi_prefix_is_skipped():
    data = b")]}'\n" + source_map({"main.ts": "x"}, root="webpack://acme/")
    _rest, derived = SourceMapCheck().visit(piece("a.js.map", data), UNLICENSED)
    assert derived.path == "a.js.map#webpack://acme/main.ts"


def test_malformed_maps_are_low_findings_never_exceptions():
    deep = b'{"version":3,"sources":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    cases = {
        "bad.js.map": b'{"version":3,"sources":["a"],',
        "types.js.map": b'{"version":3,"sources":"a.ts","mappings":""}',
        "content.js.map": b'{"version":3,"sources":["a.ts"],"sourcesContent":[42],"mappings":""}',
        "deep.js.map": deep,
        "sections.js.map": b'{"version":3,"sections":[{"offset":{}}]}',
        "utf.js.map": b'{"version":3,"sources":["\xff"],"mappings":""}',
    }
    bad_b64 = b"x;\n//# sourceMappingURL=data:application/json;base64,@@@@not-base64@@@@\n"
    check = SourceMapCheck()
    for path, data in cases.items():
        assert check.visit(piece(path, data), UNLICENSED) is None
    assert check.visit(piece("b64.js", bad_b64), UNLICENSED) is None
    findings = check.finish(UNLICENSED)
    assert sorted(f.path for f in findings) == sorted([*cases, "b64.js"])
    assert {(f.title, f.severity, f.kind) for f in findings} == {("unreadable source map", Severity.LOW, Kind.SOURCE)}
    reasons = {f.path: f.evidence for f in findings}
    assert reasons["deep.js.map"] == "nested too deeply" and reasons["b64.js"] == "bad base64 in an inline map"
    try:
        parse_map(b"[1]")
    except MapError as exc:
        assert str(exc) == "not a JSON object"
    else:
        raise AssertionError("a list is not a map")


def test_a_linker_map_or_other_dot_map_file_is_not_a_source_map():
    check = SourceMapCheck()
    assert check.visit(piece("build/app.map", b"Memory Configuration\n\nName Origin Length\n"), UNLICENSED) is None
    assert check.visit(piece("tiles/world.map", b'{"width": 10, "tiles": []}'), UNLICENSED) is None
    assert check.finish(UNLICENSED) == []


def test_a_map_too_big_to_arrive_whole_is_a_finding_saying_so():
    big = source_map({f"src/m{i}.ts": "export const x = 1;\n" * 50 for i in range(40)})
    check = SourceMapCheck()
    for w in windows("package/cli.js.map", big, 8192):
        assert check.visit(w, UNLICENSED) is None
    [one] = check.finish(UNLICENSED)
    assert one.rule == "source/map-too-big" and one.severity == Severity.HIGH and one.facts["bytes"] == len(big)
    assert f"{len(big):,} bytes" in one.title
    empty = source_map({f"src/m{i}.ts": None for i in range(2000)})
    check = SourceMapCheck()
    for w in windows("package/x.js.map", empty, 8192):
        check.visit(w, UNLICENSED)
    assert [f.severity for f in check.finish(UNLICENSED)] == [Severity.LOW]


def test_an_inline_map_in_a_bundle_too_big_to_arrive_whole_is_reported_not_decoded():
    payload = base64.b64encode(source_map({"src/a.ts": "const a = 1;\n" * 400}))
    data = b"var x=1;\n" * 3000 + b"//# sourceMappingURL=data:application/json;base64," + payload + b"\n"
    check = SourceMapCheck()
    for w in windows("dist/big.js", data, 16384):
        assert check.visit(w, UNLICENSED) is None
    [one] = check.finish(UNLICENSED)
    assert one.rule == "source/map-too-big" and one.severity == Severity.HIGH and one.path == "dist/big.js"


def test_derived_pieces_are_not_searched_for_maps_again():
    nested = source_map({"inner.ts": "x"})
    data = b"y;\n" + inline_comment(nested)
    assert SourceMapCheck().visit(piece("a.js.map#b.js", data, origin="map"), UNLICENSED) is None


def test_the_same_original_file_in_two_maps_is_counted_once_in_the_summary():
    members = [("p/a.js.map", source_map({"src/x.ts": "a\nb\n"})), ("p/a.mjs.map", source_map({"src/x.ts": "a\nb\n"}))]
    findings = scan([SourceMapCheck()], members, UNLICENSED)
    [summary] = by_rule(findings, "source/summary")
    assert (summary.facts["files"], summary.facts["lines"], summary.facts["maps"]) == (1, 2, 2)
    assert summary.facts["paths"] == ["p/a.js.map", "p/a.mjs.map"]
