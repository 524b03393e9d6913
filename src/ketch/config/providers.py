"""The providers ketch speaks to, and the environment variables that configure each: data only.

Both the Wire (providers/) and the Guard (security/credentials.py, which stores one key per
provider) read this table, so it lives in Settings, which every part may read.
"""

from __future__ import annotations

PROVIDERS = ("anthropic", "openai")

# Same names and meanings as the official SDKs, so existing shell setups just work.
API_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
BASE_URL_ENV = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}
# OpenAI's base URL includes `/v1` (as in its SDK); Anthropic's does not.
DEFAULT_BASE_URL = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
