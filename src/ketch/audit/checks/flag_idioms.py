"""The call idioms of common feature-flag systems, and one regex that finds all of them at once.

Speed (DESIGN.md §6): the whole buffer is scanned once, for `(` followed by a quote or `[`,
with a lookbehind on the callee's last characters: all in the regex engine's C loop. Only
the hits (a few per megabyte of minified JS) reach Python, which checks the callee's full name.
"""

from __future__ import annotations

import re

# callee → system. `feature` alone is the compile-time macro (bun/esbuild `feature("KAIROS")`);
# `x.feature(...)` is GrowthBook's.
CALLS: dict[str, str] = {
    "feature": "compile-time",
    **dict.fromkeys(("variation", "boolVariation", "stringVariation", "numberVariation", "jsonVariation",
                     "variationDetail", "boolVariationDetail", "stringVariationDetail",
                     "numberVariationDetail", "jsonVariationDetail"), "launchdarkly"),
    **dict.fromkeys(("isOn", "isOff", "getFeatureValue", "useFeatureIsOn", "useFeatureValue", "evalFeature",
                     "useFeature"), "growthbook"),
    **dict.fromkeys(("checkGate", "useGate", "getFeatureGate", "useFeatureGate", "getExperiment", "useExperiment",
                     "getDynamicConfig", "useDynamicConfig", "getLayer", "useLayer"), "statsig"),
    **dict.fromkeys(("isEnabled", "useFlag", "getVariant", "useVariant"), "unleash"),
    **dict.fromkeys((f"get{t}{k}" for t in ("Boolean", "String", "Number", "Object") for k in ("Value", "Details")),
                    "openfeature"),
    **dict.fromkeys(("getTreatment", "getTreatments", "getTreatmentWithConfig", "getTreatmentsWithConfig"), "split"),
    "hasFeature": "flagsmith",
    "isFeatureEnabled": "flagsmith/posthog",
    **dict.fromkeys(("getValue", "getValueAsync"), "configcat"),
    **dict.fromkeys(("getFeatureFlag", "getFeatureFlagPayload", "useFeatureFlagEnabled", "useFeatureFlagPayload",
                     "useFeatureFlagVariantKey", "isFeatureFlagEnabled"), "posthog"),
    # internal-user gates by e-mail domain: `email.endsWith("@acme.com")`
    **dict.fromkeys(("endsWith", "endswith", "includes", "indexOf"), "internal-user"),
}
# `useFlags()` (LaunchDarkly React) takes no argument: its flags are the members read from it.
NO_ARGUMENT = {"useFlags": "launchdarkly"}

_TAIL = 9


def _call_pattern() -> re.Pattern[bytes]:
    """`(` is ~1.4% of the bytes of code, so what a stop costs is what the pass costs: most stops
    fail at once (no quote or `[` after the `(`); the rest test one class (the callee's last
    character) and then only the tails that end in that character, not all forty-five."""
    by_last: dict[str, list[str]] = {}
    for tail in sorted({name[-_TAIL:] + "(" for name in CALLS}):
        by_last.setdefault(tail[-2], []).append(tail)
    groups = "|".join(f"(?<={re.escape(last)}\\()(?:" + "|".join(f"(?<={re.escape(t)})" for t in tails) + ")"
                      for last, tails in sorted(by_last.items()))
    lasts = "".join(re.escape(c) for c in sorted(by_last))
    empty = "|".join(f"(?<={re.escape(name[-_TAIL:])}\\()" for name in sorted(NO_ARGUMENT))
    return re.compile(rf"\((?:(?=\s?['\"`\[])(?<=[{lasts}]\()(?:{groups})|(?=\))(?:{empty}))".encode())


CALL = _call_pattern()
CALLEE = re.compile(rb"(\.?)(?<![\w$])([A-Za-z_$][\w$]*)\Z")
NAME = rb"[A-Za-z0-9_$][\w$.:/\-]{0,79}"
ARGUMENT = re.compile(rb"\s?(['\"`])(" + NAME + rb")\1")
LIST = re.compile(rb"\s?\[([^\]]{1,2000})\]")
QUOTED = re.compile(rb"(['\"`])(" + NAME + rb")\1")
EMAIL = re.compile(rb"\s?(['\"`])@([a-z0-9-]+(?:\.[a-z0-9-]+)+)\1", re.IGNORECASE)
MEMBERS = re.compile(rb"\)\s*\.\s*([A-Za-z_$][\w$]{0,79})")
DESTRUCTURED = re.compile(rb"\{([\w$\s,:]{1,600})\}\s*=\s*(?:[\w$]+\.)?\Z")

ENV_FLAG = re.compile(rb"(?:[A-Z0-9]+_)*(?:FEATURE|FEATURES|ENABLE|DISABLE|FF|FLAG|EXPERIMENT|EXPERIMENTAL)_[A-Z0-9_]+")
ENV = re.compile(
    rb"(?:process|import\.meta|Bun|Deno)\.env(?:\.([A-Z][A-Z0-9_]{0,79})|\[\s*(['\"`])([A-Z][A-Z0-9_]{0,79})\2)"
    rb"|os\.(?:environ(?:\.get\(|\[)|getenv\()\s*(['\"])([A-Z][A-Z0-9_]{0,79})\4")
USER_TYPE = re.compile(
    rb"USER_TYPE['\"\]]?\s*[!=]==?\s*(['\"`])([\w.\-]{1,40})\1|(['\"`])([\w.\-]{1,40})\3\s*[!=]==?\s*[\w$.\[\]'\"]{0,40}USER_TYPE")
GATE_WORDS = (b"isEmployee", b"isInternalUser", b"isInternal", b"isDogfood", b"isStaff")
GATE = re.compile(rb"(?<![\w$])(isEmployee|isInternalUser|isInternal|isDogfood|isStaff)(?![\w$])")
