"""The shared credential formats: each finds a key of its issuer's shape, and only the key."""

from __future__ import annotations

import re

import pytest
from fake_keys import CONTEXT_RULES, WHOLE_KEY_RULES, key, snippet

from ketch.security.credential_formats import formats, looks_like_credential

BY_RULE = {f.rule: f for f in formats()}


def test_rules_are_unique_and_every_format_is_complete() -> None:
    assert len(BY_RULE) == len(formats())
    for fmt in formats():
        assert fmt.keywords and fmt.name and fmt.fix and fmt.enables, fmt.rule
        assert fmt.rank in ("critical", "high", "low")
        assert fmt.fix.lower().startswith(("rotate", "roll")), fmt.rule  # rotating comes before removing


@pytest.mark.parametrize("rule", WHOLE_KEY_RULES + ("stripe-test-key",))
def test_each_format_finds_its_own_shape(rule: str) -> None:
    value = key(rule, seed=3)
    fmt = BY_RULE[rule]
    text = f'x = "{value}";'
    assert any(k in text for k in fmt.keywords), "the prefilter keywords must be in every match"
    m = fmt.text_regex.search(text)
    assert m is not None
    assert fmt.bytes_regex.search(text.encode()) is not None


@pytest.mark.parametrize("rule", CONTEXT_RULES)
def test_formats_told_by_a_nearby_name(rule: str) -> None:
    text, value = snippet(rule, seed=5)
    fmt = BY_RULE[rule]
    m = fmt.text_regex.search(text)
    assert m is not None and value.replace("\n", "\\n").startswith(m.group(1)[:20].replace("\n", "\\n"))


def test_keys_one_character_short_are_not_taken() -> None:
    for rule in ("github-token", "npm-token", "aws-access-key-id", "huggingface-token"):
        value = key(rule)
        assert BY_RULE[rule].text_regex.search(f'"{value[:-1]}"') is None, rule


def test_ordinary_code_and_hashes_are_no_format() -> None:
    text = ('const sha = "3f786850e387550fdab836ed7e6dc881de23001b"; // git object\n'
            'integrity: "sha512-' + "Aa0+" * 22 + '==",\nid = "123e4567-e89b-12d3-a456-426614174000"\n'
            'url = "https://example.com:8080/path?x=1"; skip_live_reload = true; task-list\n')
    assert [f.rule for f in formats() if f.text_regex.search(text)] == []


def test_a_pem_header_without_a_body_is_not_a_private_key_match() -> None:
    text = '"-----BEGIN " + kind + " PRIVATE KEY-----"'
    assert BY_RULE["private-key"].text_regex.search(text) is None


@pytest.mark.parametrize("value", [
    "ghp_FAKE1234567890abcdefABCDEF", "postgres://app:dbpass-5e7f1a2b@db.internal/app",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "sk-test-secret-123456", "npm_" + "a" * 12, "AKIA" + "B" * 12])
def test_lenient_value_check_for_environment_values(value: str) -> None:
    assert looks_like_credential(value)


@pytest.mark.parametrize("value", ["/usr/bin:/bin", "en_US.UTF-8", "xterm-256color", "https://example.com/path",
                                   "skeleton", "npm_config", "sk-1"])
def test_ordinary_environment_values_are_not_credentials(value: str) -> None:
    assert not looks_like_credential(value)


def test_no_regex_is_compiled_at_import() -> None:
    import importlib
    import sys

    sys.modules.pop("ketch.security.credential_formats", None)
    mod = importlib.import_module("ketch.security.credential_formats")
    assert all("text_regex" not in vars(f) and "bytes_regex" not in vars(f) for f in mod.formats())
    assert isinstance(mod.formats()[0].text_regex, re.Pattern)
