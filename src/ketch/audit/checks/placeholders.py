"""Values that only look like secrets: documentation examples, placeholders, dev defaults.

A report that cries wolf is not read, so these rank low instead of vanishing: a real key that
happens to look like an example is still shown, below the ones that matter.
"""

from __future__ import annotations

import math
from collections import Counter

_WORDS = ("example", "xxxx", "your", "placeholder", "dummy", "changeme", "change_me", "redacted",
          "insert", "replace", "sample", "fake", "1234567890", "abcdefghij", "0000000000", "<", ">",
          "${", "{{", "%s", "%(", "****", "...", "…")
_PASSWORDS = frozenset({"password", "passwd", "pass", "pwd", "secret", "user", "username", "admin", "root",
                        "postgres", "mysql", "guest", "test", "changeme", "letmein", "pw", "p", "x"})
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "example.com", "example.org", "host", "::1")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character: random keys score high, words and repeats low."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def is_placeholder(value: str, body_from: int = 0) -> bool:
    """Whether a key-shaped value is an example or a placeholder. `body_from`: where the random
    part starts (after the issuer's prefix), so `ghp_` does not count towards repetition."""
    low = value.lower()
    if any(w in low for w in _WORDS):
        return True
    body = value[body_from:]
    return len(body) >= 8 and (len(set(body)) <= 3 or entropy(body) < 2.5)


def is_placeholder_password(user: str, password: str, host: str) -> bool:
    """Passwords in URLs: template variables, the same as the user, dev defaults on local hosts."""
    low = password.lower()
    if low in _PASSWORDS or low == user.lower() or is_placeholder(password) or password.startswith(("$", ":", "%")):
        return True
    return host.lower().split(":")[0] in _LOCAL_HOSTS or host.lower().endswith((".example", ".local", ".test"))
