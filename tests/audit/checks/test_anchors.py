"""Anchors: every keyword found where it starts, in a few passes, and nothing else."""

from __future__ import annotations

from ketch.audit.checks.anchors import Anchors

KEYWORDS = [b"ghp_", b"gho_", b"hf_", b"npm_", b"sk_live_", b"github_pat_", b"glpat-", b"xoxb-", b"://",
            b"postgres://", b"eyJ", b"T3BlbkFJ", b"AKIA", b"SG.", b"secret", b"aws_secret"]


def test_each_keyword_is_found_at_its_start() -> None:
    anchors = Anchors(KEYWORDS, b"_-/AJG")
    for kw in KEYWORDS:
        data = b"const x = 1; " + kw + b"tail; y = 2"
        hits = anchors.find(data)
        kept = next(k for k in anchors.kept if k in kw)
        assert (kept, 13 + kw.index(kept)) in hits, kw


def test_a_keyword_holding_a_kept_one_is_reported_as_it() -> None:
    anchors = Anchors(KEYWORDS, b"_-/AJG")
    assert b"postgres://" not in anchors.kept and b"aws_secret" not in anchors.kept
    assert anchors.find(b"x postgres://u:p@h") == [(b"://", 10)]


def test_near_misses_are_not_hits() -> None:
    anchors = Anchors(KEYWORDS, b"_-/AJG")
    assert anchors.find(b"gh_ hf- npm sk_lve_ glpat_ AKI eyj SG, secre :/ /") == []


def test_keywords_without_an_anchor_are_found_as_literals() -> None:
    anchors = Anchors([b"discord", b"token"], b"k")
    assert sorted(anchors.find(b"a token for discord")) == [(b"discord", 12), (b"token", 2)]


def test_hits_are_exactly_those_of_a_find_for_every_keyword() -> None:
    # The alternatives are a two-level tree (anchors._tried): checked against the plain answer, a
    # bytes.find for every keyword, on text full of near misses and keywords sharing a neighbour.
    import random

    keywords = KEYWORDS + [b"rk_live_", b"rk_test_", b"sk_test_", b"key-", b"access_key", b"api_key", b"token"]
    anchors = Anchors(keywords, b"_-/AJGk")
    rng = random.Random(14)
    pieces = [kw[: rng.randint(1, len(kw))] for kw in keywords] + keywords + [b" ", b"_", b"-", b"x", b"k"]
    data = b"".join(rng.choice(pieces) for _ in range(20_000))
    expected = set()
    for kw in anchors.kept:
        at = data.find(kw)
        while at != -1:
            expected.add((kw, at))
            at = data.find(kw, at + 1)
    assert set(anchors.find(data)) == expected
