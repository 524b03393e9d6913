"""A wrong value said in one sentence, from real pytest and doctest output (agent/verify/mismatch.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_projects import project, pytest_output

from ketch.agent.verify.mismatch import mismatch

CODE = ('def sum_to(n):\n    return sum(range(1, n))\n\n\ndef shout(s):\n    return s\n\n\n'
        'def initials(name):\n    """\n    >>> initials("ada lovelace")\n    \'AL\'\n    """\n'
        '    return "".join(p[0] for p in name.split())\n\n\ndef first(items):\n    return items[0]\n')


@pytest.mark.parametrize(("test", "said"), [
    ("assert sum_to(3) == 6", "sum_to(3) returned 3, but the test expects 6."),
    ('assert shout("hi, you") == "HI-YOU"', "shout(\"hi, you\") returned 'hi, you', but the test expects 'HI-YOU'."),
    ("expected = 6\n    assert sum_to(3) == expected", "sum_to(3) returned 3, but the test expects 6."),
    ("assert first([]) == 0", ""),  # an exception, not a value: its own line says it
    ("assert sum_to(3) > 6", ""),  # not an equality: nothing to restate
    ("assert list(range(sum_to(200))) == []", ""),  # a value too long to restate
])
def test_pytest_s_failed_equality_is_restated(tmp_path: Path, test: str, said: str):
    root = project(tmp_path, {"calc.py": CODE, "test_code.py": f"from calc import *\n\n\ndef test_it():\n    {test}\n"})
    output = pytest_output(root)
    assert "1 failed" in output
    assert mismatch(output) == said


def test_a_failed_doctest_is_restated(tmp_path: Path):
    root = project(tmp_path, {"calc.py": CODE, "test_doc.py": (
        "import doctest\n\nimport calc\n\n\ndef test_doctests():\n    assert doctest.testmod(calc).failed == 0\n")})
    output = pytest_output(root)
    assert "Failed example:" in output
    assert mismatch(output) == "initials(\"ada lovelace\") returned 'al', but the docstring expects 'AL'."


def test_a_name_never_defined_is_named_with_its_file(tmp_path: Path):
    root = project(tmp_path, {"geo.py": "def hyp(a, b):\n    return math.sqrt(a * a + b * b)\n",
                              "test_geo.py": "from geo import hyp\n\n\ndef test_hyp():\n    assert hyp(3, 4) == 5.0\n"})
    assert mismatch(pytest_output(root)) == "`math` is used in geo.py but never defined or imported there."


def test_output_that_states_no_comparison_gives_no_sentence():
    assert mismatch("") == "" and mismatch("Traceback ...\nKeyError: 'port'\n") == ""
