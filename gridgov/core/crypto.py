"""Field encryption for personal data: AES-256-GCM ciphertexts and keyed blind indexes (HMAC-SHA256).

Ciphertexts look like "gg1:<key id>:<base64(nonce + ciphertext)>", so a key rotation can tell which key wrote
a value. The key comes from GRIDGOV_FIELD_KEY (base64 of 32 bytes); without it a key is generated once
into var/field_key (demo and development only). The blind-index key is derived from it (HKDF), so one
secret protects both.
"""

from __future__ import annotations

import base64
import binascii
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


def _decode_key(value: str, name: str) -> bytes:
    key = base64.b64decode(value.strip())
    if len(key) != 32:
        raise ValueError(f"{name} must be the base64 of 32 bytes")
    return key


@lru_cache(maxsize=1)
def _master_key() -> bytes:
    value = os.environ.get("GRIDGOV_FIELD_KEY")
    if not value:
        path = settings.VAR_DIR / "field_key"
        if not path.exists():
            path.write_text(base64.b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        value = path.read_text().strip()
    return _decode_key(value, "GRIDGOV_FIELD_KEY")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _kid(master: bytes) -> str:
    return hashlib.sha256(master).hexdigest()[:8]


@lru_cache(maxsize=1)
def _keys() -> tuple[str, AESGCM, bytes]:
    master = _master_key()
    return _kid(master), AESGCM(_derive(master, b"gridgov field encryption")), _derive(master, b"gridgov blind index")


@lru_cache(maxsize=1)
def _old_keys() -> dict[str, AESGCM]:
    """Earlier keys (GRIDGOV_FIELD_KEYS_OLD, comma-separated), readable during and after a key rotation."""
    keys = {}
    for value in filter(None, (v.strip() for v in os.environ.get("GRIDGOV_FIELD_KEYS_OLD", "").split(","))):
        master = _decode_key(value, "GRIDGOV_FIELD_KEYS_OLD")
        keys[_kid(master)] = AESGCM(_derive(master, b"gridgov field encryption"))
    return keys


def current_key_id() -> str:
    return _keys()[0]


def key_id_of(value: str) -> str:
    return value.split(":", 2)[1] if value and value.count(":") >= 2 else ""


@lru_cache(maxsize=1)
def _index_hmac() -> hmac.HMAC:
    """The blind-index HMAC with its key already absorbed: copying it is cheaper than keying a new one (bulk
    imports compute millions)."""
    return hmac.new(_keys()[2], digestmod=hashlib.sha256)


def reset_keys() -> None:
    """Forget the cached keys (tests, key rotation)."""
    _master_key.cache_clear()
    _keys.cache_clear()
    _old_keys.cache_clear()
    _index_hmac.cache_clear()


def encrypt(value: str | None) -> str:
    if not value:
        return ""
    kid, aead, _ = _keys()
    nonce = os.urandom(12)
    token = binascii.b2a_base64(nonce + aead.encrypt(nonce, value.encode(), kid.encode()), newline=False)
    return f"{PREFIX}:{kid}:{token.decode()}"


def decrypt(value: str | None) -> str:
    if not value:
        return ""
    prefix, kid, token = value.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("not a gridgov ciphertext")
    current, aead, _ = _keys()
    if kid != current:
        aead = _old_keys().get(kid)
        if aead is None:
            raise ValueError(f"no key {kid} to decrypt with (set GRIDGOV_FIELD_KEYS_OLD)")
    raw = base64.b64decode(token)
    return aead.decrypt(raw[:12], raw[12:], kid.encode()).decode()


def normalise_phone(value: str) -> str:
    value = value or ""
    digits = value if value.isascii() and value.isdigit() else re.sub(r"\D", "", value)  # the usual case first
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def blind_index(value: str | None) -> str:
    """A keyed hash for exact lookup of an encrypted value (same input, same index; not reversible)."""
    if not value:
        return ""
    mac = _index_hmac().copy()
    mac.update(value.encode())
    return mac.hexdigest()


def mask_id(*, region: str, last4: str) -> str:
    """3205**********1234: the first four digits of the region and the last four, never more."""
    if not last4:
        return ""
    return f"{region[:4]}{'*' * 10}{last4}"


def mask_phone(value: str) -> str:
    """13912345678 → 139****5678"""
    if not value:
        return ""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
