"""Credentials of the right shape for each well-known format, made at run time.

Nothing key-shaped is committed (GitHub push protection would stop the push, and rightly
wonder): prefixes are assembled from parts and bodies come from a seeded generator, so a test
gets the same fake key every run.
"""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"


def _rand(seed: int, n: int, alphabet: str = ALNUM) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def pem(kind: str = "RSA", seed: int = 0, lines: int = 12) -> str:
    label = f"{kind} PRIVATE KEY".strip()
    body = "\n".join(_rand(seed + i, 64, B64) for i in range(lines))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def key(rule: str, seed: int = 0) -> str:
    """The credential alone, for a format whose shape says it all."""
    r = seed
    makers = {
        "aws-access-key-id": lambda: "AK" + "IA" + _rand(r, 16, string.ascii_uppercase + "234567"),
        "gcp-api-key": lambda: "AI" + "za" + _rand(r, 35, URLSAFE),
        "github-token": lambda: "gh" + "p_" + _rand(r, 36),
        "github-fine-grained-token": lambda: "github" + "_pat_" + _rand(r, 22) + "_" + _rand(r, 59),
        "gitlab-token": lambda: "gl" + "pat-" + _rand(r, 20, URLSAFE),
        "slack-token": lambda: "xo" + "xb-" + _rand(r, 12, string.digits) + "-" + _rand(r, 13, string.digits)
        + "-" + _rand(r, 24),
        "slack-webhook": lambda: "https://hooks.sl" + "ack.com/services/T" + _rand(r, 8, string.ascii_uppercase)
        + "/B" + _rand(r, 8, string.ascii_uppercase) + "/" + _rand(r, 24),
        "discord-webhook": lambda: "https://discord.com/api/web" + "hooks/" + _rand(r, 18, string.digits) + "/"
        + _rand(r, 68, URLSAFE),
        "stripe-secret-key": lambda: "sk" + "_live_" + _rand(r, 24),
        "stripe-test-key": lambda: "sk" + "_test_" + _rand(r, 24),
        "sendgrid-api-key": lambda: "SG" + "." + _rand(r, 22, URLSAFE) + "." + _rand(r, 43, URLSAFE),
        "mailgun-api-key": lambda: "key" + "-" + _rand(r, 32, HEX),
        "anthropic-api-key": lambda: "sk-" + "ant-api03-" + _rand(r, 93, URLSAFE) + "AA",
        "openai-api-key": lambda: "sk-" + "proj-" + _rand(r, 74, URLSAFE) + "T3Blbk" + "FJ" + _rand(r, 74, URLSAFE),
        "huggingface-token": lambda: "hf" + "_" + _rand(r, 34, string.ascii_letters),
        "npm-token": lambda: "npm" + "_" + _rand(r, 36),
        "pypi-token": lambda: "pypi-" + "AgEIcHlwaS5vcmc" + _rand(r, 60, URLSAFE),
        "private-key": lambda: pem("RSA", r),
        "jwt": lambda: _b64url({"alg": "HS256", "typ": "JWT"}) + "."
        + _b64url({"sub": f"user-{r}", "iat": 1735689600, "scope": "admin"}) + "." + _rand(r, 43, URLSAFE),
        "database-url": lambda: "postgres://app:" + _rand(r, 18) + "@db-primary.prod.acme-corp.net:5432/app",
        "url-password": lambda: "https://deploy:" + _rand(r, 18) + "@git.acme-corp.net/team/repo.git",
        "azure-storage-connection-string": lambda: "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey="
        + _rand(r, 86, B64) + "==;EndpointSuffix=core.windows.net",
    }
    return makers[rule]()


def snippet(rule: str, seed: int = 0) -> tuple[str, str]:
    """(text, secret): a line of code holding the credential, and the secret part of it."""
    r = seed
    if rule == "aws-secret-access-key":
        value = _rand(r, 40, B64)
        return f'aws_secret_access_key = "{value}"\n', value
    if rule == "gcp-service-account-key":
        value = pem("", r)
        text = json.dumps({"type": "service_account", "project_id": "acme-prod", "private_key_id": _rand(r, 40, HEX),
                           "private_key": value, "client_email": "ci@acme-prod.iam.gserviceaccount.com"}, indent=2)
        return text + "\n", value
    if rule == "discord-bot-token":
        value = "M" + _rand(r, 25, URLSAFE) + "." + _rand(r, 6, URLSAFE) + "." + _rand(r, 38, URLSAFE)
        return f'const DISCORD_BOT_TOKEN = "{value}";\n', value
    if rule == "twilio-api-key":
        value = "SK" + _rand(r, 32, HEX)
        return f'twilio_client = Client("{value}", os.environ["TWILIO_SECRET"])\n', value
    if rule == "twilio-auth-token":
        value = _rand(r, 32, HEX)
        return f'TWILIO_AUTH_TOKEN = "{value}"\n', value
    if rule == "secret-guess":
        value = _rand(r, 28, ALNUM + "!#%")
        return f'DB_PASSWORD = "{value}"\n', value
    value = key(rule, seed)
    return f'const config = {{ credential: "{value}" }};\n', value


WHOLE_KEY_RULES = ("aws-access-key-id", "gcp-api-key", "github-token", "github-fine-grained-token", "gitlab-token",
                   "slack-token", "slack-webhook", "discord-webhook", "stripe-secret-key", "sendgrid-api-key",
                   "mailgun-api-key", "anthropic-api-key", "openai-api-key", "huggingface-token", "npm-token",
                   "pypi-token", "private-key", "jwt", "database-url", "url-password",
                   "azure-storage-connection-string")
CONTEXT_RULES = ("aws-secret-access-key", "gcp-service-account-key", "discord-bot-token", "twilio-api-key",
                 "twilio-auth-token")
