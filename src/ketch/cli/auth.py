"""`ketch auth login|status|logout [--provider anthropic|openai]`: manage stored API keys.

A key is never accepted on the command line (argv is visible to every user in `ps` and
lands in shell history): `login` reads it from piped stdin, or asks with a hidden prompt.
A key is never printed in full either, only masked (`sk-ant-…9f3c`). Exit status: 0 done,
1 the store could not be written, 2 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

MAX_KEY_LEN = 4096

HELP = """\
usage: ketch auth login  [--provider anthropic|openai]   store a key (piped on stdin, or typed hidden)
       ketch auth status [--provider anthropic|openai]   show stored keys, masked, and where they live
       ketch auth logout [--provider anthropic|openai]   delete stored keys (all providers by default)

Keys go to the OS keyring when one is usable (pip install 'ketch[keyring]'), else to
$KETCH_HOME/credentials.json (mode 0600). ANTHROPIC_API_KEY / OPENAI_API_KEY in the
environment always take precedence. Set KETCH_KEYRING=0 to never use the keyring.
"""


def _parse(argv: Sequence[str]) -> tuple[str, str | None]:
    """(action, provider). Messages never repeat an unknown argument: it may be a key."""
    from ketch.config.providers import PROVIDERS

    action: str | None = None
    provider: str | None = None
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--provider" or arg.startswith("--provider="):
            if arg == "--provider":
                if i + 1 >= len(args):
                    raise UsageError(f"--provider needs a value: {' or '.join(PROVIDERS)}")
                i += 1
                value = args[i]
            else:
                value = arg.split("=", 1)[1]
            if value not in PROVIDERS:
                raise UsageError(f"--provider must be {' or '.join(PROVIDERS)}")
            provider = value
        elif arg.startswith("-"):
            raise UsageError("unknown option for ketch auth: see ketch auth --help")
        elif action is None:
            if arg not in ("login", "status", "logout"):
                raise UsageError("unknown auth command: use ketch auth login, status or logout")
            action = arg
        elif action == "login":
            raise UsageError("ketch auth login takes no key argument (other users can read argv with ps): "
                             "pipe it on stdin or type it at the prompt")
        else:
            raise UsageError(f"ketch auth {action} takes no arguments besides --provider")
        i += 1
    if action is None:
        raise UsageError("missing auth command: use ketch auth login, status or logout")
    return action, provider


def _stdin_is_piped() -> bool:
    try:
        return sys.stdin is not None and not sys.stdin.isatty()
    except (OSError, ValueError):
        return False


def _read_key(provider: str | None) -> str:
    if _stdin_is_piped():
        raw = sys.stdin.read(MAX_KEY_LEN + 1)
    else:
        import getpass

        try:
            raw = getpass.getpass(f"{provider or 'API'} key (input hidden): ")
        except EOFError:
            raw = ""
    key = raw.strip()
    if not key:
        raise UsageError("no key given: pipe it on stdin (e.g. ketch auth login < keyfile) or type it at the prompt")
    if len(key) > MAX_KEY_LEN or any(c.isspace() or not c.isprintable() for c in key):
        raise UsageError("that does not look like an API key (it has spaces, line breaks or is too long): "
                         "give the key alone")
    return key


def _infer_provider(key: str) -> str:
    if key.startswith("sk-ant-"):
        return "anthropic"
    if key.startswith("sk-"):
        return "openai"
    raise UsageError("cannot tell which provider this key is for: pass --provider anthropic or --provider openai")


def _login(provider: str | None) -> int:
    from ketch.security import credentials as cred

    key = _read_key(provider)
    provider = provider or _infer_provider(key)
    try:
        where = cred.store_key(provider, key)
    except OSError as exc:
        sys.stderr.write(f"ketch: cannot save the key: {exc.strerror or exc}\n")
        return EXIT_FAILED
    print(f"{provider}: saved {cred.mask(key)} in {where}")
    if where == str(cred.credentials_path()) and cred.keyring_enabled():
        print("note: no usable OS keyring, so the key is in a file only you can read "
              "(pip install 'ketch[keyring]' to use the keyring)")
    env = cred.env_override(provider)
    if env:
        print(f"note: {env} is set in your environment and takes precedence over the stored key")
    return EXIT_OK


def _status(providers: Sequence[str]) -> int:
    import os

    from ketch.security import credentials as cred

    for provider in providers:
        found = cred.lookup(provider)
        env = cred.env_override(provider)
        env_part = f"{env} ({cred.mask(os.environ[env])}) in the environment" if env else ""
        if found and env:
            print(f"{provider}: {cred.mask(found.value)} in {found.where}; overridden by {env_part}")
        elif found:
            print(f"{provider}: {cred.mask(found.value)} in {found.where}")
        elif env:
            print(f"{provider}: not stored; using {env_part}")
        else:
            print(f"{provider}: not set")
    return EXIT_OK


def _logout(providers: Sequence[str]) -> int:
    from ketch.security import credentials as cred

    for provider in providers:
        try:
            removed = cred.delete_key(provider)
        except OSError as exc:
            sys.stderr.write(f"ketch: cannot remove the {provider} key: {exc.strerror or exc}\n")
            return EXIT_FAILED
        print(f"{provider}: {'stored key removed' if removed else 'no stored key'}")
        env = cred.env_override(provider)
        if env:
            print(f"note: {env} is still set in your environment")
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    """Run `ketch auth ARGV...` and return the exit status."""
    from ketch.config.providers import PROVIDERS
    from ketch.errors import ConfigError

    if any(a in ("-h", "--help") for a in argv):
        sys.stdout.write(HELP)
        return EXIT_OK
    try:
        action, provider = _parse(argv)
        if action == "login":
            return _login(provider)
        providers = [provider] if provider else list(PROVIDERS)
        return _status(providers) if action == "status" else _logout(providers)
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"ketch: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("ketch: interrupted\n")
        return EXIT_INTERRUPTED
