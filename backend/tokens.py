"""Bearer tokens as the settings read them (`COURIER_API_TOKENS`, `COURIER_API_TOKENS_FILE`).

Every error names a bad token by its place, never by its text: settings errors end up in logs.
"""

from __future__ import annotations

import json
from pathlib import Path

TOKEN_MIN = 16  # a shorter bearer token could be guessed


def split_tokens(value: object) -> object:
    """Comma-separated as an operator writes them; a JSON list as other list settings."""
    if not isinstance(value, str):
        return value
    if not value.strip().startswith("["):
        return value.split(",")
    try:
        return json.loads(value)
    except ValueError:
        raise ValueError("not a JSON list (got text starting '[')") from None


def check_tokens(tokens: list[str]) -> list[str]:
    """The tokens, stripped, without empty ones; ValueError for one too short to be safe."""
    kept = [token.strip() for token in tokens if token.strip()]
    for place, token in enumerate(kept, 1):
        if len(token) < TOKEN_MIN or any(c.isspace() or c == "," for c in token):
            rule = f"at least {TOKEN_MIN} characters, no spaces or commas"
            got = f"got {len(token)} characters"
            raise ValueError(f"token {place} of {len(kept)} is not {rule} ({got})")
    return kept


def read_token_file(path: Path) -> list[str]:
    """One token a line; blank lines and `#` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it ({exc.__class__.__name__})") from None
    return check_tokens([line.split("#", 1)[0] for line in lines])
