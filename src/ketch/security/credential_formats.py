"""The credential formats their issuers made recognisable: one list for the whole project.

`ketch audit` looks for them in artifacts (audit.checks.secrets); the child environment and the
redactor use them to know a credential by its value whatever its variable is called
(security.secret_env). Each format carries literal keywords, so a scanner can find candidates with
`bytes.find` at C speed and run the regex only near a hit.

Regexes are compiled on first use (`formats()`), never at import: the child environment is built
on every command, and start-up is measured in milliseconds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

Rank = Literal["critical", "high", "low"]

_TOKEN = r"A-Za-z0-9_\-"


@dataclass(frozen=True)
class CredentialFormat:
    """One issuer's format. `pattern`'s group 1, when it has one, is the secret itself (else the match).

    `keywords`: literals, one of which every match contains (case as written), for the prefilter.
    `near`: how many bytes around a keyword the regex must look (before, after) — formats told by
    a nearby name (an AWS secret key next to `aws_secret_access_key`) look wider.
    `value_prefixes`: a value that starts with one of these and goes on with 12 or more token
    characters is taken for a credential (secret_env's lenient check: an environment value has
    no context, so a shorter token of the right issuer is still not passed to a child).
    `rank`: critical for live keys to cloud, payment, model-provider, VCS and package-registry
    accounts and for private keys; high for the rest; low for test-mode keys.
    """

    rule: str
    name: str
    issuer: str
    keywords: tuple[str, ...]
    pattern: str
    fix: str
    enables: str
    rank: Rank = "critical"
    near: tuple[int, int] = (0, 200)
    value_prefixes: tuple[str, ...] = ()

    @functools.cached_property
    def text_regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @functools.cached_property
    def bytes_regex(self) -> re.Pattern[bytes]:
        return re.compile(self.pattern.encode())

    @functools.cached_property
    def loose_bytes_regex(self) -> re.Pattern[bytes]:
        """Without the checks of the characters beside the key: in binary data (a `.pyc`) they
        are length and type tags, which may happen to be letters."""
        loose = re.sub(r"^\(\?<!\[[^\]]*\]\)", "", self.pattern)
        return re.compile(re.sub(r"\(\?!\[[^\]]*\]\)$", "", loose).encode())


_ROTATE = "Rotate it first (unpublishing does not un-leak: mirrors and caches keep it), then remove it: "

_FORMATS: tuple[CredentialFormat, ...] = (
    CredentialFormat(
        "aws-access-key-id", "AWS access key id", "Amazon Web Services", ("AKIA", "ASIA"),
        r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z2-7]{16})(?![A-Za-z0-9])",
        _ROTATE + "deactivate and delete it in the AWS console: IAM → Users → Security credentials → Access keys.",
        "with its secret key, read and write to the AWS account's resources the key's IAM user may use; "
        "alone, it names the account",
        value_prefixes=("AKIA", "ASIA")),
    CredentialFormat(
        "aws-secret-access-key", "AWS secret access key", "Amazon Web Services",
        ("aws_secret", "AWS_SECRET", "SecretAccessKey", "secretAccessKey", "secret_access_key", "SECRET_ACCESS_KEY"),
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"']?\s*(?::|=|=>|,)\s*[\"']?"
        r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        _ROTATE + "delete the access key in the AWS console: IAM → Users → Security credentials → Access keys.",
        "read and write to the AWS account's resources the key's IAM user may use", near=(0, 120)),
    CredentialFormat(
        "gcp-service-account-key", "Google Cloud service-account private key", "Google Cloud", ('"private_key"',),
        r"\"private_key\"\s*:\s*\"(-----BEGIN PRIVATE KEY-----(?:\\n|\n)[A-Za-z0-9+/=\\\n\r]{64,}?"
        r"-----END PRIVATE KEY-----)",
        _ROTATE + "delete the key in the Google Cloud console: IAM → Service accounts → Keys.",
        "act as the service account: everything its IAM roles allow in the Google Cloud project",
        near=(0, 8000)),
    CredentialFormat(
        "gcp-api-key", "Google API key", "Google Cloud", ("AIza",),
        r"(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_\-]{35})(?![A-Za-z0-9_-])",
        _ROTATE + "regenerate or restrict it in the Google Cloud console: APIs & Services → Credentials.",
        "call the Google APIs the key is enabled for, billed to its project (browser keys restricted by "
        "referrer are meant to be public; server keys are not)", rank="high"),
    CredentialFormat(
        "azure-storage-connection-string", "Azure storage account key", "Microsoft Azure", ("AccountKey=",),
        r"AccountKey=([A-Za-z0-9+/]{86}==)",
        _ROTATE + "rotate the account key in the Azure portal: Storage account → Security + networking → Access keys.",
        "read, write and delete everything in the storage account (blobs, queues, tables, files)"),
    CredentialFormat(
        "github-token", "GitHub token", "GitHub", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])",
        _ROTATE + "revoke it on GitHub: Settings → Developer settings → Personal access tokens (or the app's tokens).",
        "act on GitHub as its owner within the token's scopes: read private repositories, push code, "
        "publish releases",
        value_prefixes=("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    CredentialFormat(
        "github-fine-grained-token", "GitHub fine-grained personal access token", "GitHub", ("github_pat_",),
        r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])",
        _ROTATE + "revoke it on GitHub: Settings → Developer settings → Fine-grained tokens.",
        "act on GitHub as its owner on the repositories and permissions the token was granted",
        value_prefixes=("github_pat_",)),
    CredentialFormat(
        "gitlab-token", "GitLab personal access token", "GitLab", ("glpat-",),
        r"(glpat-[A-Za-z0-9_\-]{20,})(?![A-Za-z0-9_-])",
        _ROTATE + "revoke it in GitLab: User settings → Access tokens.",
        "act on GitLab as its owner within the token's scopes", value_prefixes=("glpat-",)),
    CredentialFormat(
        "slack-token", "Slack token", "Slack", ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
        r"(?<![A-Za-z0-9])(xox[abposr]-[0-9]{6,}-[0-9A-Za-z\-]{10,})(?![A-Za-z0-9-])",
        _ROTATE + "revoke it at api.slack.com → Your apps → OAuth & Permissions, or with auth.revoke.",
        "read and post in the Slack workspace as the bot or user within the token's scopes", rank="high",
        value_prefixes=("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-")),
    CredentialFormat(
        "slack-webhook", "Slack incoming webhook", "Slack", ("hooks.slack.com/",),
        r"(hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,}/[AB][A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
        _ROTATE + "delete the webhook in the Slack app's Incoming Webhooks page and make a new one.",
        "post messages into the webhook's Slack channel", rank="high"),
    CredentialFormat(
        "discord-webhook", "Discord webhook", "Discord", ("/api/webhooks/",),
        r"(discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,70})",
        _ROTATE + "delete the webhook in Discord: Server settings → Integrations → Webhooks.",
        "post messages into the webhook's Discord channel", rank="high"),
    CredentialFormat(
        "discord-bot-token", "Discord bot token", "Discord", ("discord", "Discord", "DISCORD"),
        r"(?<![A-Za-z0-9_-])([MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40})(?![A-Za-z0-9_-])",
        _ROTATE + "reset the token in the Discord developer portal: Applications → Bot → Reset token.",
        "run the bot: read and post wherever it is a member", rank="high", near=(300, 300)),
    CredentialFormat(
        "stripe-secret-key", "Stripe live secret key", "Stripe", ("sk_live_", "rk_live_"),
        r"(?<![A-Za-z0-9_])([sr]k_live_[0-9A-Za-z]{20,99})(?![A-Za-z0-9_])",
        _ROTATE + "roll it in the Stripe dashboard: Developers → API keys.",
        "move money: charges, refunds, payouts and customer data of the Stripe account"),
    CredentialFormat(
        "stripe-test-key", "Stripe test-mode secret key", "Stripe", ("sk_test_", "rk_test_"),
        r"(?<![A-Za-z0-9_])([sr]k_test_[0-9A-Za-z]{20,99})(?![A-Za-z0-9_])",
        "Roll it in the Stripe dashboard (Developers → API keys, test mode) and remove it.",
        "use the Stripe account's test mode only: no real money, but its test data", rank="low"),
    CredentialFormat(
        "twilio-api-key", "Twilio API key", "Twilio", ("twilio", "Twilio", "TWILIO"),
        r"(?<![A-Za-z0-9_])(SK[0-9a-f]{32})(?![A-Za-z0-9_])",
        _ROTATE + "delete it in the Twilio console: Account → API keys & tokens.",
        "send messages and place calls billed to the Twilio account, read its logs", rank="high", near=(300, 300)),
    CredentialFormat(
        "twilio-auth-token", "Twilio auth token", "Twilio", ("twilio", "Twilio", "TWILIO"),
        r"(?i:twilio)[A-Za-z_.\-]{0,20}(?i:auth)?_?(?i:token)[\"']?\s*(?::|=)\s*[\"']?([0-9a-f]{32})(?![A-Za-z0-9])",
        _ROTATE + "rotate the auth token in the Twilio console: Account → API keys & tokens.",
        "everything the Twilio account can do: messages, calls, numbers, sub-accounts", rank="high", near=(0, 120)),
    CredentialFormat(
        "sendgrid-api-key", "SendGrid API key", "Twilio SendGrid", ("SG.",),
        r"(?<![A-Za-z0-9_])(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?![A-Za-z0-9_-])",
        _ROTATE + "delete it in SendGrid: Settings → API Keys.",
        "send email as the account's verified senders, read its contacts", rank="high"),
    CredentialFormat(
        "mailgun-api-key", "Mailgun API key", "Mailgun", ("key-",),
        r"(?<![A-Za-z0-9])(key-[0-9a-f]{32})(?![A-Za-z0-9])",
        _ROTATE + "rotate it in Mailgun: Settings → API Security.",
        "send email from the account's domains and read its logs", rank="high", near=(1, 40)),
    CredentialFormat(
        "anthropic-api-key", "Anthropic API key", "Anthropic", ("sk-ant-",),
        r"(sk-ant-(?:api03|admin01)-[A-Za-z0-9_\-]{80,120})(?![A-Za-z0-9_-])",
        _ROTATE + "delete it in the Anthropic Console: Settings → API keys.",
        "call Claude billed to the organisation (admin keys: manage its members and keys)",
        value_prefixes=("sk-ant-",)),
    CredentialFormat(
        "openai-api-key", "OpenAI API key", "OpenAI", ("sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"),
        r"(?<![A-Za-z0-9_-])(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})"
        r"(?![A-Za-z0-9_-])",
        _ROTATE + "delete it at platform.openai.com → API keys.",
        "call OpenAI's models billed to the project, read its files and assistants", near=(60, 200),
        value_prefixes=("sk-",)),
    CredentialFormat(
        "huggingface-token", "Hugging Face token", "Hugging Face", ("hf_",),
        r"(?<![A-Za-z0-9_])(hf_[A-Za-z]{34})(?![A-Za-z0-9_])",
        _ROTATE + "invalidate it at huggingface.co → Settings → Access Tokens.",
        "read the owner's private models and datasets; with write scope, replace them", value_prefixes=("hf_",)),
    CredentialFormat(
        "npm-token", "npm access token", "npm", ("npm_",),
        r"(?<![A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])",
        _ROTATE + "revoke it with `npm token revoke` or at npmjs.com → Access Tokens.",
        "publish new versions of every package its owner can publish (a supply-chain attack)",
        value_prefixes=("npm_",)),
    CredentialFormat(
        "pypi-token", "PyPI API token", "PyPI", ("pypi-AgEIcHlwaS5vcmc",),
        r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
        _ROTATE + "remove it at pypi.org → Account settings → API tokens.",
        "upload new releases of the owner's projects (a supply-chain attack)", value_prefixes=("pypi-",)),
    CredentialFormat(
        "private-key", "Private key", "", ("PRIVATE KEY-----", "PRIVATE KEY BLOCK-----"),
        r"(-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,8000}?"
        r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)",
        _ROTATE + "make a new key pair, replace the public key wherever it is trusted (servers, "
        "certificates, deploy keys, signing), then revoke the old one.",
        "impersonate the key's owner: log in where its public key is trusted, decrypt what was sent to it, "
        "sign as it", near=(40, 8100)),
    CredentialFormat(
        "jwt", "JSON Web Token", "", ("eyJ",),
        r"(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})(?![A-Za-z0-9_-])",
        _ROTATE + "revoke the session or rotate the signing key of its issuer; remove it.",
        "act as the token's subject until it expires (its claims say for what and how long)", rank="high",
        near=(1, 4000)),
    CredentialFormat(
        "database-url", "Database URL with a password", "",
        ("postgres://", "postgresql://", "mysql://", "mongodb://", "mongodb+srv://", "redis://", "rediss://",
         "amqp://", "amqps://"),
        r"(?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|rediss?|amqps?)://[^:@/\s\"'`<>]*:([^@/\s\"'`<>]+)@[A-Za-z0-9._\-]+",
        _ROTATE + "change the database user's password, then remove the URL (read it from the environment).",
        "connect to the database as that user: read and change its data", rank="high", near=(0, 300)),
    CredentialFormat(
        "url-password", "URL with a password", "", ("://",),
        r"[a-z][a-z0-9+.\-]*://[^:@/\s\"'`<>]+:([^@/\s\"'`<>]+)@[A-Za-z0-9._\-]+",
        _ROTATE + "change the account's password, then remove it from the URL.",
        "log in to the URL's host as that user", rank="high", near=(30, 300)),
)


def formats() -> tuple[CredentialFormat, ...]:
    """Every format, most specific first: a scanner keeps the first format to claim a span."""
    return _FORMATS


@functools.cache
def _lenient_prefix() -> re.Pattern[str]:
    prefixes = sorted({p for f in _FORMATS for p in f.value_prefixes}, key=len, reverse=True)
    return re.compile(f"^(?:{'|'.join(map(re.escape, prefixes))})[{_TOKEN}]{{12,}}|^eyJ[{_TOKEN}]{{8,}}\\.eyJ")


def looks_like_credential(value: str) -> bool:
    """Whether an environment value is a credential by its shape alone (security.secret_env).

    Lenient on purpose: a value that starts like an issuer's token is withheld even when it is
    shorter than the real format, and any format found inside the value counts.
    """
    if _lenient_prefix().search(value):
        return True
    for fmt in _FORMATS:
        if any(k in value for k in fmt.keywords) and fmt.text_regex.search(value):
            return True
    return False
