"""API token hashing: tokens are random, only their SHA-256 is stored."""

import hashlib
import secrets

TOKEN_PREFIX = "ggv_"


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
