"""People: users with a role and a scope, departments with their members and served areas, API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core.models import BaseModel

from .choices import DepartmentKind, Role


class Department(BaseModel):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices,
                            default=DepartmentKind.GOVERNMENT)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    areas = models.ManyToManyField("geo.Area", verbose_name=_("areas served"), blank=True,
                                   related_name="departments")
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person using gridgov. `area` is the data scope; grid members are scoped to their grids."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.RESIDENT,
                            db_index=True)
    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    area = models.ForeignKey("geo.Area", verbose_name=_("scope area"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="users")
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="members")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    def compute_scope_paths(self) -> list[str] | None:
        """The materialised paths this user may see (None: everything). Used by gridgov.core.scope."""
        if self.is_admin_role:
            return None
        if self.role == Role.RESIDENT:
            return []  # a resident sees their own reports (by reporter), never an area's governance data
        if self.role == Role.GRID_MEMBER:
            return sorted(self.grids.values_list("path", flat=True))
        if self.area_id:
            return [self.area.path]
        if self.role == Role.HANDLER and self.department_id:
            return sorted(self.department.areas.values_list("path", flat=True))
        return []


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once at creation."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
