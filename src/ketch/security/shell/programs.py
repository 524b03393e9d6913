"""The option lists of the test runners, linters, builders and installers that the built-in
rules let run without asking (data/sandboxed_allow.txt), read from each program's manual.

Left off every list on purpose: options that load code named on the command line (plugins,
config files, formatters, `--eval`, `-exec`, `-toolexec`, interpreters), options that point
the program at another project or folder (`--rootdir`, `-C`, `--manifest-path`, `--prefix`),
options that destroy data (`--basetemp`, `--workdir`), and arguments passed through to
another program (`npm test -- ...`, `tox -- ...`). Options that name an output file are
accepted as writes, which the gate decides like an edit.
"""

from __future__ import annotations

import re

from ketch.security.shell.options import (
    Check,
    Grammar,
    no_positionals,
    reads_paths,
    scan,
    table,
)

# -- python: pytest, unittest, tox, nox ---------------------------------------------------------


def _pytest_plugin(value: str) -> str | None:
    return None if value.startswith("no:") else "loads a plugin module (only `-p no:NAME` runs without asking)"


def _warning_filter(value: str) -> str | None:
    parts = value.split(":")
    category = parts[2] if len(parts) > 2 else ""
    return "a warning category outside the builtins is imported" if "." in category else None


def _cov_report(value: str) -> str | None:
    return None if re.fullmatch(r"(term|term-missing|html|xml|json|lcov|annotate|markdown)(:skip-covered)?", value) \
        else "names an output file"


PYTEST = Grammar(table(
    flag="-x --exitfirst --markers --strict-config --strict-markers --strict --fixtures --funcargs "
         "--fixtures-per-test --runxfail --lf --last-failed --ff --failed-first --nf --new-first --cache-clear "
         "--sw --stepwise --sw-skip --stepwise-skip --sw-reset --stepwise-reset -v --verbose --no-header "
         "--no-summary --no-fold-skipped --force-short-summary -q --quiet --disable-warnings "
         "--disable-pytest-warnings -l --showlocals --no-showlocals --xfail-tb --full-trace --collect-only --co "
         "--keep-duplicates --continue-on-collection-errors --doctest-modules --doctest-ignore-import-errors "
         "--doctest-continue-on-failure -V --version -h --help --setup-only --setup-show --setup-plan -s "
         "--no-cov --cov-branch --cov-append --hypothesis-show-statistics --hypothesis-explain "
         "--benchmark-skip --benchmark-disable --benchmark-only --benchmark-enable --runslow --trace-config",
    value="-k -m --maxfail --capture --durations --durations-min --verbosity -r --tb --show-capture --color "
          "--code-highlight --junit-prefix --import-mode --doctest-report --doctest-glob --assert --log-level "
          "--log-format --log-date-format --log-cli-level --log-cli-format --log-cli-date-format "
          "--log-auto-indent --log-disable --lfnf --last-failed-no-failures -n --numprocesses --dist "
          "--maxprocesses --timeout --timeout-method --asyncio-mode --hypothesis-profile --hypothesis-verbosity "
          "--hypothesis-seed --cov-fail-under --cov-context --ignore --ignore-glob --deselect",
    optional="--cov",
    write="--junit-xml --junitxml --log-file --benchmark-json",
    plugin=(_pytest_plugin, "-p"),
    warnings=(_warning_filter, "-W --pythonwarnings"),
    cov=(_cov_report, "--cov-report"),
))


def _pytest_target(word: str, check: Check) -> None:
    """`tests/test_a.py::TestX::test_y[1]`: the file part is read (and must be inside)."""
    check.reads.append(word.split("::", 1)[0])


def pytest(args: list[str]) -> Check:
    check, rest = scan(args, PYTEST, _pytest_target, program="pytest")
    for word in rest:
        _pytest_target(word, check)
    return check


UNITTEST = Grammar(table(flag="-v --verbose -q --quiet --locals --no-locals -f --failfast -c --catch -b --buffer "
                              "-h --help",
                         value="-k --durations -p --pattern"))
_DISCOVER = Grammar(table(flag="-v --verbose -q --quiet --locals -f --failfast -c --catch -b --buffer",
                          value="-k -p --pattern --durations", read="-s --start-directory -t --top-level-directory"))
_TEST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _unittest_target(word: str, check: Check) -> None:
    """A dotted test name (imported from the project) or a file of tests."""
    if not _TEST_NAME.fullmatch(word):
        check.reads.append(word)


