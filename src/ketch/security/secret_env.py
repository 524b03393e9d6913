"""Which environment variables hold credentials: one answer for the child environment
(never passed on) and for the redactor (their values never leave ketch).

By name alone is not enough (`MYSQL_PWD`, `GH_PAT`, `SENTRY_DSN`, `CI_JOB_JWT`,
`DATABASE_URL=postgres://u:pw@db`), so the value is looked at too: a URL carrying a
password, or a token in a well-known format, is a secret whatever its variable is called.
The formats are the project's one list (security.credential_formats), shared with `ketch audit`.
"""

from __future__ import annotations

import re

from ketch.security.credential_formats import looks_like_credential

_NAME = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSW(OR)?D|_PWD$|^PWD_|_PASS$|_PASSPHRASE|CREDENTIAL|PRIVATE_?KEY|ACCESS_?KEY|"
    r"SESSION_?KEY|AUTH(?!OR)|(^|_)PAT($|_)|JWT|(^|_)DSN$|COOKIE|WEBHOOK|CONNECTION_?STRING|(^|_)SAS($|_)|"
    r"SIGNING_?KEY|ENCRYPTION_?KEY|CLIENT_?KEY)",
    re.IGNORECASE,
)
_NEVER = frozenset({"PWD", "OLDPWD", "PATH", "HOME", "TERM", "LANG", "SHELL", "USER", "LOGNAME"})


def is_secret(name: str, value: str) -> bool:
    if name in _NEVER:
        return False
    return bool(_NAME.search(name)) or looks_like_credential(value)
