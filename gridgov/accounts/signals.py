"""Logins, logouts and failed logins go into the audit log (Django's auth signals are the only hook)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from gridgov.core.audit import audit_log


def _ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "")[:45] if request is not None else ""


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    audit_log(actor=user, action="auth.login", obj=user, ip=_ip(request))


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_log(actor=user, action="auth.logout", obj=user, ip=_ip(request))


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # The username tried is kept (not the password); it may not be an existing account. Attempts while
    # locked out are not written: they would let anyone grow the append-only log at will.
    if request is not None and getattr(request, "axes_locked_out", False):
        return
    audit_log(actor=None, action="auth.login_failed", object_type="accounts.user",
              object_repr=str(credentials.get("username", ""))[:150], ip=_ip(request))