def unittest(args: list[str]) -> Check:
    if args[:1] == ["discover"]:
        check, rest = scan(args[1:], _DISCOVER, reads_paths, program="unittest discover")
    else:
        check, rest = scan(args, UNITTEST, _unittest_target, program="unittest")
    return check.refuse("arguments after `--`") if rest else check


TOX = Grammar(table(flag="-r --recreate -q -qq -v -vv --notest --skip-missing-interpreters --no-recreate-pkg "
                         "--list-dependencies --no-list-dependencies -h --help --version -a --listenvs-all "
                         "-l --listenvs --skip-pkg-install",
                    value="-e -m -f --colored --hashseed --parallel -p --exit-and-dump-after"))
_TOX_COMMANDS = frozenset({"run", "r", "run-parallel", "p", "list", "l", "config", "c"})


def tox(args: list[str]) -> Check:
    rest_args = args[1:] if args[:1] and args[0] in _TOX_COMMANDS else args
    check, rest = scan(rest_args, TOX, no_positionals("tox takes no such argument"), program="tox")
    return check.refuse("arguments after `--` reach the environment's commands") if rest else check


NOX = Grammar(table(flag="-l --list --list-sessions -r --reuse-existing-virtualenvs -R -N --no-reuse-existing-virtualenvs "
                         "-x --stop-on-first-error --no-stop-on-first-error --no-install --install-only "
                         "--no-color --forcecolor --force-color --no-error-on-missing-interpreters --json -h --help "
                         "--version",
                    value="-s --session --sessions -e -p --python -k --keywords -t --tags --default-venv-backend "
                          "-db --force-venv-backend -fb"))


def nox(args: list[str]) -> Check:
    check, rest = scan(args, NOX, no_positionals("nox takes sessions with -s"), program="nox")
    return check.refuse("arguments after `--` reach the session's commands") if rest else check


# -- node: npm, yarn, pnpm, eslint, tsc ---------------------------------------------------------

_SCRIPT = Grammar(table(flag="--silent -s --quiet -q --if-present --ignore-scripts --no-color --color"))


def package_script(args: list[str]) -> Check:
    """`npm test`: the project's own script, nothing added (extra words reach the script's
    program, where `--config`, `--require` and friends run code)."""
    check, rest = scan(args, _SCRIPT, no_positionals("extra words reach the script's program"), program="npm")
    return check.refuse("arguments after `--` reach the script's program") if rest else check


_ESLINT_FORMATS = frozenset({"stylish", "json", "json-with-metadata", "compact", "unix", "tap", "html", "junit",
                             "checkstyle", "visualstudio", "jslint-xml"})
ESLINT = Grammar(table(
    flag="--fix --fix-dry-run --quiet --no-color --color --cache --no-eslintrc --no-config-lookup --no-ignore "
         "--no-inline-config --report-unused-disable-directives --no-error-on-unmatched-pattern "
         "--exit-on-fatal-error --no-warn-ignored --debug -v --version -h --help --pass-on-no-patterns",
    value="--fix-type --max-warnings --ext --env --global --ignore-pattern --rule "
          "--report-unused-disable-directives-severity",
    write="-o --output-file",
    format=(lambda v: None if v in _ESLINT_FORMATS else "loads a formatter module", "-f --format"),
))


def eslint(args: list[str]) -> Check:
    check, rest = scan(args, ESLINT, reads_paths, program="eslint")
    for word in rest:
        check.reads.append(word)
    return check


_TSC_WRITES = "--outdir --outfile --out --declarationdir --tsbuildinfofile --generatetrace --generatecpuprofile"


def tsc(args: list[str]) -> Check:
    """tsc loads no code from its options (no plugins on the command line): any compiler
    option runs, except the ones that name where output goes (edits) and `--init`."""
    check = Check()
    i = 0
    while i < len(args):
        word = args[i]
        name, eq, attached = word.partition("=")
        name = name.lower()
        i += 1
        if name in _TSC_WRITES.split() or name in ("-p", "--project"):
            if not eq and i < len(args):
                attached, i = args[i], i + 1
            (check.reads if name in ("-p", "--project") else check.writes).append(attached)
        elif name in ("--init", "--watch", "-w", "--plugins"):
            return check.refuse(f"tsc {word} is not on the list of options that run without asking")
        elif not word.startswith("-"):
            check.reads.append(word)
    return check
