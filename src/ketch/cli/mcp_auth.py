"""`ketch mcp auth NAME`: sign in to a remote MCP server with OAuth (ext/mcp/oauth.py) in the browser.

The link is printed (and a browser opened when there is a display); the tokens are kept with
ketch's credentials and never shown. Exit status: 0 authenticated, 1 no such server or the flow
failed, 2 a stdio server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketch.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from ketch.ext.mcp.config import ServerSet


def add_parser(sub: Any) -> None:
    auth = sub.add_parser("auth", help="sign in to a remote (http/sse) server with OAuth in your browser; ketch keeps "
                                       "the tokens with its credentials")
    auth.add_argument("name", metavar="NAME")
    auth.add_argument("--no-browser", action="store_true", help="only print the link, do not open a browser")


def run(args: argparse.Namespace, loaded: ServerSet, say: Callable[[str], None]) -> int:
    from ketch.ext.mcp.oauth import authenticate

    name = args.name
    config = next((c for c in loaded.servers if c.name == name), None)
    if config is None:
        pending = any(c.name == name for c in loaded.pending)
        sys.stderr.write(f'ketch: server "{name}" ' + ("is not approved yet: start ketch here and approve it first\n"
                         if pending else "is not configured here (see `ketch mcp list`)\n"))
        return EXIT_FAILED
    if config.transport == "stdio":
        raise UsageError(f'server "{name}" is a stdio server: OAuth is for http and sse servers')

    def say_now(line: str) -> None:
        say(line)
        sys.stdout.flush()  # the link must show before the wait, whatever stdout is

    authenticate(config.url, transport=config.transport, client_id=config.oauth_client_id,
                 scopes=config.oauth_scopes, say=say_now, browser=not args.no_browser)
    say(f'authenticated: server "{name}" ({config.url}); the tokens are kept with ketch\'s credentials')
    return EXIT_OK
