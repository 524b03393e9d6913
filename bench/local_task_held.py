"""The held-out half of bench/local_tasks.py's tasks: data only, written before any tuning on them.

Do not read their transcripts when changing ketch; the scores are the only thing to look at.
"""

from __future__ import annotations

from local_task import Task, _

HELD_OUT = [
    Task("chunks", "off-by-one",
         "chunks() drops the last item sometimes, test_chunks.py shows it. Fix it.",
         {"batching.py": _('''
             def chunks(seq, size):
                 """seq cut into lists of `size` items; the last one may be shorter."""
                 return [list(seq[i:i + size]) for i in range(0, len(seq) - 1, size)]
             '''),
          "test_chunks.py": _('''
             from batching import chunks


             def test_even():
                 assert chunks([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


             def test_uneven():
                 assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


             def test_size_one():
                 assert chunks("abc", 1) == [["a"], ["b"], ["c"]]
             ''')},
         (("batching.py", "len(seq) - 1", "len(seq)"),), held_out=True),
    Task("longest word", "empty list",
         "longest([]) blows up. It should return an empty string.",
         {"words.py": _('''
             def longest(words):
                 """The longest of words; the first one on a tie."""
                 return max(words, key=len)


             def shortest(words):
                 return min(words, key=len) if words else ""
             '''),
          "test_words.py": _('''
             from words import longest, shortest


             def test_longest():
                 assert longest(["a", "abc", "ab", "xyz"]) == "abc"


             def test_longest_empty():
                 assert longest([]) == ""


             def test_shortest():
                 assert shortest(["abc", "a"]) == "a"
             ''')},
         (("words.py", "return max(words, key=len)", 'return max(words, key=len) if words else ""'),), held_out=True),
    Task("sortlines --reverse", "command-line flag",
         "Add a --reverse option to sortlines.py that sorts the lines in reverse order.",
         {"sortlines.py": _('''
             """Print the lines of a file, sorted."""

             import argparse
             import sys


             def main(argv=None):
                 parser = argparse.ArgumentParser(description=__doc__)
                 parser.add_argument("path")
                 parser.add_argument("--unique", action="store_true", help="drop repeated lines")
                 args = parser.parse_args(argv)
                 with open(args.path) as handle:
                     lines = handle.read().splitlines()
                 if args.unique:
                     lines = set(lines)
                 for line in sorted(lines):
                     print(line)
                 return 0


             if __name__ == "__main__":
                 sys.exit(main())
             '''),
          "test_sortlines.py": _('''
             import sortlines


             def test_sorted(tmp_path, capsys):
                 path = tmp_path / "in.txt"
                 path.write_text("b\\na\\nc\\n")
                 assert sortlines.main([str(path)]) == 0
                 assert capsys.readouterr().out.split() == ["a", "b", "c"]


             def test_reverse(tmp_path, capsys):
                 path = tmp_path / "in.txt"
                 path.write_text("b\\na\\nc\\na\\n")
                 assert sortlines.main(["--reverse", "--unique", str(path)]) == 0
                 assert capsys.readouterr().out.split() == ["c", "b", "a"]
             ''')},
         (("sortlines.py", '    args = parser.parse_args(argv)\n',
           ('    parser.add_argument("--reverse", action="store_true", help="sort in reverse order")\n'
           '    args = parser.parse_args(argv)\n')),
          ("sortlines.py", "sorted(lines)", "sorted(lines, reverse=args.reverse)")), held_out=True),
    Task("rename calc_total", "rename across two files",
         "Please rename calc_total to order_total. It's used in shop/orders.py and shop/invoice.py.",
         {"shop/__init__.py": "",
          "shop/orders.py": _('''
             def calc_total(lines):
                 """Sum of quantity * unit price over the order's lines."""
                 return sum(qty * price for qty, price in lines)
             '''),
          "shop/invoice.py": _('''
             from shop.orders import calc_total


             def render(customer, lines):
                 return f"{customer}: {calc_total(lines):.2f}"
             '''),
          "tests/test_shop.py": _('''
             from shop import orders
             from shop.invoice import render


             def test_order_total():
                 assert orders.order_total([(2, 1.5), (1, 4.0)]) == 7.0
                 assert not hasattr(orders, "calc_total")


             def test_render():
                 assert render("Ada", [(3, 2.0)]) == "Ada: 6.00"
             ''')},
         (("shop/orders.py", "calc_total", "order_total"), ("shop/invoice.py", "calc_total", "order_total")),
         held_out=True),
    Task("pool size key", "wrong config key",
         "pool_size() fails with KeyError: 'max_connections'. Fix it.",
         {"settings.json": '{\n  "database": "app.db",\n  "max-connections": 20,\n  "timeout": 5\n}\n',
          "pool.py": _('''
             import json
             from pathlib import Path

             SETTINGS = Path(__file__).parent / "settings.json"


             def pool_size():
                 settings = json.loads(SETTINGS.read_text())
                 return settings["max_connections"]
             '''),
          "test_pool.py": _('''
             from pool import pool_size


             def test_pool_size():
                 assert pool_size() == 20
             ''')},
         (("settings.json", '"max-connections"', '"max_connections"'),), held_out=True),
    Task("parse_duration", "implement from docstring and test",
         "Write parse_duration in durations.py, see its docstring and the tests.",
         {"durations.py": _('''
             """Durations in the scheduler's config files."""


             def parse_duration(text):
                 """Seconds in a duration like "2h", "45m", "90s" or "1h30m" (hours, then minutes, then
                 seconds, each optional but at least one). Anything else raises ValueError."""
                 raise NotImplementedError


             def format_duration(seconds):
                 minutes, seconds = divmod(seconds, 60)
                 return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
             '''),
          "test_durations.py": _('''
             import pytest

             from durations import format_duration, parse_duration


             def test_parse():
                 assert parse_duration("2h") == 7200
                 assert parse_duration("45m") == 2700
                 assert parse_duration("90s") == 90
                 assert parse_duration("1h30m") == 5400


             def test_parse_rejects():
                 for bad in ("", "abc", "5", "1x"):
                     with pytest.raises(ValueError):
                         parse_duration(bad)


             def test_format():
                 assert format_duration(75) == "1m15s"
             ''')},
         (("durations.py", '"""Durations in the scheduler\'s config files."""\n',
           '"""Durations in the scheduler\'s config files."""\n\nimport re\n'),
          ("durations.py", "    raise NotImplementedError",
           ('    match = re.fullmatch(r"(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?", text)\n'
           '    if not text or match is None:\n'
           '        raise ValueError(f"not a duration: {text!r}")\n'
           '    h, m, s = (int(g or 0) for g in match.groups())\n'
           '    return h * 3600 + m * 60 + s'))), held_out=True),
    Task("fahrenheit doctest", "failing doctest",
         "The doctests in temperature.py fail, please fix.",
         {"temperature.py": _('''
             def to_fahrenheit(celsius):
                 """
                 >>> to_fahrenheit(100)
                 212.0
                 >>> to_fahrenheit(0)
                 32.0
                 """
                 return celsius * 5 / 9 + 32


             def to_celsius(fahrenheit):
                 """
                 >>> to_celsius(212)
                 100.0
                 """
                 return (fahrenheit - 32) * 5 / 9
             '''),
          "test_doctests.py": _('''
             import doctest

             import temperature


             def test_doctests():
                 assert doctest.testmod(temperature).failed == 0
             ''')},
         (("temperature.py", "celsius * 5 / 9 + 32", "celsius * 9 / 5 + 32"),),
         keep=(("temperature.py", ">>> to_fahrenheit(100)\n    212.0"),), held_out=True),
    Task("release 1.0.0", "bump a version in two places",
         "We're releasing 1.0.0, bump the version.",
         {"setup.cfg": _('''
             [metadata]
             name = mytool
             version = 0.9.1

             [options]
             packages = mytool
             '''),
          "mytool/__init__.py": "",
          "mytool/version.py": 'VERSION = "0.9.1"\n',
          "tests/test_release.py": _('''
             import configparser
             from pathlib import Path

             from mytool.version import VERSION


             def test_setup_cfg_matches():
                 cfg = configparser.ConfigParser()
                 cfg.read(Path(__file__).parent.parent / "setup.cfg")
                 assert cfg["metadata"]["version"] == VERSION


             def test_version():
                 assert VERSION == "1.0.0"
             ''')},
         (("setup.cfg", "version = 0.9.1", "version = 1.0.0"), ("mytool/version.py", "0.9.1", "1.0.0")),
         held_out=True),
    Task("normalize email", "missing return",
         "normalize() returns None, why? Fix it.",
         {"accounts.py": _('''
             def normalize(email):
                 """The email as stored: no surrounding spaces, lower case."""
                 email.strip().lower()


             def same_account(a, b):
                 return normalize(a) == normalize(b)
             '''),
          "test_accounts.py": _('''
             from accounts import normalize, same_account


             def test_normalize():
                 assert normalize(" Ada@Example.COM ") == "ada@example.com"


             def test_same_account():
                 assert same_account("a@b.c", "A@B.C ")
                 assert not same_account("a@b.c", "x@b.c")
             ''')},
         (("accounts.py", "    email.strip().lower()", "    return email.strip().lower()"),), held_out=True),
    Task("receipt prices", "string formatting",
         "The receipt test fails, the prices come out wrong. Fix it.",
         {"receipt.py": _('''
             def line(name, price):
                 """One receipt line: the name left-aligned in 10 columns, the price right-aligned in 8
                 with two decimals."""
                 return f"{name:<10}{price:>8.2}"


             def total_line(prices):
                 return line("TOTAL", sum(prices))
             '''),
          "test_receipt.py": _('''
             from receipt import line, total_line


             def test_line():
                 assert line("tea", 3.5) == "tea           3.50"


             def test_total_line():
                 assert total_line([1.25, 2.5]) == "TOTAL         3.75"
             ''')},
         (("receipt.py", "{price:>8.2}", "{price:>8.2f}"),), held_out=True),
    Task("port fallback", "exception not handled",
         "port() crashes when PORT isn't a number. It should fall back to 8080.",
         {"netconf.py": _('''
             import os

             DEFAULT_PORT = 8080


             def port(env=os.environ):
                 """The port to listen on: $PORT, or DEFAULT_PORT when it is unset or not a number."""
                 return int(env.get("PORT", DEFAULT_PORT))
             '''),
          "test_netconf.py": _('''
             from netconf import port


             def test_port():
                 assert port({"PORT": "9000"}) == 9000
                 assert port({}) == 8080


             def test_bad_port():
                 assert port({"PORT": "abc"}) == 8080
             ''')},
         (("netconf.py", '    return int(env.get("PORT", DEFAULT_PORT))',
           ('    try:\n        return int(env.get("PORT", DEFAULT_PORT))\n    except ValueError:\n'
           '        return DEFAULT_PORT')),), held_out=True),
    Task("leaderboard order", "sort order",
         "The leaderboard shows the lowest scores first. It should show the highest first.",
         {"leaderboard.py": _('''
             def top(scores, n=3):
                 """The n best (name, score) pairs from a {name: score} dict, best first."""
                 ranked = sorted(scores.items(), key=lambda item: item[1])
                 return ranked[:n]
             '''),
          "test_leaderboard.py": _('''
             from leaderboard import top


             def test_top():
                 scores = {"ada": 90, "bob": 50, "cy": 70, "di": 80}
                 assert top(scores) == [("ada", 90), ("di", 80), ("cy", 70)]
                 assert top(scores, n=1) == [("ada", 90)]
             ''')},
         (("leaderboard.py", "key=lambda item: item[1])", "key=lambda item: item[1], reverse=True)"),),
         held_out=True),
    Task("log level", "config value",
         "Set the default log level to warning.",
         {"config.json": '{\n  "log_level": "debug",\n  "db_path": "data/app.db"\n}\n',
          "logsetup.py": _('''
             import json
             import logging
             from pathlib import Path

             CONFIG = Path(__file__).parent / "config.json"


             def level():
                 """The logging level the config asks for."""
                 return getattr(logging, json.loads(CONFIG.read_text())["log_level"].upper())
             '''),
          "test_logsetup.py": _('''
             import logging

             from logsetup import level


             def test_level():
                 assert level() == logging.WARNING
             ''')},
         (("config.json", '"debug"', '"warning"'),), held_out=True),
]
