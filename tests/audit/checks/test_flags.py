"""FlagCheck: flag names from the idioms of each system; names only in maps are the roadmap leak."""

from __future__ import annotations

from fixtures import UNLICENSED, kairos_release, piece, scan

from ketch.audit.checks.flags import FlagCheck, names_in
from ketch.audit.checks.sourcemaps import SourceMapCheck
from ketch.audit.model import Kind, Severity

JS = b"""if (feature('KAIROS')) x(); gb.feature("new-nav"); myfeature("no"); ldClient.variation('ld-key', false);
client.boolVariation("bool-key",!1); const {fooBar, bazQux: b} = useFlags(); useFlags().camelFlag;
isOn('gb_on'); getFeatureValue('gb-val', 1); useFeatureIsOn("gb2"); checkGate('st_gate'); getExperiment('exp1');
getDynamicConfig("dc"); getLayer('layer1'); unleash.isEnabled('un.toggle'); useFlag("uf"); getVariant('uv');
client.getBooleanValue('of-bool', false); getStringDetails("of-str", "x"); getTreatment('split1');
getTreatments(['s2', "s3"]); flagsmith.hasFeature('fs1'); isFeatureEnabled("ph1");
configCat.getValueAsync('cc1', false); posthog.getFeatureFlag('ph2'); useFeatureFlagEnabled(`ph3`);
process.env.FEATURE_X; import.meta.env.VITE_FEATURE_Z; process.env.NODE_ENV; process.env["FF_BETA"];
if (process.env.USER_TYPE === 'ant') {} user.isEmployee; email.endsWith("@Acme.com");
feature('has space'); feature('123'); feature(x); feature('""" + b"A" * 81 + b"""');
"""


def test_each_system_s_idiom_yields_its_names():
    assert names_in(JS) == [
        ("compile-time", "KAIROS"), ("growthbook", "new-nav"), ("launchdarkly", "ld-key"),
        ("launchdarkly", "bool-key"), ("launchdarkly", "fooBar"), ("launchdarkly", "bazQux"),
        ("launchdarkly", "camelFlag"), ("growthbook", "gb_on"), ("growthbook", "gb-val"), ("growthbook", "gb2"),
        ("statsig", "st_gate"), ("statsig", "exp1"), ("statsig", "dc"), ("statsig", "layer1"),
        ("unleash", "un.toggle"), ("unleash", "uf"), ("unleash", "uv"), ("openfeature", "of-bool"),
        ("openfeature", "of-str"), ("split", "split1"), ("split", "s2"), ("split", "s3"), ("flagsmith", "fs1"),
        ("flagsmith/posthog", "ph1"), ("configcat", "cc1"), ("posthog", "ph2"), ("posthog", "ph3"),
        ("internal-user", "email=@acme.com"),
        ("env", "FEATURE_X"), ("env", "VITE_FEATURE_Z"), ("env", "FF_BETA"),
        ("internal-user", "USER_TYPE=ant"), ("internal-user", "isEmployee")]


def test_python_env_gates_and_internal_user_values():
    py = b"""if os.environ.get("ENABLE_NEW_UI"): pass
beta = os.getenv('FEATURE_BETA', '0') and os.environ["MYAPP_DISABLE_CACHE"] and os.getenv("HOME")
if USER_TYPE == "staff" or "ant" != USER_TYPE: pass
"""
    assert names_in(py) == [("env", "ENABLE_NEW_UI"), ("env", "FEATURE_BETA"), ("env", "MYAPP_DISABLE_CACHE"),
                            ("internal-user", "USER_TYPE=staff"), ("internal-user", "USER_TYPE=ant")]


def test_ordinary_code_yields_no_names():
    code = (b"function f(e){return e.includes('x')||e.indexOf(\"@\")||getValue(\"a b\")||s.endsWith('.js')}"
            b"var isOnline=navigator.onLine;process.env.NODE_ENV!=='production';env.FEATURE;")
    assert names_in(code) == []


def test_the_2_1_88_shape_names_only_in_the_map_are_one_medium_roadmap_finding():
    findings = scan([SourceMapCheck(), FlagCheck()], kairos_release(), UNLICENSED)
    [leak] = [f for f in findings if f.rule == "roadmap/map-only-flags"]
    assert (leak.kind, leak.severity) == (Kind.ROADMAP, Severity.MEDIUM)
    assert leak.title == "5 unreleased flag names, present only inside source maps"
    assert leak.facts["names"] == ["COORDINATOR_MODE", "KAIROS", "PROACTIVE", "USER_TYPE=ant", "VOICE_MODE"]
    assert leak.facts["systems"] == {"compile-time": 4, "internal-user": 1}
    assert leak.facts["gates"] == ["USER_TYPE=ant"]
    assert leak.facts["first_seen"]["VOICE_MODE"] == "package/cli.js.map#../src/tools/index.ts"
    [shipped] = [f for f in findings if f.rule == "roadmap/shipped-flags"]
    assert shipped.severity == Severity.LOW and shipped.facts["names"] == ["tengu_public_gate"]
    assert shipped.title == "1 flag name in shipped code, not declared public"


def test_public_names_are_not_reported_and_dependencies_are_not_the_roadmap():
    public = frozenset({"KAIROS", "PROACTIVE", "COORDINATOR_MODE", "VOICE_MODE", "USER_TYPE=ant", "tengu_public_gate"})
    assert scan([SourceMapCheck(), FlagCheck(public)], kairos_release(), UNLICENSED)[-1].rule == "source/summary"
    check = FlagCheck()
    check.visit(piece("package/node_modules/sdk/index.js", b"checkGate('theirs')"), UNLICENSED)
    check.visit(piece("a.js.map#../node_modules/x/y.ts", b"feature('THEIRS')", origin="map"), UNLICENSED)
    assert check.finish(UNLICENSED) == []


def test_a_name_in_both_the_map_and_the_shipped_code_is_shipped_not_unreleased():
    check = FlagCheck()
    check.visit(piece("a.js.map#src/a.ts", b"checkGate('both'); checkGate('hidden')", origin="map"), UNLICENSED)
    check.visit(piece("a.js", b"checkGate('both')"), UNLICENSED)
    medium, low = check.finish(UNLICENSED)
    assert medium.facts["names"] == ["hidden"] and low.facts["names"] == ["both"]
    assert medium.title == "1 unreleased flag name, present only inside source maps"


def test_every_callee_is_found_whatever_character_it_ends_in():
    # CALL tests the callee's last character before its tails (flag_idioms._call_pattern): every
    # callee, bare and as a method, with and without a space before the quote, must still be found.
    from ketch.audit.checks.flag_idioms import CALLS

    for callee, system in CALLS.items():
        if system == "internal-user":
            continue
        for call in (f"{callee}('k-{callee}')", f"x.{callee}( \"k-{callee}\", 1)"):
            found = names_in(f"a;{call};b".encode())
            assert [name for _, name in found] == [f"k-{callee}"], call


def test_env_lookups_are_found_and_words_holding_env_are_not():
    code = (b"environment(); envelope.FEATURE_A; os.environs['FEATURE_B']; process.envFoo.FEATURE_C;\n"
            b"Bun.env.FEATURE_D; Deno.env['FF_E']; os.environ.get('ENABLE_F'); x=os.getenv(\"FLAG_G\");\n"
            b"getenvironment('FEATURE_H'); myenv.FEATURE_I; process.env.FEATURE_J")
    assert names_in(code) == [("env", "FEATURE_D"), ("env", "FF_E"), ("env", "ENABLE_F"), ("env", "FLAG_G"),
                              ("env", "FEATURE_J")]
