"""Localization: the code a failed run points at, and the failing test, from real pytest output."""

from __future__ import annotations

from pathlib import Path

from tiny_projects import project, run

from ketch.agent.verify.localize import MAX_CODE_LINES, WHOLE_FILE_LINES, enclosing, localize

PAD = "".join(f"# note {i}\n" for i in range(WHOLE_FILE_LINES))  # makes a file too long to be shown whole


def pytest_output(root: Path) -> str:
    return run(root, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")


def test_an_exception_points_at_the_functions_it_went_through_and_the_test(tmp_path: Path):
    root = project(tmp_path, {
        "shop/__init__.py": "",
        "shop/cart.py": "import math\n\n\nclass Cart:\n    def __init__(self, items):\n        self.items = items\n\n"
                        "    def average(self):\n        return total(self.items) / len(self.items)\n\n\n"
                        "def total(items):\n    return sum(items)\n" + PAD,
        "tests/test_cart.py": "from shop.cart import Cart\n\n\ndef test_average_of_nothing_is_zero():\n"
                              "    cart = Cart([])\n    assert cart.average() == 0\n",
    })
    text = localize(pytest_output(root), root)
    assert "The code the failure points at: shop/cart.py, lines 8-9, def average (the traceback points at line 9)" \
        in text
    assert "    def average(self):\n        return total(self.items) / len(self.items)\n```" in text
    assert "def total" not in text  # not in the traceback, not called by the test
    assert ("The failing test (evidence of what the code must do; do not edit it): tests/test_cart.py, lines 4-6, "
            "def test_average_of_nothing_is_zero") in text
    assert text.index("shop/cart.py") < text.index("tests/test_cart.py")


def test_a_wrong_value_points_through_the_test_s_imports_at_what_it_calls(tmp_path: Path):
    root = project(tmp_path, {
        "src/textutil.py": "import re\n\n\ndef words(text):\n    return text.split()\n\n\n"
                           "def slugify(text):\n    \"\"\"'Hello World' -> 'hello-world'.\"\"\"\n"
                           "    return '_'.join(words(text.lower()))\n" + PAD,
        "version.py": "VERSION = '1.2.0'\n" + PAD,
        "tests/test_textutil.py": "import version\nfrom textutil import slugify\n\n\ndef test_slugify():\n"
                                  "    assert version.VERSION\n    assert slugify('Hello World') == 'hello-world'\n",
        "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src', '.']\n",
    })
    text = localize(pytest_output(root), root)
    assert "The code the failure points at: version.py, lines 1-1, VERSION =" in text  # first used, first shown
    assert "And: src/textutil.py, lines 8-10, def slugify:\n```python\ndef slugify(text):" in text
    assert "def words" not in text
    assert "tests/test_textutil.py, lines 5-7, def test_slugify" in text


def test_at_most_two_spans_and_the_line_budget(tmp_path: Path):
    body = "".join(f"    v{i} = {i}\n" for i in range(120))
    root = project(tmp_path, {
        "big.py": f"def a():\n{body}    return b()\n\n\ndef b():\n    return c()\n\n\ndef c():\n    raise KeyError('x')\n",
        "tests/test_big.py": "from big import a\n\n\ndef test_a():\n    a()\n",
    })
    text = localize(pytest_output(root), root)
    assert "def b" in text and "def c" in text and "def a():" not in text  # the innermost two
    code = text.split("The failing test")[0]
    assert code.count("\n") <= MAX_CODE_LINES + 8


def test_a_long_function_is_cut_around_the_line_named(tmp_path: Path):
    body = "".join(f"    v{i} = {i}\n" for i in range(200))
    root = project(tmp_path, {"long.py": f"def f():\n{body}    return {{}}['missing']\n",
                              "tests/test_long.py": "from long import f\n\n\ndef test_f():\n    f()\n"})
    text = localize(pytest_output(root), root)
    assert "return {}['missing']" in text and "v0 = 0" not in text
    assert f"long.py, lines {202 - MAX_CODE_LINES + 1}-202, def f (the traceback points at line 202)" in text


def test_frames_outside_the_workspace_or_in_unreadable_files_are_not_shown(tmp_path: Path):
    outside = tmp_path / "outside.py"
    outside.write_text("def secret():\n    return 'no'\n")
    root = project(tmp_path / "ws", {"app.py": "def f():\n    return 1\n", ".env.py": "KEY = 'x'\n"})
    output = (f'Traceback (most recent call last):\n  File "{outside}", line 2, in secret\n'
              f'  File "{root}/.env.py", line 1, in <module>\n  File "../outside.py", line 1, in secret\n'
              f'  File "{root}/app.py", line 2, in f\nValueError\n')
    text = localize(output, root, readable=lambda path: path.name != ".env.py")
    assert "app.py, lines 1-2, the whole file (the traceback points at line 2)" in text
    assert "secret" not in text and "KEY" not in text


def test_other_languages_get_the_lines_around(tmp_path: Path):
    source = "".join(f"const line{i} = {i};\n" for i in range(1, 90))
    root = project(tmp_path, {"src/math.js": source, "test/math.test.js": "test('adds', () => {});\n"})
    output = (f"AssertionError: 2 == 3\n    at add ({root}/src/math.js:30:9)\n"
              f"    at Object.<anonymous> ({root}/test/math.test.js:1:1)\n")
    text = localize(output, root)
    assert "src/math.js, lines 15-45:\n```javascript\nconst line15 = 15;" in text
    assert "test/math.test.js, lines 1-1" in text
    span = enclosing(root / "src" / "math.js", 2)
    assert span is not None and (span.start, span.end) == (1, 17)


def test_nothing_resolves_nothing_is_said(tmp_path: Path):
    assert localize("ERROR: could not connect\n", tmp_path) == ""
    assert localize('File "gone.py", line 3, in f\n', tmp_path) == ""


def test_a_short_file_is_shown_whole_so_the_other_place_to_change_is_in_sight(tmp_path: Path):
    """A flag is added in build_parser, though the traceback names only main."""
    root = project(tmp_path, {
        "wc.py": "import argparse\n\n\ndef build_parser():\n    parser = argparse.ArgumentParser()\n"
                 "    parser.add_argument('files', nargs='+')\n    return parser\n\n\n"
                 "def main(argv=None):\n    args = build_parser().parse_args(argv)\n    return len(args.files)\n",
        "test_wc.py": "import wc\n\n\ndef test_verbose():\n    assert wc.main(['--verbose', 'a']) == 1\n",
    })
    text = localize(pytest_output(root), root)
    assert "The code the failure points at: wc.py, lines 1-12, the whole file (the traceback points at line 11)" \
        in text
    assert "def build_parser():" in text and text.count("def main(argv=None):") == 1  # once, though two frames


def test_a_short_settings_file_the_code_names_is_shown_whole_beside_it(tmp_path: Path):
    root = project(tmp_path, {
        "app.py": "import json\nfrom pathlib import Path\n\n\ndef port():\n"
                  "    return json.loads((Path(__file__).parent / 'settings.json').read_text())['port']\n",
        "settings.json": '{"prot": 8080}\n',
        "tests/test_app.py": "from app import port\n\n\ndef test_port():\n    assert port() == 8080\n",
        "other.json": '{"port": 1}\n',
    })
    text = localize(pytest_output(root), root)
    assert "And: settings.json, lines 1-1, the whole file:\n```json\n{\"prot\": 8080}\n```" in text
    assert "other.json" not in text
    hidden = localize(pytest_output(root), root, readable=lambda path: path.name != "settings.json")
    assert "settings.json, lines" not in hidden  # the gate's read policy holds here too
