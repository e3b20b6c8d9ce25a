from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    GRID_MEMBER = "grid_member", _("Grid member")
    DISPATCHER = "dispatcher", _("Dispatcher")
    HANDLER = "handler", _("Department handler")
    MEDIATOR = "mediator", _("Mediator")
    PARTY_SECRETARY = "party_secretary", _("Party secretary")
    LEADER = "leader", _("Leader")
    ADMIN = "admin", _("Administrator")


class DepartmentKind(models.TextChoices):
    GOVERNMENT = "government", _("Government department")
    UTILITY = "utility", _("Public utility")
    PROPERTY = "property", _("Property management company")
    SOCIAL = "social", _("Social organisation")
