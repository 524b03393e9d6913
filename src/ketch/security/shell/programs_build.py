"""Option lists of the builders, linters, formatters and installers the built-in rules let
run without asking: make, cargo, go, ruff, mypy, black, isort, pip, uv, mkdir and touch.

The same rule as `programs.py`: an option is accepted only when it is on the list with
its meaning; code-loading, directory-switching, config-file, pass-through and data-destroying
options are left off, and options that name an output are writes (decided like an edit).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ketch.security.shell.options import (
    Check,
    Grammar,
    no_positionals,
    reads_paths,
    scan,
    table,
)

# -- make ----------------------------------------------------------------------------------------

MAKE = Grammar(table(
    flag="-k --keep-going -s --silent --quiet -n --just-print --dry-run --recon -B --always-make -w "
         "--print-directory --no-print-directory -r --no-builtin-rules -R --no-builtin-variables -q --question "
         "-i --ignore-errors -S --no-keep-going --stop --trace -p --print-data-base -v --version -h --help "
         "--warn-undefined-variables -d",
    optional="--jobs --output-sync --debug -j -O",
))


def make(args: list[str]) -> Check:
    """`make test`: the project's own target; no other targets, no `VAR=value` overrides
    (`CC=...`, `SHELL=...` run what they name), no `-f`, `-C`, `--eval`, `-I`."""
    def positional(word: str, check: Check) -> None:
        if not word.isdigit():  # `-j 4`
            check.refuse(f"`{word}`: another target or a variable override")
    check, rest = scan(args, MAKE, positional, program="make")
    return check.refuse("arguments after `--`") if rest else check


# -- cargo ---------------------------------------------------------------------------------------

CARGO = Grammar(table(
    flag="--workspace --all --lib --bins --tests --examples --benches --all-targets --doc --release -r "
         "--all-features --no-default-features -v --verbose -q --quiet --frozen --locked --offline --no-fail-fast "
         "--no-run --keep-going --ignore-rust-version --future-incompat-report -h --help",
    optional="--timings",
    value="-p --package --exclude --bin --test --example --bench --profile --features -F -j --jobs --target "
          "--color --message-format",
))
_LIBTEST = Grammar(table(
    flag="--nocapture --no-capture --ignored --include-ignored --exact -q --quiet --show-output --list --test "
         "--bench -h --help",
    value="--test-threads --skip --color --format",
    write="--logfile",
))
_CLIPPY_LINT = Grammar(table(value="-D -W -A -F --deny --warn --allow --forbid"))


def cargo(subcommand: str) -> Callable[[list[str]], Check]:
    def check_cargo(args: list[str]) -> Check:
        def positional(word: str, check: Check) -> None:
            if subcommand != "test":  # `cargo test NAME` filters tests by name
                check.refuse(f"`{word}`: cargo {subcommand} takes no such argument")
        check, rest = scan(args, CARGO, positional, program=f"cargo {subcommand}")
        if rest and not check.problem:
            if subcommand == "test":
                scan(rest, _LIBTEST, lambda w, c: None, check, program="the test binary")
            elif subcommand == "clippy":
                scan(rest, _CLIPPY_LINT, no_positionals("clippy takes lint levels"), check, program="clippy")
            else:
                check.refuse("arguments after `--`")
        return check
    return check_cargo


# -- go ------------------------------------------------------------------------------------------

GO = Grammar(table(
    flag="-v -x -n -a -race -msan -asan -cover -short -failfast -json -trimpath -work -benchmem -c -i -buildvcs "
         "-fullpath",
    value="-run -bench -benchtime -count -cpu -parallel -timeout -skip -shuffle -covermode -coverpkg -tags -p "
          "-mod -list -vet",
    write="-o -coverprofile -cpuprofile -memprofile -blockprofile -mutexprofile -trace -outputdir",
), style="single")


def go(args: list[str]) -> Check:
    """Packages (`./...`, import paths) and the safe flags; never `-exec`, `-toolexec`,
    `-vettool`, `-overlay`, `-modfile`, `-C`, `-ldflags`/`-gcflags`, nor `-args`."""
    def positional(word: str, check: Check) -> None:
        if word.startswith((".", "/")) or word.endswith(".go"):
            check.reads.append(re.sub(r"/?\.\.\.$", "", word) or ".")
    check, rest = scan(args, GO, positional, program="go")
    return check.refuse("arguments after `--` reach the test binary") if rest else check


# -- python linters and formatters ---------------------------------------------------------------

RUFF = Grammar(table(
    flag="--fix --no-fix --unsafe-fixes --no-unsafe-fixes --show-fixes --no-show-fixes --diff --fix-only "
         "--no-fix-only --ignore-noqa --statistics --add-noqa --exit-zero --exit-non-zero-on-fix --show-files "
         "--show-settings --preview --no-preview --no-cache -n --isolated --respect-gitignore "
         "--no-respect-gitignore --force-exclude --no-force-exclude -q --quiet -s --silent -v --verbose -e "
         "--exit-non-zero-on-format -h --help --check --version",
    value="--select --extend-select --ignore --extend-ignore --per-file-ignores --extend-per-file-ignores "
          "--fixable --extend-fixable --unfixable --extend-unfixable --exclude --extend-exclude --line-length "
          "--target-version --output-format --dummy-variable-rgx --range --stdin-filename",
    write="-o --output-file",
))


def ruff(args: list[str]) -> Check:
    return _paths_after(scan(args, RUFF, reads_paths, program="ruff"))


MYPY = Grammar(table(
    flag="-v --verbose -V --version -h --help --strict --no-strict-optional --pretty",
    value="--python-version --platform --follow-imports --exclude --enable-error-code --disable-error-code "
          "--always-true --always-false --soft-error-limit --enable-incomplete-feature --junit-format "
          "-p --package -m --module -c --command --custom-typing-module --package-root",
    write="--html-report --linecount-report --linecoverage-report --lineprecision-report --memory-xml-report "
          "--txt-report --xml-report --cobertura-xml-report --any-exprs-report --junit-xml --cache-dir",
    read="--custom-typeshed-dir",
), flag_pattern=r"--(no-)?(warn-[a-z-]+|disallow-[a-z-]+|allow-[a-z-]+|strict-[a-z-]+|check-untyped-defs|"
                r"show-[a-z-]+|hide-[a-z-]+|ignore-missing-imports|implicit-[a-z-]+|explicit-package-bases|"
                r"namespace-packages|local-partial-types|error-summary|color-output|incremental|sqlite-cache|"
                r"skip-version-check|skip-cache-mtime-checks|follow-untyped-imports|extra-checks|site-packages|"
                r"silence-site-packages|force-uppercase-builtins|force-union-syntax|raise-exceptions|"
                r"cache-fine-grained|fast-module-lookup|exclude-gitignore)")


def mypy(args: list[str]) -> Check:
    """Never `--config-file` (its `plugins` run code), `--python-executable` (runs it),
    `--install-types`, `--shadow-file`."""
    return _paths_after(scan(args, MYPY, reads_paths, program="mypy"))


BLACK = Grammar(table(
    flag="-q --quiet -v --verbose --check --diff --color --no-color --fast --safe -S --skip-string-normalization "
         "-C --skip-magic-trailing-comma --preview --unstable --ipynb --pyi --skip-source-first-line --version "
         "-h --help",
    value="--required-version -W --workers --line-ranges --enable-unstable-feature --force-exclude --exclude "
          "--extend-exclude --include -l --line-length -t --target-version --python-cell-magics "
          "--stdin-filename -c --code",
))


def black(args: list[str]) -> Check:
    return _paths_after(scan(args, BLACK, reads_paths, program="black"))


ISORT = Grammar(table(
    flag="--check-only -c --check --diff --df -q --quiet -v --verbose --atomic --show-files --only-modified "
         "--float-to-top --ca --combine-as --force-sort-within-sections --fss --sl --force-single-line-imports "
         "--gitignore --skip-gitignore --version -h --help --filter-files --ff",
    value="--profile -l --line-length --line-width -m --multi-line -p --project --skip -s --skip-glob --sg --py "
          "--python-version --src -o --thirdparty -b --known-local-folder",
))


def isort(args: list[str]) -> Check:
    return _paths_after(scan(args, ISORT, reads_paths, program="isort"))


def _paths_after(result: tuple[Check, list[str]]) -> Check:
    check, rest = result
    check.reads.extend(rest)
    return check


# -- installers ----------------------------------------------------------------------------------

PIP_INSTALL = Grammar(table(
    flag="-U --upgrade --no-deps --pre --no-cache-dir --dry-run --force-reinstall -I --ignore-installed "
         "--no-build-isolation --no-index --require-hashes --no-input --disable-pip-version-check -q --quiet "
         "-v --verbose --prefer-binary --no-color --isolated --no-warn-script-location --no-warn-conflicts "
         "--no-compile --compile --use-pep517 --no-use-pep517 --check-build-dependencies --ignore-requires-python "
         "-h --help",
    value="--upgrade-strategy --only-binary --no-binary --progress-bar --timeout --retries -i --index-url "
          "--extra-index-url --root-user-action",
    read="-r --requirement -c --constraint -e --editable -f --find-links",
    write="--log --report -t --target --src",
))
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]*\])?([<>=!~]=?[A-Za-z0-9.*+!,<>=~-]*)?")


def _requirement(word: str, check: Check) -> None:
    if not _REQUIREMENT.fullmatch(word):
        check.reads.append(word)  # a local path (or URL), which must be inside


def pip_install(args: list[str]) -> Check:
    """Never `--prefix`/`--root`/`--user`, `--python` (runs another interpreter),
    `--config-settings`/`--global-option`/`--install-option` (reach the build backend),
    `--trusted-host`, `--cert`, `--proxy`, `--cache-dir`."""
    check, rest = scan(args, PIP_INSTALL, _requirement, program="pip install")
    for word in rest:
        _requirement(word, check)
    return check


PIP_INSPECT = Grammar(table(
    flag="-l --local --user -o --outdated -u --uptodate -e --editable --exclude-editable --include-editable "
         "--not-required --all -f --files -v --verbose -q --quiet --no-input --disable-pip-version-check "
         "--no-color --isolated --pre -h --help",
    value="--format --exclude",
))


def pip_inspect(args: list[str]) -> Check:
    """`pip list`, `pip freeze`, `pip show NAME`: they read the environment's metadata. Never
    `--path` (another folder's packages), `-r` (a file to read), `--python`, `--index-url`."""
    def name(word: str, check: Check) -> None:
        if not _REQUIREMENT.fullmatch(word):
            check.refuse(f"`{word}` is not a package name")

    check, rest = scan(args, PIP_INSPECT, name, program="pip")
    for word in rest:
        name(word, check)
    return check


_UV_COMMON = ("-U --upgrade --dry-run --reinstall --no-cache -n --offline -q --quiet -v --verbose "
              "--no-build-isolation --compile-bytecode --no-progress -h --help")
_UV_VALUES = ("--upgrade-package -P --resolution --prerelease --link-mode --exclude-newer --index-url -i "
              "--extra-index-url --index --default-index --reinstall-package")
UV_PIP_INSTALL = Grammar(table(
    flag=_UV_COMMON + " --no-deps --no-index --require-hashes --strict --exact",
    value=_UV_VALUES + " --no-binary --only-binary --python-version --python-platform",
    read="-r --requirement -c --constraint -e --editable -f --find-links --overrides",
    write="-t --target",
))
UV_SYNC = Grammar(table(
    flag=_UV_COMMON + " --frozen --locked --no-dev --dev --all-extras --all-groups --no-default-groups --only-dev "
                      "--no-install-project --no-install-workspace --inexact --exact --no-editable --all-packages",
    value=_UV_VALUES + " --extra --group --only-group --no-group --package --no-install-package",
))


def uv_pip_install(args: list[str]) -> Check:
    """Never `--python`/`-p` (an interpreter to run), `--system`, `--prefix`,
    `--directory`/`--project`, `--config-file`, `--config-setting`, `--cache-dir`."""
    check, rest = scan(args, UV_PIP_INSTALL, _requirement, program="uv pip install")
    for word in rest:
        _requirement(word, check)
    return check


def uv_sync(args: list[str]) -> Check:
    check, rest = scan(args, UV_SYNC, no_positionals("uv sync takes no such argument"), program="uv sync")
    return check.refuse("arguments after `--`") if rest else check


# -- making folders and files --------------------------------------------------------------------

MKDIR = Grammar(table(flag="-p --parents -v --verbose", value="-m --mode"))
TOUCH = Grammar(table(flag="-a -c --no-create -m -h --no-dereference -f", value="-d --date -t --time",
                      read="-r --reference"))


def _creates(word: str, check: Check) -> None:
    check.creates.append(word)


def mkdir(args: list[str]) -> Check:
    check, rest = scan(args, MKDIR, _creates, program="mkdir")
    check.creates.extend(rest)
    return check


def touch(args: list[str]) -> Check:
    check, rest = scan(args, TOUCH, _creates, program="touch")
    check.creates.extend(rest)
    return check
