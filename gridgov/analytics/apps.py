from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "gridgov.analytics"
    label = "analytics"
    verbose_name = _("Governance effectiveness (analytics)")

    def ready(self):
        from . import signals  # noqa: F401 - marks changed cases for the rollups
