"""Field encryption for personal data: AES-256-GCM ciphertexts and keyed blind indexes (HMAC-SHA256).

Ciphertexts look like "gg1:<key id>:<base64(nonce + ciphertext)>", so a key rotation can tell which key wrote
a value. The key comes from GRIDGOV_FIELD_KEY (base64 of 32 bytes); without it a key is generated once
into var/field_key (demo and development only). The blind-index key is derived from it (HKDF), so one
secret protects both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "gg1"


@lru_cache(maxsize=1)
def _master_key() -> bytes:
    value = os.environ.get("GRIDGOV_FIELD_KEY")
    if not value:
        path = settings.VAR_DIR / "field_key"
        if not path.exists():
            path.write_text(base64.b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        value = path.read_text().strip()
    key = base64.b64decode(value)
    if len(key) != 32:
        raise ValueError("GRIDGOV_FIELD_KEY must be the base64 of 32 bytes")
    return key


def _derive(info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(_master_key())


@lru_cache(maxsize=1)
def _keys() -> tuple[str, AESGCM, bytes]:
    kid = hashlib.sha256(_master_key()).hexdigest()[:8]
    return kid, AESGCM(_derive(b"gridgov field encryption")), _derive(b"gridgov blind index")


def reset_keys() -> None:
    """Forget the cached keys (tests, key rotation)."""
    _master_key.cache_clear()
    _keys.cache_clear()


def encrypt(value: str | None) -> str:
    if not value:
        return ""
    kid, aead, _ = _keys()
    nonce = os.urandom(12)
    token = base64.b64encode(nonce + aead.encrypt(nonce, value.encode(), kid.encode())).decode()
    return f"{PREFIX}:{kid}:{token}"


def decrypt(value: str | None) -> str:
    if not value:
        return ""
    prefix, kid, token = value.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("not a gridgov ciphertext")
    _, aead, _ = _keys()
    raw = base64.b64decode(token)
    return aead.decrypt(raw[:12], raw[12:], kid.encode()).decode()


def normalise_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def blind_index(value: str | None) -> str:
    """A keyed hash for exact lookup of an encrypted value (same input, same index; not reversible)."""
    if not value:
        return ""
    _, _, index_key = _keys()
    return hmac.new(index_key, value.encode(), hashlib.sha256).hexdigest()


def mask_phone(value: str) -> str:
    """13912345678 → 139****5678"""
    if not value:
        return ""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
