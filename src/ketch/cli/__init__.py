"""The `ketch` command: the fast `--version`, then one table of subcommands, else a run (cli/run.py).

Start-up cost matters (DESIGN.md §6): only the standard library is imported here; providers,
tools and the agent are imported when a run needs them. Exit statuses: ketch/errors.py.
"""

import sys

# Not typing's: importing typing costs ~4 ms, a third of what `--version` added to the bare interpreter
# (and no `from __future__ import annotations`, another module to import: the annotations are quoted).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

# `ketch NAME ...` is handed to the module's main(argv) before any flag is parsed.
SUBCOMMANDS = {"auth": "ketch.cli.auth", "sessions": "ketch.cli.sessions", "models": "ketch.cli.models",
               "undo": "ketch.cli.undo", "mcp": "ketch.cli.mcp",
               "audit": "ketch.cli.audit"}


def version_line() -> str:
    from ketch import __version__

    return f"{__version__} (ketch)"


def main(argv: "Sequence[str] | None" = None) -> "NoReturn":
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # fast path: no argparse, no imports (not even ketch.errors)
        sys.stdout.write(version_line() + "\n")
        sys.exit(0)  # EXIT_OK
    # Every stderr line may quote a server's error body, a setting or a file name: escape them all.
    from ketch.terminal_text import PrintableStream

    sys.stderr = PrintableStream(sys.stderr)
    if args[:1] and args[0] in SUBCOMMANDS:
        import importlib

        try:
            sys.exit(importlib.import_module(SUBCOMMANDS[args[0]]).main(args[1:]))
        except KeyboardInterrupt:
            sys.stderr.write(f"ketch {args[0]}: interrupted\n")
            sys.exit(130)  # EXIT_INTERRUPTED
    from ketch.cli.run import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
