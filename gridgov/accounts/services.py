"""Writes on people: users, grid membership, departments and API tokens. Each leaves an audit entry."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from gridgov.core.audit import audit_log
from gridgov.core.errors import InvalidInput, NotFound, Unauthorized

from .models import ApiToken, User
from .tokens import token_generate, token_hash


class LockedOut(Unauthorized):
    status = 429
    code = "locked_out"


# A token meant to last longer than this should be replaced by one without an expiry, consciously.
MAX_TOKEN_LIFETIME = timedelta(days=3660)


def token_create(*, user: User, name: str, by: User | None = None, expires_at=None) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A token needs a name.", code="invalid", details=[{"field": "name"}])
    if len(name) > 100 or "\x00" in name:
        raise InvalidInput("A token name has at most 100 characters.", code="invalid", details=[{"field": "name"}])
    if expires_at is not None:
        now = timezone.now()
        if timezone.is_naive(expires_at):
            raise InvalidInput("The expiry needs a time zone.", code="invalid_expiry",
                               details=[{"field": "expires_at"}])
        if expires_at <= now:
            raise InvalidInput("The expiry must be in the future.", code="invalid_expiry",
                               details=[{"field": "expires_at"}])
        if expires_at > now + MAX_TOKEN_LIFETIME:
            raise InvalidInput("The expiry is at most ten years away.", code="invalid_expiry",
                               details=[{"field": "expires_at"}])
    plain = token_generate()
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=plain[:10],
                                        key_hash=token_hash(plain), expires_at=expires_at)
        audit_log(actor=by or user, action="token.create", obj=token,
                  after={"name": token.name, "user": user.username, "prefix": token.prefix,
                         "expires_at": token.expires_at})
    return token, plain


def token_issue_for_credentials(*, request, username: str, password: str, name: str) -> tuple[ApiToken, str]:
    """`POST /api/v1/auth/token`: check the password (with lockout) and issue a token.

    A wrong username and a wrong password give the same answer, so neither is revealed.
    """
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut("Too many failed attempts; try again later.")
    if user is None or not user.is_active:
        raise Unauthorized("Invalid credentials.", code="invalid_credentials")
    return token_create(user=user, name=name or "API", by=user)


def token_revoke(*, token_id: int, by: User) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=by).first()
        if token is None:
            raise NotFound("No such token.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_log(actor=by, action="token.revoke", obj=token, after={"revoked_at": token.revoked_at})
    return token
