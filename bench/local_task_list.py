"""The tune half of bench/local_tasks.py's tasks (the ones ketch may be tuned against): data only.

They include the four old tasks of this bench that had this shape (calc, sum_to, greet, the
missing import), rebuilt around pytest. The held-out half is local_task_held.py.
"""

from __future__ import annotations

from local_task import Task, _

TUNE = [
    Task("calc add", "wrong operator",
         "test_calc.py fails. Fix the bug in calc.py so that the tests pass.",
         {"calc.py": _('''
             """Tiny calculator used by the invoice script."""


             def add(a, b):
                 return a - b


             def mul(a, b):
                 return a * b
             '''),
          "test_calc.py": _('''
             from calc import add, mul


             def test_add():
                 assert add(2, 3) == 5
                 assert add(-1, 1) == 0


             def test_mul():
                 assert mul(4, 5) == 20
             ''')},
         (("calc.py", "return a - b", "return a + b"),)),
    Task("sum_to", "off-by-one",
         "sum_to(10) should be 55 but the test says otherwise. Please fix it.",
         {"total.py": _('''
             def sum_to(n):
                 """1 + 2 + ... + n"""
                 return sum(range(1, n))
             '''),
          "test_total.py": _('''
             from total import sum_to


             def test_sum_to():
                 assert sum_to(3) == 6
                 assert sum_to(10) == 55
                 assert sum_to(0) == 0
             ''')},
         (("total.py", "range(1, n)", "range(1, n + 1)"),)),
    Task("rename greet", "rename across two files",
         "Rename the function greet to say_hello everywhere (util.py and main.py).",
         {"util.py": _('''
             def greet(name):
                 return f"Hello, {name}!"
             '''),
          "main.py": _('''
             from util import greet


             def welcome(name):
                 return greet(name)


             if __name__ == "__main__":
                 print(welcome("world"))
             '''),
          "test_main.py": _('''
             import util
             from main import welcome


             def test_say_hello():
                 assert util.say_hello("Ada") == "Hello, Ada!"
                 assert not hasattr(util, "greet")


             def test_welcome():
                 assert welcome("Ada") == "Hello, Ada!"
             ''')},
         (("util.py", "greet", "say_hello"), ("main.py", "greet", "say_hello"))),
    Task("geometry import", "missing import",
         "test_geometry.py fails with a NameError, can you fix it?",
         {"geometry.py": _('''
             """Shapes for the floor-plan tool."""


             def hypotenuse(a, b):
                 return math.sqrt(a * a + b * b)


             def circle_area(r):
                 return math.pi * r * r
             '''),
          "test_geometry.py": _('''
             from geometry import circle_area, hypotenuse


             def test_hypotenuse():
                 assert hypotenuse(3, 4) == 5.0


             def test_circle_area():
                 assert round(circle_area(1), 5) == 3.14159
             ''')},
         (("geometry.py", '"""Shapes for the floor-plan tool."""\n', '"""Shapes for the floor-plan tool."""\n\nimport math\n'),)),
    Task("average of nothing", "empty list",
         "average() crashes when the list is empty; it should return 0.0. Fix it.",
         {"stats.py": _('''
             def average(numbers):
                 """The mean of numbers (0.0 for no numbers)."""
                 return sum(numbers) / len(numbers)


             def spread(numbers):
                 return max(numbers) - min(numbers)
             '''),
          "test_stats.py": _('''
             from stats import average, spread


             def test_average():
                 assert average([1, 2, 3]) == 2.0


             def test_average_empty():
                 assert average([]) == 0.0


             def test_spread():
                 assert spread([4, 1, 9]) == 8
             ''')},
         (("stats.py", "    return sum(numbers) / len(numbers)",
           "    if not numbers:\n        return 0.0\n    return sum(numbers) / len(numbers)"),)),
    Task("wordcount --verbose", "command-line flag",
         "Add a --verbose flag to wordcount.py: with it, print each file's count as `NAME: N` "
         "before the total. test_wordcount.py has the details.",
         {"wordcount.py": _('''
             import argparse


             def build_parser():
                 parser = argparse.ArgumentParser(description="Count the words in text files.")
                 parser.add_argument("files", nargs="+")
                 return parser


             def main(argv=None):
                 args = build_parser().parse_args(argv)
                 total = 0
                 for name in args.files:
                     with open(name) as handle:
                         words = len(handle.read().split())
                     total += words
                 print(total)
                 return 0


             if __name__ == "__main__":
                 raise SystemExit(main())
             '''),
          "test_wordcount.py": _('''
             import wordcount


             def test_total(tmp_path, capsys):
                 (tmp_path / "a.txt").write_text("one two three")
                 assert wordcount.main([str(tmp_path / "a.txt")]) == 0
                 assert capsys.readouterr().out == "3\\n"


             def test_verbose(tmp_path, capsys):
                 a, b = tmp_path / "a.txt", tmp_path / "b.txt"
                 a.write_text("one two three")
                 b.write_text("four")
                 assert wordcount.main(["--verbose", str(a), str(b)]) == 0
                 assert capsys.readouterr().out.splitlines() == [f"{a}: 3", f"{b}: 1", "4"]
             ''')},
         (("wordcount.py", '    parser.add_argument("files", nargs="+")\n',
           '    parser.add_argument("files", nargs="+")\n    parser.add_argument("--verbose", action="store_true")\n'),
          ("wordcount.py", "        total += words\n",
           "        if args.verbose:\n            print(f\"{name}: {words}\")\n        total += words\n"))),
    Task("slugify", "implement from docstring and test",
         "Implement slugify in text.py. The docstring and test_text.py say what it should do.",
         {"text.py": _('''
             """Text helpers for the blog."""


             def slugify(title):
                 """A URL slug for a title: lower case, every run of characters other than a-z and 0-9
                 becomes one hyphen, no hyphen at either end."""
                 raise NotImplementedError


             def word_count(text):
                 return len(text.split())
             '''),
          "test_text.py": _('''
             from text import slugify, word_count


             def test_slugify():
                 assert slugify("Hello, World!") == "hello-world"
                 assert slugify("  Many   spaces ") == "many-spaces"
                 assert slugify("already-a-slug") == "already-a-slug"
                 assert slugify("Top 10 tips") == "top-10-tips"


             def test_word_count():
                 assert word_count("a b c") == 3
             ''')},
         (("text.py", '"""Text helpers for the blog."""\n', '"""Text helpers for the blog."""\n\nimport re\n'),
          ("text.py", "    raise NotImplementedError", '    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")'))),
    Task("initials doctest", "failing doctest",
         "The doctest for initials() fails. Fix it.",
         {"names.py": _('''
             def initials(full_name):
                 """The initials of a name, in capitals.

                 >>> initials("ada lovelace")
                 'AL'
                 >>> initials("Grace Brewster Hopper")
                 'GBH'
                 """
                 return "".join(part[0] for part in full_name.split())


             def surname(full_name):
                 """
                 >>> surname("Ada Lovelace")
                 'Lovelace'
                 """
                 return full_name.split()[-1]
             '''),
          "test_doctests.py": _('''
             import doctest

             import names


             def test_doctests():
                 assert doctest.testmod(names).failed == 0
             ''')},
         (("names.py", "part[0] for part", "part[0].upper() for part"),),
         keep=(("names.py", '>>> initials("ada lovelace")\n    \'AL\''),)),
    Task("bump inventory", "bump a version in two places",
         "Bump the version to 1.5.0.",
         {"pyproject.toml": _('''
             [project]
             name = "inventory"
             version = "1.4.2"
             requires-python = ">=3.10"
             '''),
          "inventory/__init__.py": _('''
             """Stock keeping for the shop."""

             __version__ = "1.4.2"
             '''),
          "test_version.py": _('''
             import tomllib
             from pathlib import Path

             import inventory


             def test_versions_agree():
                 data = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())
                 assert data["project"]["version"] == inventory.__version__


             def test_release():
                 assert inventory.__version__ == "1.5.0"
             ''')},
         (("pyproject.toml", '"1.4.2"', '"1.5.0"'), ("inventory/__init__.py", '"1.4.2"', '"1.5.0"'))),
    Task("server port key", "wrong config key",
         "The app crashes on start with KeyError: 'port'. Fix it.",
         {"config.toml": _('''
             [server]
             host = "127.0.0.1"
             prot = 8080
             '''),
          "app.py": _('''
             import tomllib
             from dataclasses import dataclass
             from pathlib import Path


             @dataclass
             class Settings:
                 host: str
                 port: int


             def load(path=Path(__file__).parent / "config.toml"):
                 data = tomllib.loads(Path(path).read_text())["server"]
                 return Settings(host=data["host"], port=data["port"])
             '''),
          "test_app.py": _('''
             from app import load


             def test_load():
                 settings = load()
                 assert settings.host == "127.0.0.1"
                 assert settings.port == 8080
             ''')},
         (("config.toml", "prot = 8080", "port = 8080"),)),
    Task("paginate default", "wrong default argument",
         "paginate() without a size should give pages of 10, but the test fails. Please fix.",
         {"pages.py": _('''
             def paginate(items, size=1):
                 """Split items into pages of `size` items (10 by default); the last page may be shorter."""
                 return [items[i:i + size] for i in range(0, len(items), size)]
             '''),
          "test_pages.py": _('''
             from pages import paginate


             def test_default_size():
                 pages = paginate(list(range(25)))
                 assert [len(p) for p in pages] == [10, 10, 5]


             def test_size():
                 assert paginate([1, 2, 3], size=2) == [[1, 2], [3]]
             ''')},
         (("pages.py", "size=1", "size=10"),)),
    Task("voting age", "wrong comparison operator",
         "People who are exactly 18 can't vote according to our code, that's wrong. Fix it please.",
         {"rules.py": _('''
             VOTING_AGE = 18


             def can_vote(age):
                 return age > VOTING_AGE


             def is_senior(age):
                 return age >= 65
             '''),
          "test_rules.py": _('''
             from rules import can_vote, is_senior


             def test_can_vote():
                 assert can_vote(18)
                 assert can_vote(40)
                 assert not can_vote(17)


             def test_is_senior():
                 assert is_senior(65) and not is_senior(64)
             ''')},
         (("rules.py", "age > VOTING_AGE", "age >= VOTING_AGE"),)),
    Task("describe user", "dict key typo",
         "describe() raises a KeyError. Fix it.",
         {"report.py": _('''
             def describe(user):
                 """One line for the admin page: name and email."""
                 return f"{user['name']} <{user['emial']}>"


             def count_admins(users):
                 return sum(1 for u in users if u.get("admin"))
             '''),
          "test_report.py": _('''
             from report import count_admins, describe


             def test_describe():
                 assert describe({"name": "Ada", "email": "ada@example.com"}) == "Ada <ada@example.com>"


             def test_count_admins():
                 assert count_admins([{"admin": True}, {}]) == 1
             ''')},
         (("report.py", "user['emial']", "user['email']"),)),
]
