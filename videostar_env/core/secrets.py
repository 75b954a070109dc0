"""Secrets in options: which option names hold them, and copies of options with their values hidden."""

from __future__ import annotations

import re
from typing import Any

SECRET_WORDS = ("key", "token", "secret", "password")  # option names ending in these hold values never shown


def is_secret_name(name: Any) -> bool:
    """Whether an option name looks like a secret's: its last word ends in a SECRET_WORDS word, plural or not
    (api_key, hf_token, apikey, api_keys), unlike token_budget or num_keyframes."""
    if not isinstance(name, str):
        return False
    last = re.split(r"[\W_]+", name.lower().strip("_- "))[-1]
    return last.removesuffix("s").endswith(SECRET_WORDS)


def redact_secrets(value: Any) -> Any:
    """A copy of nested options with the value of every secret-looking key replaced by '***'."""
    if isinstance(value, dict):
        return {k: "***" if is_secret_name(k) and v else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_secrets(v) for v in value)
    return value
