"""secret_env: credentials known by name or by value (the shared formats), as before they were shared."""

from __future__ import annotations

import re

import pytest
from fake_keys import WHOLE_KEY_RULES, key

from ketch.security.secret_env import is_secret

# The value check secret_env had before the formats became one shared list: everything it
# withheld is still withheld.
_BEFORE = re.compile(
    r"([a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@)|^(gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk-|AKIA|ASIA|"
    r"npm_|pypi-|hf_)[A-Za-z0-9_\-]{12,}|^eyJ[A-Za-z0-9_-]{8,}\.eyJ",
)
VALUES = ["ghp_FAKE1234567890abcdefABCDEF", "gho_" + "x1" * 8, "github_pat_" + "A" * 14, "glpat-abcdefghijkl",
          "xoxb-1234567890123", "sk-ant-api03-abcdefghijkl", "sk-abcdefghijklmnop", "AKIAABCDEFGHIJKLMNOP",
          "ASIA1234567890123", "npm_abcdefghijklmn", "pypi-AgEIcHlwaS5vcmcABC", "hf_abcdefghijklmnop",
          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "postgres://app:dbpass-5e7f1a2b@db.internal/app",
          "https://user:pw@proxy.corp:3128", "amqp://guest:guest@localhost:5672/"]


@pytest.mark.parametrize("value", VALUES)
def test_values_withheld_before_are_withheld_now(value: str) -> None:
    assert _BEFORE.search(value), "the list is of values the old check withheld"
    assert is_secret("SOME_SETTING", value)


@pytest.mark.parametrize("rule", WHOLE_KEY_RULES)
def test_every_well_known_format_is_withheld_whatever_its_name(rule: str) -> None:
    assert is_secret("SOME_SETTING", key(rule, seed=7))


@pytest.mark.parametrize(("name", "value"), [("MYSQL_PWD", "x"), ("GH_PAT", "x"), ("SENTRY_DSN", "x"),
                                             ("CI_JOB_JWT", "x"), ("OPENAI_API_KEY", "x")])
def test_names_still_count(name: str, value: str) -> None:
    assert is_secret(name, value)


@pytest.mark.parametrize(("name", "value"), [("PATH", "/usr/bin:/bin"), ("PWD", "/home/u"), ("LANG", "C.UTF-8"),
                                             ("EDITOR", "vim"), ("HTTP_PROXY", "http://proxy.corp:3128"),
                                             ("AUTHOR_NAME", "Ada")])
def test_ordinary_variables_pass(name: str, value: str) -> None:
    assert not is_secret(name, value)
