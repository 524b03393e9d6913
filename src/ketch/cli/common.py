"""What the `ketch` subcommands share: a parser whose mistakes are UsageErrors (exit 2, one line).

Exit statuses themselves are in ketch/errors.py.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from ketch.errors import UsageError


def parser_class(command: str) -> type[argparse.ArgumentParser]:
    """An ArgumentParser class (for the command and its subcommands) whose errors say `(see `COMMAND --help`)`."""

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise UsageError(f"{message} (see `{command} --help`)")

    return Parser
